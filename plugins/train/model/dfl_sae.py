"""dfl-sae: DeepFaceLab's SAE, any size (multiple of 16), in two variants.

``variant=df``: the classic layout, shared encoder with a dense bottleneck, one decoder per identity.
``variant=liae``: the encoder has no bottleneck; two intermediates (``ab`` shared, ``b`` for B only) and one
decoder: A is decoded from [ab, ab], B from [b, ab], so the swap A>B reads A's face through B's intermediate.
Settings: size (default 128), ae_dims (bottleneck, 512), e_dims (encoder width, 42), d_dims (decoder, 21).
Decoders upscale three times with a residual block after each.
"""
from lib.errors import FaceswapError
from lib.model.network import Network
from lib.registry import register


@register("train.model", "dfl-sae")
class DflSae(Network):
    defaults = {"size": 128, "variant": "df", "ae_dims": 512, "e_dims": 42, "d_dims": 21}

    def build(self, s):
        import keras
        from lib.model.blocks import dense_to_grid, downscale, outputs, residual, sub_model, upscale
        size, variant, e, d, ae = s["size"], s["variant"], s["e_dims"], s["d_dims"], s["ae_dims"]
        if size % 16 or not 64 <= size <= 512:
            raise FaceswapError(f"dfl-sae: size={size} must be a multiple of 16 from 64 to 512")
        if variant not in ("df", "liae"):
            raise FaceswapError(f"dfl-sae: variant={variant} must be df or liae")
        self.input_size = self.output_size = size
        low = size // 16

        face = keras.Input((size, size, 3))
        x = face
        for mult in (1, 2, 4, 8):
            x = downscale(x, e * mult)
        if variant == "df":
            x = upscale(dense_to_grid(x, ae, low, ae), ae)
        self.encoder = sub_model(face, x, "encoder")

        def intermediate(name):
            code = keras.Input(self.encoder.output.shape[1:])
            return sub_model(code, upscale(dense_to_grid(code, ae, low, ae * 2), ae), name)

        def decoder(name, channels):
            code = keras.Input((low * 2, low * 2, channels))
            y = code
            for mult in (8, 4, 2):
                y = residual(upscale(y, d * mult))
            return sub_model(code, outputs(y, self.learns_mask), name)

        if variant == "df":
            self.decoders = {side: decoder(f"decoder_{side}", ae) for side in "ab"}
        else:
            self.inters = {"ab": intermediate("inter_ab"), "b": intermediate("inter_b")}
            self.decoder = decoder("decoder", ae * 2)

    def forward(self, x, identity):
        if self.settings["variant"] == "df":
            return super().forward(x, identity)
        from keras import layers
        code = self.encoder(x)
        shared = self.inters["ab"](code)
        own = shared if identity == "a" else self.inters["b"](code)
        return self.decoder(layers.Concatenate()([own, shared]))
