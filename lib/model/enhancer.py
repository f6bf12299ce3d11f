"""The per-person face enhancer: a small super-resolution net that takes the model's 64-128 px face up to the
size the face has in the frame, trained on one person's own faces.

The swap model's decoder draws a soft, small face; pasted onto a 200 px face it is blurry by construction. But
the person's own frames hold their face at full size. So, from that person's faces alone (no downloaded
weights), this net learns to turn a small soft face back into the sharp one. Its training pairs are
**synthetic degradations** of the full-size face (blur, downscale, noise, JPEG) against that face. Optionally
(``model_share``) some inputs are **the swap model's own output** instead: the model rebuilding the face
through that person's decoder. That was the default (half the pairs) until measured: on the demo's two
models, degradations alone gave sharpness 0.61 and 0.78 against 0.42 and 0.46, and a face nearer B; on a
60-minute Ocasio-Cortez -> Hill model the two were level (USAGE, "enhance"). Likely reason: learning from the
model's own soft rebuilds taught the net to keep their softness.

Because it only ever sees this one person, it adds their detail and cannot pull the face toward anyone else.

The net works at the small size (cheap) and ends in a sub-pixel shuffle: ``scale``x the input's side, plus
a bilinear copy of the input (it learns only the missing detail, in light and shade, not colour). One enhancer per side lives in the swap
model's folder (``<model>/enhancer_b`` sharpens faces drawn by B's decoder), saved like every model
(lib/model/store.py, plugin ``face-enhancer``: no pickle, loading runs no code).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

PLUGIN = "face-enhancer"
DEFAULTS = {"scale": 4, "width": 32, "depth": 6}
SCALES = (2, 3, 4)


def folder(model_dir, side: str) -> Path:
    """Where the enhancer of ``side``'s faces lives: beside the swap model that draws them."""
    return Path(model_dir) / f"enhancer_{side}"


def choose_scale(face_side_px: float, output_size: int) -> int:
    """The upscale factor that brings the model's output nearest the face's size in the frame (2-4)."""
    wanted = face_side_px / max(1, output_size)
    return int(min(SCALES, key=lambda s: abs(s - wanted)))


def build(scale: int = 4, width: int = 32, depth: int = 6):
    """The net: ``depth`` 3x3 convolutions of ``width`` channels at the input's size, the last giving scale^2
    channels shuffled into one detail plane ``scale``x larger. The detail is added to all three colours of the
    bilinear upscale of the input: the enhancer adds light and shade (edges, texture), never colour, so a
    face unlike the ones it learned from cannot come out with colour blotches."""
    import keras
    import tensorflow as tf
    from keras import layers

    class Shuffle(layers.Layer):
        """Depth to space, one plane: (h, w, s*s) -> (h*s, w*s, 1), then the same detail for B, G and R."""
        def call(self, x):
            return tf.tile(tf.nn.depth_to_space(x, scale), [1, 1, 1, 3])

    inputs = keras.Input((None, None, 3), name="small_face")
    x = inputs
    for _ in range(depth - 1):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", kernel_initializer="he_uniform")(x)
    x = layers.Conv2D(scale * scale, 3, padding="same", kernel_initializer="zeros")(x)
    detail = Shuffle(dtype="float32")(layers.Activation("linear", dtype="float32")(x))
    base = layers.UpSampling2D(scale, interpolation="bilinear", dtype="float32")(inputs)
    out = layers.Add(dtype="float32", name="face")([base, detail])
    return keras.Model(inputs, out, name="face_enhancer")


# ---------------------------------------------------------------------------------------------- training data
def degrade(face: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """A small, soft copy of ``face`` (uint8, side divisible by ``scale``): blur, downscale by ``scale``, a
    further blur (the model's softness), noise and JPEG, each by a random amount. float32 [0, 1]."""
    size = face.shape[0] // scale
    image = face.astype(np.float32)
    if rng.random() < 0.7:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.6) * scale)
    image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.0))
    if rng.random() < 0.5:
        image = image + rng.normal(0, rng.uniform(1, 4), image.shape).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 95))])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else image
    return image.astype(np.float32) * (1.0 / 255.0)


@dataclass
class Pairs:
    """Training pairs of one person: faces at the enhancer's output size (uint8) and, when a swap model is
    given, that model's rebuild of each face at its output size (float32 [0, 1])."""
    faces: np.ndarray
    rebuilt: np.ndarray | None = None
    model_share: float = 0.0          # the share of inputs that are the model's rebuild (when there is one)

    def batch(self, size: int, scale: int, rng: np.random.Generator):
        """(inputs, targets), float32: a random face each, flipped at random, its input the model's rebuild
        (``model_share`` of the time, when there is one) or a synthetic degradation."""
        picks = rng.integers(0, len(self.faces), size)
        small, big = [], []
        for i in picks:
            face = self.faces[i]
            use_model = self.rebuilt is not None and rng.random() < self.model_share
            low = self.rebuilt[i] if use_model else degrade(face, scale, rng)
            high = face.astype(np.float32) * (1.0 / 255.0)
            if rng.random() < 0.5:
                low, high = low[:, ::-1], high[:, ::-1]
            if rng.random() < 0.5:        # the swapped face has the other video's light: the same shift on both
                gain = rng.uniform(0.75, 1.25, 3).astype(np.float32)
                shift = rng.uniform(-0.1, 0.1, 3).astype(np.float32)
                low, high = np.clip(low * gain + shift, 0, 1), np.clip(high * gain + shift, 0, 1)
            small.append(low)
            big.append(high)
        return np.ascontiguousarray(np.stack(small)), np.ascontiguousarray(np.stack(big))


