"""Colour 'color-transfer': match the mean and spread of each L*a*b* channel to the old face (Reinhard et al.
2001), measured inside the mask, so skin tone and lighting follow the target video."""
import cv2
import numpy as np

from lib.registry import register
from plugins.convert.color._stats import mean_std, weights


@register("convert.color", "color-transfer")
def adjust(new: np.ndarray, old: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scale and shift each LAB channel of ``new`` to the old face's mask-weighted mean and std."""
    w = weights(mask)
    lab_new = cv2.cvtColor(np.ascontiguousarray(new, np.float32), cv2.COLOR_BGR2LAB)
    lab_old = cv2.cvtColor(np.ascontiguousarray(old, np.float32), cv2.COLOR_BGR2LAB)
    mean_n, std_n = mean_std(lab_new, w)
    mean_o, std_o = mean_std(lab_old, w)
    gain = np.clip(std_o / std_n, 0.0, 5.0)
    lab = ((lab_new - mean_n) * gain + mean_o).astype(np.float32)
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), 0.0, 1.0)
