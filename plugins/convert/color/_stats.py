"""Masked statistics shared by the colour plugins (OpenCV's masked reductions: fast on big crops)."""
import cv2
import numpy as np


def binary(mask: np.ndarray) -> np.ndarray:
    """uint8 0/1 mask of the pixels that count (mask > 0.5); the whole crop when that is empty."""
    hard = (np.asarray(mask) > 0.5).astype(np.uint8)
    return hard if hard.any() else np.ones_like(hard)


def mean_std(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of ``image`` (H, W, C float32) inside the 0/1 ``mask``."""
    mean, std = cv2.meanStdDev(image, mask=mask)
    return mean.ravel().astype(np.float32), np.maximum(std.ravel(), 1e-6).astype(np.float32)
