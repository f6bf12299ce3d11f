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
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import AfterValidator, ConfigDict, Field, model_validator

from lib.errors import FaceswapError
from lib.faces import align_matrix
from lib.fileio import atomic_path, backup
from lib.masks import MasksOnRead
from lib.validate import (MAX_COORD, Count, FaceGeometry, Label, PlainName, Schema, Text, Whole, bad_geometry,
                          check, load_json, no_gc, whole_version)

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
    def from_entry(cls, entry: "FaceEntry") -> "Face":
        """A face from its validated file entry (see :class:`FaceEntry`)."""
        face = cls(np.asarray(entry.box, np.int64), np.asarray(entry.landmarks, np.float32), entry.score,
                   entry.detector, entry.identity_array(), StoredMasks(dict(entry.masks)))
        face.matrix = entry.matrix
        return face


class StoredMasks(MasksOnRead):
    """Masks read from a file: kept PNG-encoded (~2 KB) and decoded (16 KB+) only when asked for, so loading
    the alignments of a long video stays small; saving passes untouched masks through unchanged."""

    def _make(self, name, value):
        return _decode_mask(value) if isinstance(value, str) else value


def _mask_items(masks):
    """(name, array or already-encoded text) pairs, without decoding stored masks."""
    return masks.raw_items() if isinstance(masks, StoredMasks) else masks.items()


def _encode_mask(mask) -> str:
    if isinstance(mask, str):
        return mask
    # zlib level 1: 5x faster than 9 on a 128 px mask, ~150 bytes more; this runs once per face and mask.
    ok, png = cv2.imencode(".png", mask.astype(np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return base64.b64encode(png.tobytes()).decode("ascii")


def _decode_mask(text: str) -> np.ndarray:
    """A stored mask, checked on load to be a small PNG (``_mask_text``), so decoding it is safe."""
    try:
        from lib.video import decode
        mask = decode(np.frombuffer(base64.b64decode(text, validate=True), np.uint8), cv2.IMREAD_GRAYSCALE)
    except (ValueError, cv2.error):      # binascii.Error is a ValueError
        mask = None
    if mask is None:
        raise FaceswapError("a stored mask in the alignments file is not a PNG: run 'tools.py mask' to redraw it")
    return mask


# ---------------------------------------------------------------------------------------------- the schema
MAX_MASK = 1024          # px: stored masks are 64-256 px
MAX_FACES_PER_FRAME = 1000


def _mask_text(text: str) -> str:
    """Load-time check of an encoded mask without decoding it: base64 of a PNG no larger than MAX_MASK."""
    try:
        head = base64.b64decode(text[:44], validate=True)
    except ValueError:
        raise ValueError("mask is not base64 text") from None
    if not head.startswith(b"\x89PNG\r\n\x1a\n") or len(head) < 24:
        raise ValueError("mask is not a PNG")
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if not (0 < width <= MAX_MASK and 0 < height <= MAX_MASK):
        raise ValueError(f"mask is {width}x{height} px, masks are at most {MAX_MASK} px")
    return text


MaskText = Annotated[str, Field(strict=True, max_length=1 << 20), AfterValidator(_mask_text)]
Box = tuple[Whole, Whole, Annotated[int, Field(strict=True, ge=0, le=int(MAX_COORD))],
            Annotated[int, Field(strict=True, ge=0, le=int(MAX_COORD))]]


class FaceEntry(FaceGeometry):
    """One face in the file: box (x, y, w, h), landmarks, matrix, identity, encoded masks."""
    box: Box
    masks: Annotated[dict[Label, MaskText], Field(max_length=32)] = {}


class SourceEntry(Schema):
    """What the file was made from; cross-checked against the input by :func:`check_source`."""
    model_config = ConfigDict(extra="allow")
    path: Text = ""
    frame_count: Count | None = None
    fps: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=10000)] | None = None
    width: Annotated[int, Field(strict=True, gt=0, le=int(MAX_COORD))] | None = None
    height: Annotated[int, Field(strict=True, gt=0, le=int(MAX_COORD))] | None = None

    @model_validator(mode="after")
    def _scalars_only(self):
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, (str, int, float, bool, type(None))) or len(key) > 64:
                raise ValueError(f"source.{key[:64]} must be a plain value")
        return self


