"""dlib's HOG + linear SVM frontal face detector: no weights file, fast on a CPU (the default)."""
from __future__ import annotations

import numpy as np

from lib.registry import register
from plugins.extract.detect._scale import coarse_to_fine, rect_to_box, to_gray


@register("extract.detect", "dlib-hog")
class DlibHog:
    """Frontal and near-frontal faces of about 80 px and more (smaller images are upsampled once)."""

    def __init__(self, work_size: int = 640, threshold: float = 0.0, **_):
        import dlib
        self.detector = dlib.get_frontal_face_detector()
        self.work_size = work_size
        self.threshold = threshold

    def _run(self, gray: np.ndarray):
        # Small images (photos, 224 px crops) hold faces near the 80 px window: upsample them once.
        upsample = 1 if max(gray.shape) < 400 else 0
        rects, scores, _ = self.detector.run(gray, upsample, self.threshold)
        return [(rect_to_box(r), float(s)) for r, s in zip(rects, scores)]

    def detect(self, images: list[np.ndarray]) -> list[list[tuple[np.ndarray, float]]]:
        return [coarse_to_fine(image, self.work_size, lambda img: self._run(to_gray(img))) for image in images]
