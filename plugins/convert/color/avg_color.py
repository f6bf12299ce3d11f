"""Colour 'avg-color': shift the new face so its mean colour inside the mask equals the old face's."""
import cv2
import numpy as np

from lib.registry import register
from plugins.convert.color._stats import binary


@register("convert.color", "avg-color")
def adjust(new: np.ndarray, old: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Add the difference of the mean colours (BGR, [0, 1]) inside the mask to ``new``."""
    hard = binary(mask)
    shift = np.subtract(cv2.mean(old, hard)[:3], cv2.mean(new, hard)[:3]).astype(np.float32)
    return np.clip(new + shift, 0.0, 1.0)
