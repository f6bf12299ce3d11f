"""Colour 'avg-color': shift the new face so its mean colour inside the mask equals the old face's."""
import numpy as np

from lib.registry import register
from plugins.convert.color._stats import mean_std, weights


@register("convert.color", "avg-color")
def adjust(new: np.ndarray, old: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Add the difference of the mask-weighted mean colours (BGR, [0, 1]) to ``new``."""
    w = weights(mask)
    shift = mean_std(old, w)[0] - mean_std(new, w)[0]
    return np.clip(new + shift.astype(np.float32), 0.0, 1.0)
