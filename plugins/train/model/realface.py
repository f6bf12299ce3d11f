"""realface: 64 px in, a larger face out (output_size 64, 128 or 256; default 128).

Encoder: four downscales (128 -> 1024) with a residual block after the second and third, a 512-unit dense
bottleneck widened to 4x4x1024 and upscaled to 8x8. Decoder: residual upscales from 8x8 to output_size,
filters halving each time, so the network learns to add detail the 64 px input does not have.
"""
from lib.errors import FaceswapError
from lib.model.network import Network
from lib.registry import register


@register("train.model", "realface")
class RealFace(Network):
    defaults = {"width": 1.0, "dense": 512, "output_size": 128}
    input_size = 64

    def build(self, s):
        import keras
        from lib.model.blocks import dense_to_grid, downscale, outputs, residual, sub_model, upscale, width
        w = lambda n: width(n, s["width"])  # noqa: E731 - channel counts scaled by the width setting
        if s["output_size"] not in (64, 128, 256):
            raise FaceswapError(f"realface: output_size={s['output_size']} must be 64, 128 or 256")
        self.output_size = s["output_size"]

        face = keras.Input((64, 64, 3))
        x = face
        for i, filters in enumerate((128, 256, 512, 1024)):
            x = downscale(x, w(filters))
            x = residual(x) if i in (1, 2) else x
        x = dense_to_grid(x, s["dense"], 4, w(1024))
        x = upscale(x, w(512))
        self.encoder = sub_model(face, x, "encoder")

        def decoder(name):
            code = keras.Input((8, 8, w(512)))
            y, filters, side = code, 512, 8
            while side < self.output_size:
                y = residual(upscale(y, w(filters)))
                filters, side = max(64, filters // 2), side * 2
            return sub_model(code, outputs(y, self.learns_mask), name)

        self.decoders = {side: decoder(f"decoder_{side}") for side in "ab"}
