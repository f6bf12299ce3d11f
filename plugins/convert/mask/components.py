"""Mask 'components': the face from jaw line to brows (lib.masks), drawn from the landmarks of each frame."""
import cv2
import numpy as np

from lib import masks
from lib.registry import register


@register("convert.mask", "components")
def mask(landmarks: np.ndarray, size: int, predicted: np.ndarray | None = None) -> np.ndarray:
    """float32 (size, size) mask in [0, 1] for ``landmarks`` given in this crop's pixels."""
    mask = masks.components(landmarks, size)
    # Close the notches between the convex pieces (between the brows, beside the nose) so no dent shows.
    k = max(3, size // 12) | 1
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return mask.astype(np.float32) / 255.0
