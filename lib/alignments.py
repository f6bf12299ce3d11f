"""The alignments file: every face found in every frame of one source. JSON, versioned, no pickle.

Layout (version 1; documented in USAGE.md)::

    {"format": "faceswap-alignments", "version": 1,
     "source": {"path", "frame_count", "fps", "width", "height"},
     "mask": {"size": 128, "centering": "face"},
     "frames": {"<frame name>": [{"box", "score", "detector", "landmarks", "matrix", "identity", "masks"}]}}

Every processed frame has an entry, ``[]`` when it had no face, so "no face" and "not processed" differ.
Loading validates every field and never executes anything; saving is atomic and can keep a backup.
"""
from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.faces import align_matrix
from lib.fileio import atomic_path, backup
from lib.masks import MasksOnRead

log = logging.getLogger(__name__)

FORMAT = "faceswap-alignments"
VERSION = 1
SUFFIX = "_alignments.json"


@dataclass
class Face:
    """One detected, aligned face in one frame. Coordinates are frame pixels."""
    box: np.ndarray                      # x, y, w, h (int)
    landmarks: np.ndarray                # (68, 2) float32
    score: float = 1.0
    detector: str = ""
    identity: np.ndarray | None = None   # (128,) float32 embedding
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # name -> uint8 (size, size) in mask space
    _matrix: np.ndarray | None = None

    @property
    def matrix(self) -> np.ndarray:
        """2x3 frame -> template matrix (fitted on demand from the landmarks, then kept)."""
        if self._matrix is None:
            self._matrix = align_matrix(self.landmarks)
        return self._matrix

    @matrix.setter
    def matrix(self, value) -> None:
        self._matrix = None if value is None else np.asarray(value, np.float64)

    def set_landmarks(self, landmarks: np.ndarray) -> None:
        """Replace the landmarks (e.g. after smoothing) and refit the matrix."""
        self.landmarks = np.asarray(landmarks, np.float32)
        self._matrix = None

    def to_json(self) -> dict:
        out = {"box": [int(v) for v in self.box], "score": round(float(self.score), 4), "detector": self.detector,
               "landmarks": np.round(self.landmarks.astype(np.float64), 2).tolist(),
               "matrix": np.round(self.matrix, 8).tolist(),
               "identity": None if self.identity is None else np.round(self.identity.astype(np.float64), 6).tolist(),
               "masks": {name: _encode_mask(mask) for name, mask in _mask_items(self.masks)}}
        return out

    @classmethod
    def from_json(cls, data: dict, where: str) -> "Face":
        try:
            box = np.asarray(data["box"], np.int64)
            landmarks = np.asarray(data["landmarks"], np.float32)
            matrix = np.asarray(data["matrix"], np.float64)
            identity = data.get("identity")
            identity = None if identity is None else np.asarray(identity, np.float32)
            masks = StoredMasks({str(k): _check_mask(v) for k, v in (data.get("masks") or {}).items()})
            face = cls(box, landmarks, float(data.get("score", 1.0)), str(data.get("detector", "")), identity, masks)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{where}: bad face entry ({err})") from None
        if box.shape != (4,) or landmarks.shape != (68, 2) or matrix.shape != (2, 3):
            raise ValueError(f"{where}: box must have 4 numbers, landmarks 68 points, matrix 2x3")
        if not (np.isfinite(landmarks).all() and np.isfinite(matrix).all()):
            raise ValueError(f"{where}: landmarks or matrix hold NaN/inf")
        if identity is not None and identity.shape != (128,):
            raise ValueError(f"{where}: identity must have 128 numbers")
        face.matrix = matrix
        return face


class StoredMasks(MasksOnRead):
    """Masks read from a file: kept PNG-encoded (~2 KB) and decoded (16 KB+) only when asked for, so loading
    the alignments of a long video stays small; saving passes untouched masks through unchanged."""

    def _make(self, name, value):
        return _decode_mask(value) if isinstance(value, str) else value


def _mask_items(masks):
    """(name, array or already-encoded text) pairs, without decoding stored masks."""
    return masks.raw_items() if isinstance(masks, StoredMasks) else masks.items()


