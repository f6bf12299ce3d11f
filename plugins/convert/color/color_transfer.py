"""Colour 'color-transfer': match the mean and spread of each L*a*b* channel to the old face (Reinhard et al.
2001), measured inside the mask, so skin tone and lighting follow the target video."""
import cv2
import numpy as np

from lib.registry import register
from plugins.convert.color._stats import binary, mean_std


@register("convert.color", "color-transfer")
def adjust(new: np.ndarray, old: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scale and shift each LAB channel of ``new`` to the old face's mean and std inside the mask."""
    hard = binary(mask)
    lab_new = cv2.cvtColor(np.ascontiguousarray(new, np.float32), cv2.COLOR_BGR2LAB)
    lab_old = cv2.cvtColor(np.ascontiguousarray(old, np.float32), cv2.COLOR_BGR2LAB)
    mean_n, std_n = mean_std(lab_new, hard)
    mean_o, std_o = mean_std(lab_old, hard)
    gain = np.clip(std_o / std_n, 0.0, 5.0)
    lab = lab_new * gain + (mean_o - mean_n * gain)
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), 0.0, 1.0)
