"""lightweight: the original model slimmed down for small machines. 64 px in, ~33 M parameters
(40% of the original model); 64 px out, or 128 px with -O output_size=128 (one more upscale per decoder).

Encoder: three strided convolutions (128 -> 512) to 8x8, a 512-unit dense bottleneck widened to 4x4x512 and
upscaled to 8x8. Decoder: three pixel-shuffle upscales to 64x64 (a fourth to 128x128).
"""
from lib.errors import FaceswapError
from lib.model.network import Network
from lib.registry import register


@register("train.model", "lightweight")
class Lightweight(Network):
    defaults = {"width": 1.0, "dense": 512, "output_size": 64}
    input_size = 64

    def build(self, s):
        import keras
        from lib.model.blocks import dense_to_grid, downscale, outputs, sub_model, upscale, width
        w = lambda n: width(n, s["width"])  # noqa: E731 - channel counts scaled by the width setting
        if s["output_size"] not in (64, 128):
            raise FaceswapError(f"lightweight: output_size={s['output_size']} must be 64 or 128")
        self.output_size = s["output_size"]

        face = keras.Input((64, 64, 3))
        x = face
        for filters in (128, 256, 512):
            x = downscale(x, w(filters))
        x = dense_to_grid(x, s["dense"], 4, w(512))
        x = upscale(x, w(256))
        self.encoder = sub_model(face, x, "encoder")

        def decoder(name):
            code = keras.Input((8, 8, w(256)))
            y = code
            for filters in (128, 64, 32, 16)[:3 if self.output_size == 64 else 4]:
                y = upscale(y, w(filters))
            return sub_model(code, outputs(y, self.learns_mask), name)

        self.decoders = {side: decoder(f"decoder_{side}") for side in "ab"}