def _check_mask(text) -> str:
    """Cheap load-time validation of an encoded mask: base64 text holding a PNG."""
    if not isinstance(text, str) or not base64.b64decode(text[:16], validate=True).startswith(b"\x89PNG"):
        raise ValueError("mask is not a base64 PNG")
    return text


def _encode_mask(mask) -> str:
    if isinstance(mask, str):
        return mask
    # zlib level 1: 5x faster than 9 on a 128 px mask, ~150 bytes more; this runs once per face and mask.
    ok, png = cv2.imencode(".png", mask.astype(np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return base64.b64encode(png.tobytes()).decode("ascii")


def _decode_mask(text: str) -> np.ndarray:
    mask = cv2.imdecode(np.frombuffer(base64.b64decode(text, validate=True), np.uint8), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError("mask is not a PNG")
    return mask


class Alignments:
    """All faces of one source, keyed by frame name, in frame order."""

    def __init__(self, source: dict | None = None, mask: dict | None = None):
        self.source = dict(source or {})
        self.mask = dict(mask or {"size": 128, "centering": "face"})
        self.frames: dict[str, list[Face]] = {}

    # --------------------------------------------------------------------------------- queries
    def __len__(self) -> int:
        return len(self.frames)

    def faces(self, frame: str) -> list[Face]:
        return self.frames.get(frame, [])

    def face_count(self) -> int:
        return sum(len(faces) for faces in self.frames.values())

    def frames_with_faces(self) -> list[str]:
        return [name for name, faces in self.frames.items() if faces]

    # --------------------------------------------------------------------------------- I/O
    def _chunks(self):
        """The JSON document in pieces, one frame at a time, so saving a long video needs no big string."""
        head = {"format": FORMAT, "version": VERSION, "source": self.source, "mask": self.mask}
        yield json.dumps(head, separators=(",", ":"))[:-1] + ',"frames":{'
        for i, (name, faces) in enumerate(self.frames.items()):
            yield ("," if i else "") + json.dumps(name) + ":" + json.dumps([face.to_json() for face in faces],
                                                                         separators=(",", ":"))
        yield "}}"

    def to_bytes(self) -> bytes:
        return "".join(self._chunks()).encode()

    def save(self, path, keep_backup: bool = False) -> Path:
        """Write atomically; with ``keep_backup`` the previous file is first copied to ``<path>.bak``."""
        path = Path(path)
        if keep_backup:
            backup(path)
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
            for chunk in self._chunks():
                handle.write(chunk)
        log.debug("saved %d faces in %d frames to %s", self.face_count(), len(self), path)
        return path

    @classmethod
    def load(cls, path) -> "Alignments":
        """Load and validate ``path``; any problem is one FaceswapError that names the file."""
        path = Path(path)
        if not path.is_file():
            raise FaceswapError(f"alignments file not found: {path} (run 'faceswap.py extract' first, or pass -p)")
        hint = "restore its .bak copy or run extract again"
        try:
            doc = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as err:
            raise FaceswapError(f"alignments file {path} is corrupt ({err}): {hint}") from None
        except OSError as err:
            raise FaceswapError(f"cannot read alignments file {path}: {err.strerror}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise FaceswapError(f"{path} is not a faceswap alignments file: {hint}")
        if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
            raise FaceswapError(f"alignments file {path} has version {doc.get('version')}, this faceswap reads "
                                f"up to {VERSION}: update faceswap")
        frames = doc.get("frames")
        if not isinstance(frames, dict):
            raise FaceswapError(f"alignments file {path} has no 'frames' table: {hint}")
        out = cls(doc.get("source"), doc.get("mask"))
        try:
            for name, faces in frames.items():
                if not isinstance(faces, list):
                    raise ValueError(f"frame {name}: faces must be a list")
                out.frames[name] = [Face.from_json(face, f"frame {name} face {i}") for i, face in enumerate(faces)]
        except ValueError as err:
            raise FaceswapError(f"alignments file {path} is corrupt ({err}): {hint}") from None
        return out


def default_path(input_path) -> Path:
    """Where the alignments of ``input_path`` live: ``<video stem>_alignments.json`` beside a video,
    ``alignments.json`` inside a folder of frames."""
    input_path = Path(input_path)
    if input_path.is_dir():
        return input_path / "alignments.json"
    return input_path.with_name(input_path.stem + SUFFIX)
