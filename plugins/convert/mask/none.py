"""Mask 'none': the whole square crop is replaced (soften its edge with --mask-blur)."""
import numpy as np

from lib.registry import register


@register("convert.mask", "none")
def mask(landmarks: np.ndarray, size: int, predicted: np.ndarray | None = None) -> np.ndarray:
    """All ones."""
    return np.ones((size, size), np.float32)
