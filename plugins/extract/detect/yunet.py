"""OpenCV's YuNet CNN detector (cv2.FaceDetectorYN). No pip package ships its weights, so it needs
``--detector-model face_detection_yunet_2023mar.onnx`` (from the OpenCV model zoo) and says so without it."""
from __future__ import annotations

import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.registry import register
from lib.weights import local_model
from plugins.extract.detect._scale import coarse_to_fine, to_dlib_box

# Box fit assumed from the other CNN detectors (no YuNet weights were at hand to measure it).
FIT = (0.0, 0.06, 0.90)


@register("extract.detect", "yunet")
class YuNet:
    def __init__(self, model=None, work_size: int = 640, threshold: float = 0.8, **_):
        path = local_model(model, "detector yunet", "--detector-model")
        try:
            self.model = cv2.FaceDetectorYN.create(str(path), "", (320, 320), threshold, 0.3, 5000)
        except cv2.error as err:
            raise FaceswapError(f"cannot load YuNet model {path}: {err.err or 'not an ONNX YuNet model'}") from None
        self.work_size = work_size

    def _run(self, image: np.ndarray):
        self.model.setInputSize((image.shape[1], image.shape[0]))
        _, found = self.model.detect(image)
        if found is None:
            return []
        return [(to_dlib_box(row[:4], FIT), float(row[14])) for row in found]

    def detect(self, images: list[np.ndarray]) -> list[list[tuple[np.ndarray, float]]]:
        return [coarse_to_fine(image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR),
                               self.work_size, self._run) for image in images]
