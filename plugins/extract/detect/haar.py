"""OpenCV's Viola-Jones Haar cascade (frontal face), shipped inside opencv-python 4.x as cv2.data.

The fastest and least accurate detector here; boxes are mapped to dlib's box convention so the
68-point aligner works with them.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.registry import register
from plugins.extract.detect._scale import coarse_to_fine, to_dlib_box, to_gray

# Haar boxes are a little larger and sit lower than dlib's: measured on real photos against dlib-hog boxes.
FIT = (0.0, 0.087, 0.91)


@register("extract.detect", "haar")
class Haar:
    def __init__(self, work_size: int = 640, min_neighbors: int = 5, **_):
        if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
            raise FaceswapError("detector haar needs OpenCV 4.x with CascadeClassifier: "
                                "install the opencv-python-headless version pinned in requirements.txt")
        path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise FaceswapError(f"cannot load the Haar cascade {path}: reinstall opencv-python-headless")
        self.work_size = work_size
        self.min_neighbors = min_neighbors

    def _run(self, gray: np.ndarray):
        side = max(24, min(gray.shape[:2]) // 12)
        boxes, _, weights = self.cascade.detectMultiScale3(gray, 1.1, self.min_neighbors, minSize=(side, side),
                                                           outputRejectLevels=True)
        return [(to_dlib_box(box, FIT), float(weight)) for box, weight in zip(boxes, np.ravel(weights))]

    def detect(self, images: list[np.ndarray]) -> list[list[tuple[np.ndarray, float]]]:
        return [coarse_to_fine(cv2.equalizeHist(to_gray(image)), self.work_size, self._run) for image in images]
