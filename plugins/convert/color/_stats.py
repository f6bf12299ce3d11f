"""Mask-weighted statistics shared by the colour plugins."""
import numpy as np


def weights(mask: np.ndarray) -> np.ndarray:
    """Per-pixel weights from a [0, 1] mask; the whole crop when the mask is empty."""
    w = np.asarray(mask, np.float32)
    return w if float(w.sum()) > 1.0 else np.ones_like(w)


def mean_std(image: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted per-channel mean and standard deviation of ``image`` (H, W, C)."""
    total = float(w.sum())
    mean = np.einsum("hwc,hw->c", image, w) / total
    var = np.einsum("hwc,hw->c", (image - mean) ** 2, w) / total
    return mean, np.sqrt(np.maximum(var, 1e-12))
