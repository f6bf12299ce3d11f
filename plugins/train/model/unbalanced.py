"""unbalanced: 128 px with a light decoder for A and a heavy one for B.

In a swap only B's decoder draws the output face, so it gets the capacity (residual blocks, wider layers),
while A's decoder only has to keep the shared encoder honest. Encoder: four downscales (64 -> 512) to 8x8,
a 512-unit bottleneck widened to 8x8x256 and upscaled to 16x16.
"""
from lib.model.network import Network
from lib.registry import register


@register("train.model", "unbalanced")
class Unbalanced(Network):
    defaults = {"width": 1.0, "dense": 512}
    input_size = output_size = 128

    def build(self, s):
        import keras
        from lib.model.blocks import dense_to_grid, downscale, outputs, residual, sub_model, upscale, width
        w = lambda n: width(n, s["width"])  # noqa: E731 - channel counts scaled by the width setting

        face = keras.Input((128, 128, 3))
        x = face
        for filters in (64, 128, 256, 512):
            x = downscale(x, w(filters))
        x = dense_to_grid(x, s["dense"], 8, w(256))
        x = upscale(x, w(256))
        self.encoder = sub_model(face, x, "encoder")

        def decoder(name, filters, blocks):
            code = keras.Input((16, 16, w(256)))
            y = code
            for n in filters:
                y = upscale(y, w(n))
                for _ in range(blocks):
                    y = residual(y)
            return sub_model(code, outputs(y, self.learns_mask), name)

        self.decoders = {"a": decoder("decoder_a", (256, 128, 64), 0),
                         "b": decoder("decoder_b", (384, 192, 96), 1)}
