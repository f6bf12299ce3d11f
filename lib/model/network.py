"""What every model plugin is: one shared encoder, a path per identity, and the precision it runs in.

A plugin subclasses :class:`Network`, lists its settings in ``defaults`` and builds its pieces in ``build``:
``self.encoder`` and ``self.decoders = {"a": ..., "b": ...}``. ``forward(x, identity)`` gives the face of
``identity`` rebuilt from the input face ``x``: training asks for each side's own identity, the swap asks for
the other one. Plugins with intermediate layers (iae, dfl-sae liae) override ``forward``.
"""
from __future__ import annotations

import contextlib
import logging

from lib.errors import FaceswapError

log = logging.getLogger(__name__)
SIDES = ("a", "b")


class Network:
    """Base of the model plugins: settings, the two autoencoders and the joint training model."""
    defaults: dict = {}
    input_size = 64
    output_size = 64
    learns_mask_default = False

    def __init__(self, settings: dict | None = None):
        import keras
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(self.defaults) - {"learn_mask"})
        if unknown:
            raise FaceswapError(f"model '{self.plugin_name}' has no setting(s) {', '.join(unknown)}: "
                                f"choose from {', '.join(sorted(self.defaults)) or 'none'}")
        self.settings = {"learn_mask": self.learns_mask_default, **self.defaults}
        for key, value in settings.items():
            self.settings[key] = _coerce(key, value, self.settings[key], self.plugin_name)
        self.learns_mask = bool(self.settings["learn_mask"])
        self.build(self.settings)
        self.autoencoders = {}
        for side in SIDES:
            inp = keras.Input((self.input_size, self.input_size, 3), name=f"face_{side}")
            out = self.forward(inp, side)
            self.autoencoders[side] = keras.Model(inp, out, name=f"autoencoder_{side}")
        inputs = [self.autoencoders[s].inputs[0] for s in SIDES]
        self.joint = keras.Model(inputs, [self.autoencoders[s].outputs for s in SIDES], name=self.plugin_name)

    def build(self, s: dict) -> None:  # pragma: no cover - every plugin defines it
        raise NotImplementedError

    def forward(self, x, identity: str):
        """Face (and mask) of ``identity`` rebuilt from face ``x``: the classic shared encoder, own decoder."""
        return self.decoders[identity](self.encoder(x))

    @property
    def weights(self):
        return self.joint.weights

    def count_params(self) -> int:
        return int(sum(int(w.numpy().size) for w in self.joint.weights))


def _coerce(key, value, default, plugin):
    """Settings given on the command line arrive as text: make them the type of the default."""
    if isinstance(value, str) and not isinstance(default, str):
        try:
            if isinstance(default, bool):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return type(default)(value)
        except ValueError:
            raise FaceswapError(f"model '{plugin}' setting {key}={value!r} must be a {type(default).__name__}") from None
    return value


# ------------------------------------------------------------------------------------------------ precision
def cpu_has_bf16() -> bool:
    """True when the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), where mixed_bfloat16 is ~3x faster."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = line.split()
                    return "avx512_bf16" in flags or "amx_bf16" in flags
    except OSError:
        pass
    return False


def default_precision(mixed: bool = True) -> str:
    """mixed_float16 on a GPU, mixed_bfloat16 on a bf16 CPU, else float32 (also when ``mixed`` is off)."""
    if not mixed:
        return "float32"
    import tensorflow as tf
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"


@contextlib.contextmanager
def precision(policy: str):
    """Build layers under a Keras dtype policy without leaking it to whatever is built afterwards."""
    import keras
    before = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def build_network(plugin: str, settings: dict | None = None, policy: str = "float32") -> Network:
    """Instantiate model plugin ``plugin`` with ``settings`` under dtype ``policy``."""
    from lib import registry
    cls = registry.get("train.model", plugin)
    with precision(policy):
        return cls(settings)
