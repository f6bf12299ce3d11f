"""Colour 'match-hist': remap each BGR channel of the new face so its histogram inside the mask matches
the old face's (histogram specification through the two cumulative distributions)."""
import cv2
import numpy as np

from lib.registry import register
from plugins.convert.color._stats import binary

BINS = 256


def _cdf(channel: np.ndarray, mask: np.ndarray) -> np.ndarray:
    hist = cv2.calcHist([channel], [0], mask, [BINS], [0, BINS]).ravel().astype(np.float64)
    cdf = np.cumsum(hist)
    return cdf / max(cdf[-1], 1.0)


@register("convert.color", "match-hist")
def adjust(new: np.ndarray, old: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Map every level of ``new`` to the level of ``old`` with the same cumulative share (per channel)."""
    hard = binary(mask)
    levels = np.arange(BINS, dtype=np.float64)
    q_new = np.clip(new * (BINS - 1) + 0.5, 0, BINS - 1).astype(np.uint8)
    q_old = np.clip(old * (BINS - 1) + 0.5, 0, BINS - 1).astype(np.uint8)
    luts = []
    for c in range(3):
        cdf_new, cdf_old = _cdf(np.ascontiguousarray(q_new[..., c]), hard), _cdf(np.ascontiguousarray(q_old[..., c]), hard)
        luts.append(np.clip(np.interp(cdf_new, cdf_old, levels) + 0.5, 0, BINS - 1).astype(np.uint8))
    mapped = cv2.LUT(q_new, np.stack(luts, axis=1)[:, None, :])
    return mapped.astype(np.float32) * (1.0 / (BINS - 1))
