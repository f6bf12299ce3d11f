"""iae: intermediate auto-encoder. 64 px; one encoder, one decoder, identity lives in the middle.

The encoder's flat code goes through three intermediate dense layers: one per identity and one shared.
A face of identity X is decoded from [intermediate X, shared]. The single shared decoder keeps lighting
and pose consistent between the sides; swapping only exchanges the identity intermediate.
"""
from lib.model.network import Network
from lib.registry import register


@register("train.model", "iae")
class IAE(Network):
    defaults = {"width": 1.0, "dense": 1024}
    input_size = output_size = 64

    def build(self, s):
        import keras
        from keras import layers
        from lib.model.blocks import downscale, outputs, sub_model, upscale, width
        w = lambda n: width(n, s["width"])  # noqa: E731 - channel counts scaled by the width setting

        face = keras.Input((64, 64, 3))
        x = face
        for filters in (128, 256, 512, 1024):
            x = downscale(x, w(filters))
        self.encoder = sub_model(face, layers.Flatten()(x), "encoder")

        def intermediate(name):
            code = keras.Input(self.encoder.output.shape[1:])
            y = layers.Dense(s["dense"])(code)
            y = layers.Dense(4 * 4 * w(512))(y)
            return sub_model(code, layers.Reshape((4, 4, w(512)))(y), name)

        self.inters = {"a": intermediate("inter_a"), "b": intermediate("inter_b"), "shared": intermediate("inter_shared")}

        code = keras.Input((4, 4, w(1024)))
        y = code
        for filters in (512, 256, 128, 64):
            y = upscale(y, w(filters))
        self.decoder = sub_model(code, outputs(y, self.learns_mask), "decoder")

    def forward(self, x, identity):
        from keras import layers
        code = self.encoder(x)
        return self.decoder(layers.Concatenate()([self.inters[identity](code), self.inters["shared"](code)]))
