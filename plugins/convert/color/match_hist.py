"""Colour 'match-hist': remap each BGR channel of the new face so its histogram inside the mask matches
the old face's (histogram specification through the two cumulative distributions)."""
import numpy as np

from lib.registry import register
from plugins.convert.color._stats import weights

BINS = 256


def _cdf(channel: np.ndarray, w: np.ndarray) -> np.ndarray:
    hist = np.bincount(channel.ravel(), weights=w.ravel(), minlength=BINS)[:BINS]
    cdf = np.cumsum(hist)
    return cdf / cdf[-1]


@register("convert.color", "match-hist")
def adjust(new: np.ndarray, old: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Map every level of ``new`` to the level of ``old`` with the same cumulative share (per channel)."""
    w = weights(mask)
    levels = np.arange(BINS, dtype=np.float64)
    q_new = np.clip(new * (BINS - 1) + 0.5, 0, BINS - 1).astype(np.int32)
    q_old = np.clip(old * (BINS - 1) + 0.5, 0, BINS - 1).astype(np.int32)
    out = np.empty_like(new, dtype=np.float32)
    for c in range(new.shape[2]):
        cdf_new, cdf_old = _cdf(q_new[..., c], w), _cdf(q_old[..., c], w)
        lut = np.interp(cdf_new, cdf_old, levels) / (BINS - 1)
        out[..., c] = lut[q_new[..., c]]
    return out