class MaskEntry(Schema):
    size: Annotated[int, Field(strict=True, ge=16, le=MAX_MASK)] = 128
    centering: Literal["face", "head"] = "face"


class Document(Schema):
    """The whole file; its version is checked first, so a newer file says 'update faceswap' instead."""
    format: Literal["faceswap-alignments"]
    version: Annotated[int, Field(strict=True, ge=0)]
    source: SourceEntry = SourceEntry()
    mask: MaskEntry = MaskEntry()
    frames: dict[PlainName, Annotated[list[FaceEntry], Field(max_length=MAX_FACES_PER_FRAME)]]


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
            raw = path.read_bytes()
        except OSError as err:
            raise FaceswapError(f"cannot read alignments file {path}: {err.strerror}") from None
        with no_gc():
            return cls._from_bytes(raw, path, hint)

    @classmethod
    def _from_bytes(cls, raw: bytes, path: Path, hint: str) -> "Alignments":
        doc = load_json(raw, f"alignments file {path}", hint)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise FaceswapError(f"{path} is not a faceswap alignments file: {hint}")
        version = whole_version(doc.get("version"), f"alignments file {path}", hint)
        if version > VERSION:
            raise FaceswapError(f"alignments file {path} has version {version}, this faceswap reads up to "
                                f"{VERSION}: update faceswap")
        if not isinstance(doc.get("frames"), dict):
            raise FaceswapError(f"alignments file {path} has no 'frames' table: {hint}")
        valid = check(Document, doc, f"alignments file {path}", hint)
        out = cls(valid.source.model_dump(exclude_none=True), valid.mask.model_dump())
        out.frames = {name: [Face.from_entry(face) for face in faces] for name, faces in valid.frames.items()}
        where = [(name, i) for name, faces in out.frames.items() for i in range(len(faces))]
        faces = [face for faces in out.frames.values() for face in faces]
        bad = bad_geometry(np.array([f.landmarks for f in faces]).reshape(-1, 68, 2),
                           np.array([f.matrix for f in faces]).reshape(-1, 2, 3))
        if bad:
            name, i = where[bad[0]]
            raise FaceswapError(f"alignments file {path} is corrupt (frames[{name!r}][{i}]: {bad[1]}): {hint}")
        return out


def source_entry(source) -> dict:
    """The ``source`` entry of an alignments file for a lib.video.Source: what later runs check it against."""
    entry = {"path": str(source.path.resolve()), "frame_count": source.count}
    if source.info is not None:
        entry.update(fps=float(source.info.fps), width=source.info.width, height=source.info.height,
                     bytes=source.path.stat().st_size)
    return entry


def describe(entry: dict) -> str:
    """``clip.mp4 (1280x720, 600 frames, 12.3 MB)``: a source entry as a user recognises it."""
    facts = []
    if entry.get("width") and entry.get("height"):
        facts.append(f"{entry['width']}x{entry['height']}")
    if isinstance(entry.get("frame_count"), int):
        facts.append(f"{entry['frame_count']} frames")
    if isinstance(entry.get("bytes"), int):
        facts.append(f"{entry['bytes'] / 1e6:.1f} MB")
    name = Path(str(entry.get("path") or "?")).name
    return f"{name} ({', '.join(facts)})" if facts else name


def source_mismatch(stored: dict, source, fields=("name", "bytes", "frame_count", "width", "height")) -> list[str]:
    """The ``fields`` in which the source an alignments file describes (``stored``) differs from ``source``
    (a lib.video.Source); a field the file does not record is not compared. Folders of frames are compared
    by name only: photos may be added to them."""
    actual = source_entry(source)
    fields = [f for f in fields if f == "name" or source.info is not None]
    differ = []
    for key in fields:
        if key == "name":
            if stored.get("path") and Path(str(stored["path"])).name != source.path.resolve().name:
                differ.append(key)
        elif stored.get(key) is not None and actual.get(key) is not None and stored[key] != actual[key]:
            differ.append(key)
    return differ


def default_path(input_path) -> Path:
    """Where the alignments of ``input_path`` live: ``<video stem>_alignments.json`` beside a video,
    ``alignments.json`` inside a folder of frames."""
    input_path = Path(input_path)
    if input_path.is_dir():
        return input_path / "alignments.json"
    return input_path.with_name(input_path.stem + SUFFIX)