# ---------------------------------------------------------------------------------------------- the enhancer
@dataclass
class Enhancer:
    """The net with its settings and training record; ``train`` on one person's faces, call it on faces."""
    net: object
    settings: dict
    side: str = "b"
    iterations: int = 0
    train_seconds: float = 0.0
    input_size: int = 64

    @property
    def scale(self) -> int:
        return int(self.settings["scale"])

    @property
    def output_size(self) -> int:
        return self.input_size * self.scale

    @classmethod
    def new(cls, input_size: int, settings: dict | None = None, side: str = "b") -> "Enhancer":
        settings = {**DEFAULTS, **(settings or {})}
        if (settings["scale"] not in SCALES or type(settings["width"]) is not int or type(settings["depth"]) is not int
                or not 8 <= settings["width"] <= 128 or not 3 <= settings["depth"] <= 16):
            raise FaceswapError(f"face enhancer settings {settings}: scale must be one of {SCALES}, width 8-128 "
                                f"and depth 3-16")
        from lib.model.network import default_precision, precision
        with precision(default_precision()):     # bfloat16 convolutions where the CPU has them: ~5x faster here
            net = build(settings["scale"], settings["width"], settings["depth"])
        return cls(net, settings, side, input_size=int(input_size))

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        """Faces (N, s, s, 3) float32 [0, 1] at the model's output size s -> (N, s*scale, s*scale, 3)."""
        faces = np.asarray(faces, np.float32)
        if faces.ndim != 4 or faces.shape[1:] != (self.input_size, self.input_size, 3):
            raise FaceswapError(f"the face enhancer takes {self.input_size} px faces, got {faces.shape[1:]}: train it "
                                f"again for this model (tools.py enhance --fresh)")
        fn = self.__dict__.get("_fn")
        if fn is None:
            import tensorflow as tf
            net = self.net
            spec = tf.TensorSpec((None, self.input_size, self.input_size, 3), tf.float32)
            fn = tf.function(lambda x: net(x, training=False), input_signature=[spec])
            self.__dict__["_fn"] = fn
        out = np.asarray(fn(np.ascontiguousarray(faces, np.float32)), np.float32)
        return np.clip(out, 0.0, 1.0)

    def train(self, pairs: Pairs, iterations: int | None = None, seconds: float | None = None,
              batch_size: int = 8, learning_rate: float = 5e-4, seed: int | None = None, progress=None,
              cancel=None) -> list[float]:
        """Train for ``iterations`` steps or ``seconds`` of training, whichever ends first (at least one of
        them). The loss is L1 on the pixels plus L1 on their horizontal and vertical differences (the edges a
        sharp face has and a soft one lacks). ``progress(done, total_or_None, loss)`` after each step;
        ``cancel()`` true stops after the current one. Returns the loss of each step."""
        import keras
        import tensorflow as tf
        if iterations is None and seconds is None:
            raise FaceswapError("the face enhancer needs a number of steps or a training time")
        rng = np.random.default_rng(seed)
        horizon = iterations or 100_000
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, horizon, alpha=0.1)
        optimizer = keras.optimizers.Adam(schedule)
        net = self.net

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                pred = net(x, training=True)
                loss = tf.reduce_mean(tf.abs(pred - y))
                loss += tf.reduce_mean(tf.abs((pred[:, 1:] - pred[:, :-1]) - (y[:, 1:] - y[:, :-1])))
                loss += tf.reduce_mean(tf.abs((pred[:, :, 1:] - pred[:, :, :-1]) - (y[:, :, 1:] - y[:, :, :-1])))
            optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_weights), net.trainable_weights))
            return loss

        losses, start = [], time.perf_counter()
        while True:
            if iterations is not None and len(losses) >= iterations:
                break
            if seconds is not None and time.perf_counter() - start >= seconds:
                break
            if cancel is not None and cancel():
                break
            x, y = pairs.batch(batch_size, self.scale, rng)
            losses.append(float(step(tf.constant(x), tf.constant(y))))
            if not np.isfinite(losses[-1]):
                raise FaceswapError(f"the face enhancer's loss became NaN/inf at step {len(losses)}: train it again "
                                    f"with a lower learning rate")
            if progress:
                progress(len(losses), iterations, losses[-1])
        self.iterations += len(losses)
        self.train_seconds += time.perf_counter() - start
        return losses

    # ------------------------------------------------------------------------------------------ the folder
    def save(self, model_dir) -> Path:
        """Write into ``folder(model_dir, side)``, atomically, like every model."""
        from lib.model import store
        place = folder(model_dir, self.side)
        store.save(place, {"plugin": PLUGIN, "settings": dict(self.settings), "iterations": self.iterations,
                           "input_size": self.input_size, "output_size": self.output_size,
                           "train_seconds": round(self.train_seconds, 2)},
                   [np.asarray(w) for w in self.net.get_weights()], keep_backup=False)
        return place

    @classmethod
    def load(cls, model_dir, side: str) -> "Enhancer":
        """The enhancer of ``side`` kept beside the swap model in ``model_dir``; a clear error when there is none."""
        from lib.model import store
        place = folder(model_dir, side)
        meta, weights, settings = store.read_helper(
            place, PLUGIN, DEFAULTS, "face enhancer",
            f"no face enhancer for side {side.upper()} in {model_dir}: train one with 'tools.py enhance -m {model_dir} "
            f"-i FACES_{side.upper()} -s {side}' (or swap --enhance), or choose another -S scaling")
        enhancer = cls.new(meta["input_size"], settings, side)
        store.set_helper_weights(enhancer.net, weights, "face enhancer", place)
        enhancer.iterations = int(meta["iterations"])
        enhancer.train_seconds = float(meta.get("train_seconds") or 0.0)
        return enhancer
