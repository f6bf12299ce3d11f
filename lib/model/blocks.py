"""The building blocks every model plugin is made of, each defined once and named for what it does.

All blocks are channels-last (NHWC) and return a tensor; they take Keras tensors, so a plugin reads as a
straight chain ``x = downscale(x, 128); x = downscale(x, 256) ...``. Activations, normalisation and
initialisers are chosen here so the plugins stay short.
"""
from __future__ import annotations

import keras
from keras import layers

INIT = "he_uniform"


def conv(x, filters: int, kernel: int = 3, strides: int = 1, name: str | None = None):
    """A plain same-padded convolution (no activation)."""
    return layers.Conv2D(filters, kernel, strides=strides, padding="same", kernel_initializer=INIT, name=name)(x)


def leaky_relu(x, slope: float = 0.1):
    """LeakyReLU as max(x, slope * x): the same function at the same measured speed, without the 'remapper
    failed' error TensorFlow's graph optimiser logs for its LeakyRelu op in bfloat16 training graphs."""
    from keras import ops
    return layers.Lambda(lambda t: ops.maximum(t, t * slope))(x)


def downscale(x, filters: int, kernel: int = 5):
    """Halve the resolution: strided convolution + LeakyReLU(0.1), the deepfakes encoder step."""
    x = conv(x, filters, kernel, strides=2)
    return leaky_relu(x, 0.1)


def pixel_shuffle(x, scale: int = 2):
    """Rearrange channels into space (depth_to_space): (H, W, C*s*s) -> (H*s, W*s, C)."""
    return layers.Lambda(_depth_to_space, arguments={"scale": scale})(x)


def _depth_to_space(t, scale):
    import tensorflow as tf  # the native NHWC kernel: one op instead of reshape/transpose/reshape
    return tf.nn.depth_to_space(t, scale)


def upscale(x, filters: int, kernel: int = 3):
    """Double the resolution: convolution to 4x the filters, LeakyReLU(0.1), pixel shuffle."""
    x = conv(x, filters * 4, kernel)
    x = leaky_relu(x, 0.1)
    return pixel_shuffle(x)


def residual(x, filters: int | None = None, kernel: int = 3):
    """Two convolutions added back onto the input: keeps detail in deep decoders."""
    filters = filters or x.shape[-1]
    y = conv(x, filters, kernel)
    y = leaky_relu(y, 0.2)
    y = conv(y, filters, kernel)
    y = layers.Add()([x, y])
    return leaky_relu(y, 0.2)


def dense_to_grid(x, units: int, side: int, channels: int):
    """Flatten, squeeze through a dense bottleneck of ``units``, and widen back to a side x side grid."""
    x = layers.Flatten()(x)
    x = layers.Dense(units, kernel_initializer=INIT)(x)
    x = layers.Dense(side * side * channels, kernel_initializer=INIT)(x)
    return layers.Reshape((side, side, channels))(x)


def to_image(x, kernel: int = 5, name: str = "face"):
    """Final RGB layer: 3 channels through a sigmoid, computed in float32 for a stable output."""
    return layers.Conv2D(3, kernel, padding="same", activation="sigmoid", dtype="float32", name=name)(x)


def to_mask(x, kernel: int = 5, name: str = "mask"):
    """Learned mask head: 1 channel through a sigmoid, in float32."""
    return layers.Conv2D(1, kernel, padding="same", activation="sigmoid", dtype="float32", name=name)(x)


def outputs(x, learn_mask: bool, kernel: int = 5):
    """The decoder's outputs: the face, plus the mask when the model learns one."""
    return [to_image(x, kernel), to_mask(x, kernel)] if learn_mask else to_image(x, kernel)


def sub_model(inputs, outputs_, name: str) -> keras.Model:
    """Wrap a piece (encoder, decoder ...) as a named Keras model so it can be shared between the sides."""
    return keras.Model(inputs, outputs_, name=name)


def width(n: float, scale: float) -> int:
    """Channels after the plugin's ``width`` multiplier (at least 8, multiple of 4 for the pixel shuffle)."""
    return max(8, int(round(n * scale / 4)) * 4)
