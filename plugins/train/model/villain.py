"""villain: a heavy 128 px model for detail, with residual blocks all through encoder and decoders.

Encoder: a wide first convolution, then four downscales (128 -> 1024) each followed by a residual block
(128 -> 8), a 1024-unit dense bottleneck to 4x4x1024, upscaled to 8x8. Decoder: four upscales to 128 px,
each followed by a residual block. Needs a lot of memory and time: a GPU model.
"""
from lib.model.network import Network
from lib.registry import register


@register("train.model", "villain")
class Villain(Network):
    defaults = {"width": 1.0, "dense": 1024}
    input_size = output_size = 128

    def build(self, s):
        import keras
        from lib.model.blocks import (conv, dense_to_grid, downscale, leaky_relu, outputs, residual, sub_model,
                                       upscale, width)
        w = lambda n: width(n, s["width"])  # noqa: E731 - channel counts scaled by the width setting

        face = keras.Input((128, 128, 3))
        x = leaky_relu(conv(face, w(128), 5))
        for filters in (128, 256, 512, 1024):
            x = residual(downscale(x, w(filters)))
        x = dense_to_grid(x, s["dense"], 4, w(1024))
        x = upscale(x, w(512))
        self.encoder = sub_model(face, x, "encoder")

        def decoder(name):
            code = keras.Input((8, 8, w(512)))
            y = code
            for filters in (512, 256, 128, 64):
                y = residual(upscale(y, w(filters)))
            return sub_model(code, outputs(y, self.learns_mask), name)

        self.decoders = {side: decoder(f"decoder_{side}") for side in "ab"}
