"""original: the first deepfakes model. 64 px faces, one shared encoder, one decoder per identity.

Encoder: four strided convolutions (128 -> 1024 filters) squeeze the face to 4x4, a dense bottleneck of
1024 units forces a compact, identity-free code, which is widened and upscaled once to 8x8x512.
Decoder: three pixel-shuffle upscales back to 64x64 and a sigmoid RGB layer (~82 M parameters in all).
"""
from lib.model.network import Network
from lib.registry import register


@register("train.model", "original")
class Original(Network):
    defaults = {"width": 1.0, "dense": 1024}
    input_size = output_size = 64

    def build(self, s):
        import keras
        from lib.model.blocks import dense_to_grid, downscale, outputs, sub_model, upscale, width
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
            for filters in (256, 128, 64):
                y = upscale(y, w(filters))
            return sub_model(code, outputs(y, self.learns_mask), name)

        self.decoders = {side: decoder(f"decoder_{side}") for side in "ab"}
