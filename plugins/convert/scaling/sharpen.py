"""Scaling 'sharpen': unsharp masking of the model's output, which is soft after being scaled up from the
model's small output size to the face's size in the frame."""
import cv2
import numpy as np

from lib.registry import register

AMOUNT = 0.7          # how much of the detail layer to add back
RADIUS = 1.0 / 64     # blur sigma as a share of the crop size


@register("convert.scaling", "sharpen")
def scale(face: np.ndarray) -> np.ndarray:
    """``face + AMOUNT * (face - blur(face))``, clipped to [0, 1]."""
    sigma = max(1.0, RADIUS * face.shape[0])
    blurred = cv2.GaussianBlur(face, (0, 0), sigma)
    return np.clip(cv2.addWeighted(face, 1.0 + AMOUNT, blurred, -AMOUNT, 0), 0.0, 1.0)
