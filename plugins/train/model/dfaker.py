"""dfaker: 64 px in, 128 px out, with residual decoders and a learned mask by default.

Encoder as the original (to 8x8x512). Each decoder upscales four times (8 -> 128) with two residual blocks
after each of the first three upscales, which keeps skin texture sharper than plain upscales.
"""
from lib.model.network import Network
from lib.registry import register


@register("train.model", "dfaker")
class Dfaker(Network):
    defaults = {"width": 1.0, "dense": 1024}
    input_size, output_size = 64, 128
    learns_mask_default = True

    def build(self, s):
        import keras
        from lib.model.blocks import dense_to_grid, downscale, outputs, residual, sub_model, upscale, width
        w = lambda n: width(n, s["width"])  # noqa: E731 - channel counts scaled by the width setting

        face = keras.Input((64, 64, 3))
        x = face
        for filters in (128, 256, 512, 1024):
            x = downscale(x, w(filters))
        x = dense_to_grid(x, s["dense"], 4, w(1024))
        x = upscale(x, w(512))
        self.encoder = sub_model(face, x, "encoder")

        def decoder(name):
            code = keras.Input((8, 8, w(512)))
            y = code
            for filters in (512, 256, 128):
                y = upscale(y, w(filters))
                y = residual(residual(y))
            y = upscale(y, w(64))
            return sub_model(code, outputs(y, self.learns_mask), name)

        self.decoders = {side: decoder(f"decoder_{side}") for side in "ab"}
