"""Where the model weights live: only files shipped inside pip packages, never a download.

``face_recognition_models`` ships dlib's detector, landmark and embedding models, but importing it runs
``pkg_resources`` (gone from setuptools >= 82), so the package folder is located without importing it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from lib.errors import FaceswapError

DLIB_MODELS = {
    "mmod": "mmod_human_face_detector.dat",
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
}


def dlib_model(key: str) -> Path:
    """Path of one of dlib's ``.dat`` models from the face_recognition_models package (clear error if absent)."""
    filename = DLIB_MODELS[key]
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FaceswapError("package face_recognition_models is not installed: "
                            "run 'pip install -r requirements.txt' (it ships dlib's model files)")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / filename
        if path.is_file():
            return path
    raise FaceswapError(f"model file {filename} is missing from face_recognition_models: reinstall it with "
                        f"'pip install --force-reinstall face_recognition_models==0.3.0'")


def local_model(path, what: str, option: str) -> Path:
    """A weights file the user must supply (no package ships it): a clear error naming the option if absent."""
    if not path:
        raise FaceswapError(f"{what} needs its model file, which no package ships: pass {option} PATH")
    path = Path(path)
    if not path.is_file():
        raise FaceswapError(f"{what} model file not found: {path} (pass {option} with an existing file)")
    return path
