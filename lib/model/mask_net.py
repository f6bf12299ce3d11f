"""The learned mask: a small U-Net that segments the visible face, trained on the user's own labels.

Landmark masks cover the whole face outline, so a hand, a microphone or hair in front of the face is painted
over with the new face. Like DeepFaceLab's XSeg, this net learns from a handful of faces the user labelled
(255 where the face shows, 0 where something covers it or outside it) and then masks every face of the set.
No weights are downloaded: it starts from scratch and learns the person, the lighting and the occluders of
the footage at hand, with strong augmentation (pose, scale, flip, colour, blur, noise) so a few labels go far.

Beside the face's colours the net sees the ``extended`` landmark mask of the face (its 4th input channel): so
it need not learn the shape of a face from a handful of labels, only where the user's outline departs from it
and what in front of the face is not face. An encoder of convolutions and poolings (size / 16 at the bottom)
and a decoder that upsamples and joins the encoder's map of the same size (skip connections keep the
occluder's edge sharp); one sigmoid channel.
It is saved as a model folder (lib/model/store.py, plugin ``learned-mask``): no pickle, loading runs no code.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import cv2
import numpy as np

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

PLUGIN = "learned-mask"
DEFAULTS = {"size": 128, "width": 8}


def build(size: int = 128, width: int = 8):
    """The U-Net for ``size`` px faces, ``width`` channels in its first stage (doubling at each of 4 stages)."""
    import keras
    from keras import layers

    def stage(x, filters):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", kernel_initializer="he_uniform")(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        return x

    inputs = keras.Input((size, size, 4), name="face_and_prior")
    skips, x = [], inputs
    for i in range(4):
        x = stage(x, width * 2 ** i)
        skips.append(x)
        x = layers.MaxPooling2D()(x)
    x = stage(x, width * 16)
    for i, skip in reversed(list(enumerate(skips))):
        x = layers.Conv2DTranspose(width * 2 ** i, 2, strides=2, padding="same")(x)
        x = stage(layers.Concatenate()([x, skip]), width * 2 ** i)
    out = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask")(x)
    return keras.Model(inputs, out, name="learned_mask")


def prior(landmarks: np.ndarray, size: int) -> np.ndarray:
    """What the net starts from: the ``extended`` landmark mask (jaw to forehead) of landmarks given in the
    pixels of the ``size`` px face crop."""
    from lib.masks import extended
    return extended(landmarks, size)


# ---------------------------------------------------------------------------------------------- augmentation
def augment(face: np.ndarray, prior: np.ndarray, label: np.ndarray, rng: np.random.Generator):
    """A randomly varied copy of (face, prior, label): rotation, zoom, shift, flip; brightness, contrast, colour,
    blur and noise on the face only. All uint8 at the net's size."""
    size = face.shape[0]
    mat = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-25, 25), rng.uniform(0.8, 1.2))
    mat[:, 2] += rng.uniform(-0.1, 0.1, 2) * size
    if rng.random() < 0.5:
        mat = np.array([[-1, 0, size], [0, 1, 0]], np.float64) @ np.vstack([mat, [0, 0, 1]])
    face = cv2.warpAffine(face, mat, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    label = cv2.warpAffine(label, mat, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    prior = cv2.warpAffine(prior, mat, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    hsv = cv2.cvtColor(face, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] *= rng.uniform(0.7, 1.3)
    face = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    face = (face - 128) * rng.uniform(0.7, 1.3) + 128 + rng.uniform(-30, 30)
    if rng.random() < 0.3:
        face = cv2.GaussianBlur(face, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        face = face + rng.normal(0, rng.uniform(2, 10), face.shape)
    return np.clip(face, 0, 255).astype(np.uint8), prior, label


# ---------------------------------------------------------------------------------------------- the model
@dataclass
class MaskModel:
    """The net with its settings and training count; ``train`` on labelled faces, ``predict`` masks."""
    net: object
    settings: dict
    centering: str = "face"
    iterations: int = 0

    @property
    def size(self) -> int:
        return int(self.settings["size"])

    @classmethod
    def new(cls, settings: dict | None = None, centering: str = "face") -> "MaskModel":
        settings = {**DEFAULTS, **(settings or {})}
        if (type(settings["size"]) is not int or type(settings["width"]) is not int or settings["size"] % 32
                or not 32 <= settings["size"] <= 256 or not 4 <= settings["width"] <= 64):
            raise FaceswapError(f"learned mask settings {settings}: size must be 32-256 in steps of 32 (64, 128 ...) "
                                f"and width 4-64")
        return cls(build(settings["size"], settings["width"]), settings, centering)

    def _resize(self, image: np.ndarray) -> np.ndarray:
        size = self.size
        return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if image.shape[0] > size
                          else cv2.INTER_LINEAR)

    def _inputs(self, faces, priors) -> np.ndarray:
        """(N, size, size, 4) float32: BGR and prior in [0, 1]."""
        return np.stack([np.dstack([self._resize(f), self._resize(p)]) for f, p in zip(faces, priors)]
                        ).astype(np.float32) / 255.0

    def train(self, faces: list[np.ndarray], priors: list[np.ndarray], labels: list[np.ndarray], iterations: int,
              batch_size: int = 8, learning_rate: float = 2e-3, seed: int | None = None, progress=None,
              cancel=None) -> list[float]:
        """Train on faces (uint8 BGR, any size) with their landmark priors and labels (uint8, 255 = face) for
        ``iterations`` batches of augmented samples; returns the loss of each iteration.
        ``progress(done, total, loss)`` after each; ``cancel()`` true stops after the current one."""
        import keras
        import tensorflow as tf
        if not faces or len(faces) != len(labels):
            raise FaceswapError("the learned mask needs at least one labelled face to train on: label faces first "
                                "('tools.py mask -f FACES --import LABELS')")
        rng = np.random.default_rng(seed)
        samples = [tuple(self._resize(a) for a in sample) for sample in zip(faces, priors, labels)]
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, iterations), alpha=0.05)
        optimizer = keras.optimizers.Adam(schedule)
        net = self.net

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                pred = net(x, training=True)
                bce = tf.reduce_mean(keras.losses.binary_crossentropy(y, pred))
                dice = 1 - (2 * tf.reduce_sum(pred * y) + 1) / (tf.reduce_sum(pred) + tf.reduce_sum(y) + 1)
                loss = bce + dice
            optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_weights), net.trainable_weights))
            return loss

        losses, start = [], time.perf_counter()
        for i in range(iterations):
            if cancel is not None and cancel():
                break
            batch = [augment(*samples[j], rng) for j in rng.integers(0, len(samples), batch_size)]
            x = self._inputs([b[0] for b in batch], [b[1] for b in batch])
            y = (np.stack([b[2] for b in batch]).astype(np.float32) / 255.0)[..., None]
            losses.append(float(step(tf.constant(x), tf.constant(y))))
            if progress:
                progress(i + 1, iterations, losses[-1])
        self.iterations += len(losses)
        log.info("learned mask: %d iterations in %.1f s, last loss %.3f", len(losses), time.perf_counter() - start,
                 losses[-1] if losses else float("nan"))
        return losses

    def predict(self, faces: list[np.ndarray], priors: list[np.ndarray], batch_size: int = 32) -> list[np.ndarray]:
        """uint8 masks (255 = face) at each face's own size, for faces with their landmark priors."""
        out = []
        for at in range(0, len(faces), batch_size):
            chunk = faces[at:at + batch_size]
            masks = np.asarray(self.net(self._inputs(chunk, priors[at:at + batch_size]), training=False))[..., 0]
            for face, mask in zip(chunk, masks):
                mask = cv2.resize(mask, (face.shape[1], face.shape[0]), interpolation=cv2.INTER_LINEAR)
                out.append(np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8))
        return out

    # ------------------------------------------------------------------------------------------ the folder
    def save(self, model_dir) -> None:
        from lib.model import store
        store.save(model_dir, {"plugin": PLUGIN, "settings": dict(self.settings), "iterations": self.iterations,
                               "input_size": self.size, "output_size": self.size, "centering": self.centering},
                   [np.asarray(w) for w in self.net.get_weights()])

    @classmethod
    def load(cls, model_dir) -> "MaskModel":
        from lib.model import store
        meta, weights, settings = store.read_helper(
            model_dir, PLUGIN, DEFAULTS, "learned mask",
            f"no learned mask model in {model_dir}: train one with 'tools.py mask -f FACES --train --mask-model "
            f"{model_dir}'")
        model = cls.new(settings, meta.get("centering", "face"))
        store.set_helper_weights(model.net, weights, "learned mask model", model_dir)
        model.iterations = int(meta["iterations"])
        return model
