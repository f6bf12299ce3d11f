"""Shared by detectors: run on a downscaled copy of large frames, map boxes back; retry at full size if empty.

Detection cost grows with pixels while faces in video are usually large, so the first try runs at a
working size; only when it finds nothing is the frame tried again at full (or upsampled) resolution.
"""
from __future__ import annotations

import cv2
import numpy as np


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit single-channel copy of a BGR (or already gray) image."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def shrink(image: np.ndarray, work_size: int) -> tuple[np.ndarray, float]:
    """``image`` scaled so its long side is at most ``work_size``; returns it and the scale used (<= 1)."""
    long_side = max(image.shape[:2])
    if not work_size or long_side <= work_size:
        return image, 1.0
    scale = work_size / long_side
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), scale


def coarse_to_fine(image: np.ndarray, work_size: int, run) -> list[tuple[np.ndarray, float]]:
    """``run(img) -> [(box, score)]`` on a shrunk copy first, then on the full image if nothing was found.
    Anything after the score (a detector's face angle) is passed through."""
    small, scale = shrink(image, work_size)
    found = run(small)
    if not found and scale < 1.0:
        return run(image)
    return [(np.round(np.asarray(box, np.float64) / scale).astype(np.int64), *rest) for box, *rest in found]


def rect_to_box(rect) -> np.ndarray:
    """dlib rectangle -> (x, y, w, h)."""
    return np.array([rect.left(), rect.top(), rect.width(), rect.height()], np.int64)


def to_dlib_box(box, fit: tuple[float, float, float]) -> np.ndarray:
    """Map another detector's (x, y, w, h) box to dlib's convention: ``fit`` = (shift x, shift y, scale),
    shifts in units of the box side; measured per detector against dlib-hog boxes of the same faces."""
    x, y, w, h = (float(v) for v in box)
    side = (w + h) / 2
    cx, cy = x + w / 2 + fit[0] * side, y + h / 2 + fit[1] * side
    new = side * fit[2]
    return np.round([cx - new / 2, cy - new / 2, new, new]).astype(np.int64)


def coarse_to_fine_batch(images: list[np.ndarray], work_size: int, run_batch) -> list[list[tuple[np.ndarray, float]]]:
    """``coarse_to_fine`` for detectors that take a batch: ``run_batch(same_size_images) -> [[(box, score)]]``.

    Shrunk images of the same size go through one call; images with nothing found are retried at full size.
    """
    shrunk = [shrink(image, work_size) for image in images]
    out: list = [None] * len(images)
    groups: dict = {}
    for i, (small, _) in enumerate(shrunk):
        groups.setdefault(small.shape, []).append(i)
    for members in groups.values():
        for i, found in zip(members, run_batch([shrunk[i][0] for i in members])):
            out[i] = found
    for i, (found, (_, scale)) in enumerate(zip(out, shrunk)):
        if not found and scale < 1.0:
            out[i] = run_batch([images[i]])[0]
        else:
            out[i] = [(np.round(np.asarray(box, np.float64) / scale).astype(np.int64), *rest) for box, *rest in found]
    return out
