"""dfl-h128: DeepFaceLab's H128. 128 px faces, a 512-unit bottleneck on an 8x8 grid.

Encoder: four strided convolutions (128 -> 1024) to 8x8, dense 512, widened to 8x8x512, upscaled to 16x16.
Decoder: three pixel-shuffle upscales (512, 256, 128 filters) to 128x128.
"""
from lib.model.network import Network
from lib.registry import register


@register("train.model", "dfl-h128")
class DflH128(Network):
    defaults = {"width": 1.0, "dense": 512}
    input_size = output_size = 128

    def build(self, s):
        import keras
        from lib.model.blocks import dense_to_grid, downscale, outputs, sub_model, upscale, width
        w = lambda n: width(n, s["width"])  # noqa: E731 - channel counts scaled by the width setting

        face = keras.Input((128, 128, 3))
        x = face
        for filters in (128, 256, 512, 1024):
            x = downscale(x, w(filters))
        x = dense_to_grid(x, s["dense"], 8, w(512))
        x = upscale(x, w(512))
        self.encoder = sub_model(face, x, "encoder")

        def decoder(name):
            code = keras.Input((16, 16, w(512)))
            y = code
            for filters in (512, 256, 128):
                y = upscale(y, w(filters))
            return sub_model(code, outputs(y, self.learns_mask), name)

        self.decoders = {side: decoder(f"decoder_{side}") for side in "ab"}
