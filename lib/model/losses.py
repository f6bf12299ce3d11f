"""Reconstruction losses and the mask-aware side loss. Every loss takes (pred, target) float32 NHWC in
[0, 1] and returns a scalar; lower is better.

``--loss`` takes a weighted sum: ``ssim`` or ``ssim:1,mae:0.5``. Mask-aware training multiplies both images
by the landmark face mask (the background stops costing capacity), then adds the loss over the eyes and
the mouth again with their multipliers, as the eyes and mouth carry the expression.
"""
from __future__ import annotations

import math

import tensorflow as tf

from lib.errors import FaceswapError


def mae(pred, target):
    return tf.reduce_mean(tf.abs(pred - target))


def mse(pred, target):
    return tf.reduce_mean(tf.square(pred - target))


def logcosh(pred, target):
    """log(cosh(x)) computed without overflow: x + softplus(-2x) - log 2."""
    x = pred - target
    return tf.reduce_mean(x + tf.nn.softplus(-2.0 * x) - tf.math.log(2.0))


def ssim(pred, target):
    """1 - structural similarity (11 px Gaussian window, or smaller for tiny faces)."""
    size = min(11, int(pred.shape[1]) // 4 * 2 + 1)
    return 1.0 - tf.reduce_mean(tf.image.ssim(pred, target, max_val=1.0, filter_size=size))


_MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim(pred, target):
    """1 - multi-scale SSIM, with as many of the 5 standard scales as the face size allows."""
    side, filter_size = int(pred.shape[1]), 7
    scales = max(1, min(5, 1 + int(math.log2(side / filter_size))))
    weights = [w / sum(_MS_WEIGHTS[:scales]) for w in _MS_WEIGHTS[:scales]]
    value = tf.image.ssim_multiscale(pred, target, max_val=1.0, power_factors=weights, filter_size=filter_size)
    return 1.0 - tf.reduce_mean(value)


def gradient(pred, target):
    """Difference of image gradients: punishes blur that pixel losses tolerate."""
    diff = tf.convert_to_tensor(pred) - tf.convert_to_tensor(target)
    return (tf.reduce_mean(tf.abs(diff[:, 1:] - diff[:, :-1])) +
            tf.reduce_mean(tf.abs(diff[:, :, 1:] - diff[:, :, :-1])))


LOSSES = {"mae": mae, "mse": mse, "logcosh": logcosh, "ssim": ssim, "ms-ssim": ms_ssim, "gradient": gradient}


def parse(spec: str) -> list[tuple[str, float]]:
    """``"ssim:1,mae:0.5"`` -> [("ssim", 1.0), ("mae", 0.5)]; a clear error for unknown names or weights."""
    terms = []
    for part in str(spec).split(","):
        name, _, weight = part.strip().partition(":")
        name = name.strip().lower()
        if name not in LOSSES:
            raise FaceswapError(f"unknown loss '{name}' in --loss {spec}: choose from {', '.join(LOSSES)}, "
                                f"combined like ssim:1,mae:0.5")
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            raise FaceswapError(f"--loss {spec}: weight '{weight}' of {name} is not a number") from None
        terms.append((name, value))
    if not terms:
        raise FaceswapError("--loss is empty: give e.g. ssim or ssim:1,mae:0.5")
    return terms


def weighted_sum(spec: str):
    """One loss function from a ``--loss`` spec."""
    terms = [(LOSSES[name], weight) for name, weight in parse(spec)]

    def loss(pred, target):
        return tf.add_n([weight * fn(pred, target) for fn, weight in terms])
    return loss


def side_loss(loss, outputs, target, masks, penalize: bool = True, eye: float = 3.0, mouth: float = 2.0):
    """Loss of one side. ``outputs``: face or [face, mask]; ``masks``: (N, H, W, 3) face/eyes/mouth in [0, 1]."""
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    face = outputs[0]
    face_mask, eyes, mouths = masks[..., 0:1], masks[..., 1:2], masks[..., 2:3]
    total = loss(face * face_mask, target * face_mask) if penalize else loss(face, target)
    if eye > 1:
        total += (eye - 1.0) * loss(face * eyes, target * eyes)
    if mouth > 1:
        total += (mouth - 1.0) * loss(face * mouths, target * mouths)
    if len(outputs) > 1:  # the model learns the mask too
        total += mse(outputs[1], face_mask)
    return total
