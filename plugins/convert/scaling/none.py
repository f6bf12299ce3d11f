"""Scaling 'none': use the model's output as it is."""
import numpy as np

from lib.registry import register


@register("convert.scaling", "none")
def scale(face: np.ndarray) -> np.ndarray:
    """Return ``face`` unchanged."""
    return face
