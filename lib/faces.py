"""Aligned faces: the mean-face template, the Umeyama similarity fit, crops, and the face PNG format.

Coordinates: an alignment *matrix* (2x3) maps frame pixels into the normalised template space, where the
51 inner landmarks (brows, eyes, nose, mouth) of the mean face span the unit square. A crop of ``size``
pixels is that space scaled and shifted by the *centering*: ``face`` frames brows to chin, ``head`` adds
hair and ears. Face PNGs carry their metadata (source, frame, landmarks, matrix) in an iTXt chunk, so a
folder of faces is self-describing: training and tools need no alignments file. The metadata may also hold
masks at the face's own pixels (``face_masks``): ``label``, painted or imported by the user, and ``learned``,
drawn by the mask model trained on those labels (lib/learned_masks.py).
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import AfterValidator, Field

from lib.errors import FaceswapError
from lib.fileio import atomic_write_bytes
from lib.validate import (Count, FaceGeometry, Label, PlainName, Text, bad_geometry, check, load_json,
                          whole_version)

# Mean of 361 dlib 68-point shapes (faces of several people), Procrustes-aligned on the inner points,
# made left/right symmetric, normalised so the inner 51 points span [0, 1].
MEAN_FACE = np.array([
    (-0.1379, 0.2531), (-0.1307, 0.4229), (-0.1127, 0.5934), (-0.0817, 0.7617),
    (-0.0232, 0.9196), (0.0720, 1.0600), (0.1927, 1.1798), (0.3338, 1.2751),
    (0.5000, 1.3024), (0.6662, 1.2751), (0.8073, 1.1798), (0.9280, 1.0600),
    (1.0232, 0.9196), (1.0817, 0.7617), (1.1127, 0.5934), (1.1307, 0.4229),
    (1.1379, 0.2531), (0.0000, 0.1245), (0.0736, 0.0492), (0.1803, 0.0196),
    (0.2928, 0.0310), (0.3986, 0.0729), (0.6014, 0.0729), (0.7072, 0.0310),
    (0.8197, 0.0196), (0.9264, 0.0492), (1.0000, 0.1245), (0.5000, 0.2020),
    (0.5000, 0.3105), (0.5000, 0.4189), (0.5000, 0.5311), (0.3748, 0.6127),
    (0.4347, 0.6339), (0.5000, 0.6530), (0.5653, 0.6339), (0.6252, 0.6127),
    (0.1260, 0.2317), (0.1907, 0.1906), (0.2693, 0.1896), (0.3377, 0.2378),
    (0.2657, 0.2543), (0.1884, 0.2560), (0.6623, 0.2378), (0.7307, 0.1896),
    (0.8093, 0.1906), (0.8740, 0.2317), (0.8116, 0.2560), (0.7343, 0.2543),
    (0.2566, 0.8429), (0.3438, 0.7932), (0.4339, 0.7700), (0.5000, 0.7857),
    (0.5661, 0.7700), (0.6562, 0.7932), (0.7434, 0.8429), (0.6603, 0.9311),
    (0.5722, 0.9726), (0.5000, 0.9804), (0.4278, 0.9726), (0.3397, 0.9311),
    (0.2979, 0.8458), (0.4331, 0.8288), (0.5000, 0.8345), (0.5669, 0.8288),
    (0.7021, 0.8458), (0.5682, 0.8788), (0.5000, 0.8879), (0.4318, 0.8788),
], np.float64)
INNER = slice(17, 68)

# Crop of the normalised space per centering: (centre x, centre y, side length), in template units.
CENTERINGS = {"face": (0.5, 0.58, 1.7), "head": (0.5, 0.45, 2.3)}
FACE_META_VERSION = 1
_PNG_KEY = b"faceswap"


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking ``src`` points onto ``dst``.

    Umeyama (1991): SVD of the cross-covariance, with a reflection guard. Returns a 2x3 matrix.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    u, d, vt = np.linalg.svd(b.T @ a / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    rot = u @ np.diag(sign) @ vt
    var = a.var(0).sum()
    scale = (d * sign).sum() / var if var > 0 else 1.0
    return np.hstack([scale * rot, (mu_d - scale * rot @ mu_s)[:, None]])


def align_matrix(landmarks: np.ndarray) -> np.ndarray:
    """2x3 matrix taking frame pixels to template space, fitted on the 51 inner landmarks."""
    return umeyama(np.asarray(landmarks)[INNER], MEAN_FACE[INNER])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to an (N, 2) array of points."""
    points = np.asarray(points, np.float64)
    return points @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix."""
    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def crop_matrix(matrix: np.ndarray, size: int, centering: str = "face") -> np.ndarray:
    """2x3 matrix taking frame pixels to pixels of a ``size`` crop with ``centering``."""
    if centering not in CENTERINGS:
        raise FaceswapError(f"unknown centering '{centering}': choose one of {', '.join(CENTERINGS)}")
    cx, cy, side = CENTERINGS[centering]
    scale = size / side
    to_crop = np.array([[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale], [0, 0, 1]])
    return (to_crop @ np.vstack([np.asarray(matrix, np.float64), [0, 0, 1]]))[:2]


def warp_face(frame: np.ndarray, matrix: np.ndarray, size: int, centering: str = "face") -> np.ndarray:
    """Cut the aligned ``size`` x ``size`` face out of ``frame``."""
    mat = crop_matrix(matrix, size, centering)
    interp = cv2.INTER_AREA if _scale_of(mat) < 1.0 else cv2.INTER_CUBIC
    return cv2.warpAffine(frame, mat, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def _scale_of(matrix: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:, :2]))))


def face_size_px(matrix: np.ndarray) -> float:
    """Width in frame pixels of the template's unit square: a pose-free measure of face size."""
    return 1.0 / _scale_of(matrix)


def crop_side_px(meta: dict | None) -> float | None:
    """Side, in frame pixels, of the crop a face PNG (its metadata) was cut from: how big a model's output is
    drawn when it is pasted back; None without a usable matrix."""
    if not meta or "matrix" not in meta:
        return None
    scale = _scale_of(crop_matrix(np.asarray(meta["matrix"], np.float64), 1, meta.get("centering", "face")))
    return 1.0 / scale if np.isfinite(scale) and scale > 0 else None


def median_crop_side(paths, sample: int = 200) -> float:
    """Median :func:`crop_side_px` of these face PNGs (up to ``sample`` of them, evenly spaced); 0 if none."""
    paths = list(paths)
    sides = [crop_side_px(read_face_meta(path)) for path in paths[:: max(1, len(paths) // sample)]]
    sides = [side for side in sides if side is not None]
    return float(np.median(sides)) if sides else 0.0


# ---------------------------------------------------------------------------------------------- face PNGs
def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_face_png(image: np.ndarray, meta: dict, compression: int = 3, strategy: int | None = None) -> bytes:
    """PNG bytes of ``image`` with ``meta`` (JSON) in a compressed iTXt chunk before the image data.

    ``strategy`` is a zlib strategy (``cv2.IMWRITE_PNG_STRATEGY_*``): HUFFMAN_ONLY at level 1 encodes a
    filtered photo ~20% faster than level 1 and ~5% smaller, what extract uses for its stream of faces.
    """
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression]
    if strategy is not None:
        params += [cv2.IMWRITE_PNG_STRATEGY, strategy]
    ok, png = cv2.imencode(".png", image, params)
    if not ok:
        raise FaceswapError("could not encode face image as PNG")
    png = png.tobytes()
    meta = dict(meta, version=FACE_META_VERSION)
    text = zlib.compress(json.dumps(meta, separators=(",", ":")).encode())
    itxt = _chunk(b"iTXt", _PNG_KEY + b"\x00\x01\x00\x00\x00" + text)
    end_of_ihdr = 8 + 8 + 13 + 4
    return png[:end_of_ihdr] + itxt + png[end_of_ihdr:]


def write_face_png(path, image: np.ndarray, meta: dict) -> None:
    """Write an aligned face and its metadata atomically."""
    atomic_write_bytes(path, encode_face_png(image, meta))


def face_meta(face, source: str, frame: str, frame_index: int, face_index: int, size: int,
              centering: str) -> dict:
    """The metadata a face PNG carries, built here only (extract, tools): where the face comes from (``source``
    file name, frame, face index) and how it was cut, so a folder of faces needs no alignments file."""
    return {"source": str(source), "frame": str(frame), "frame_index": int(frame_index),
            "face_index": int(face_index), "size": int(size), "centering": centering,
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in face.landmarks],
            "matrix": [[round(float(v), 8) for v in row] for row in face.matrix],
            "identity": None if face.identity is None else [round(float(v), 6) for v in face.identity],
            "detector": face.detector, "score": round(float(face.score), 4)}


# A face's metadata is ~3 KB of JSON; these caps stop a hostile PNG from making us read or inflate much more.
MAX_META_BYTES = 1 << 20
MAX_CHUNKS_BEFORE_IMAGE = 256


def _stored_mask(text: str) -> str:
    from lib.alignments import _mask_text      # the one check of a stored mask: base64 of a small PNG
    return _mask_text(text)


StoredMask = Annotated[str, Field(strict=True, max_length=1 << 19), AfterValidator(_stored_mask)]


class FaceMeta(FaceGeometry):
    """The schema of a face PNG's metadata (see :func:`face_meta`); unknown keys are passed through unread."""
    version: Annotated[int, Field(strict=True, ge=0)]
    source: Text = ""
    frame: PlainName | None = None
    frame_index: Count | None = None
    face_index: Annotated[int, Field(strict=True, ge=0, le=100000)] | None = None
    size: Annotated[int, Field(strict=True, ge=1, le=65535)] | None = None
    centering: Literal["face", "head"] = "face"
    masks: Annotated[dict[Label, StoredMask], Field(max_length=8)] = {}


def read_face_meta(path) -> dict | None:
    """The faceswap metadata of a face PNG, validated, or None if the PNG has none (a plain image).

    Only the chunks before the image data are looked at, and only ours is read into memory (with a cap on its
    size before and after inflating), so a hostile PNG costs no more than a real one."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if head != b"\x89PNG\r\n\x1a\n":
                return None
            for _ in range(MAX_CHUNKS_BEFORE_IMAGE):
                header = handle.read(8)
                if len(header) < 8:
                    return None
                length, kind = struct.unpack(">I4s", header)
                if kind == b"IDAT" or kind == b"IEND":
                    return None
                if kind != b"iTXt" or length < len(_PNG_KEY) + 1:
                    handle.seek(length + 4, 1)
                    continue
                if handle.read(len(_PNG_KEY) + 1) != _PNG_KEY + b"\x00":
                    handle.seek(length - len(_PNG_KEY) - 1 + 4, 1)
                    continue
                if length > MAX_META_BYTES:
                    raise FaceswapError(f"face {path} has a faceswap metadata chunk of {length} bytes, far more "
                                        f"than faceswap writes: it is not a face written by faceswap; re-extract it")
                return _decode_meta(handle.read(length - len(_PNG_KEY) - 1), path)
            return None
    except OSError as err:
        raise FaceswapError(f"cannot read face {path}: {err.strerror}") from err


def _decode_meta(body: bytes, path) -> dict:
    """``body``: our iTXt chunk after its keyword (compression flag, method, language, NUL, keyword, NUL, text)."""
    hint = "re-extract it (or run 'tools.py alignments -j extract')"
    parts = body[2:].split(b"\x00", 2)
    if len(body) < 2 or body[0] not in (0, 1) or len(parts) != 3:
        raise FaceswapError(f"face {path} has corrupt faceswap metadata (damaged chunk): {hint}")
    text = parts[2]
    if body[0]:
        inflater = zlib.decompressobj()
        try:
            text = inflater.decompress(text, MAX_META_BYTES)
        except zlib.error:
            raise FaceswapError(f"face {path} has corrupt faceswap metadata (does not inflate): {hint}") from None
        if inflater.unconsumed_tail:
            raise FaceswapError(f"face {path} has faceswap metadata inflating to over {MAX_META_BYTES} bytes, far "
                                f"more than faceswap writes: {hint}")
    meta = load_json(text, f"faceswap metadata of face {path}", hint)
    if not isinstance(meta, dict):
        raise FaceswapError(f"face {path} has corrupt faceswap metadata (not a JSON object): {hint}")
    version = whole_version(meta.get("version"), f"faceswap metadata of face {path}", hint)
    if version > FACE_META_VERSION:
        raise FaceswapError(f"face {path} was written by a newer faceswap (metadata version {version}, this one "
                            f"reads up to {FACE_META_VERSION}): update faceswap")
    valid = check(FaceMeta, meta, f"faceswap metadata of face {path}", hint)
    bad = bad_geometry(np.asarray(valid.landmarks, np.float64)[None], np.asarray(valid.matrix, np.float64)[None])
    if bad:
        raise FaceswapError(f"faceswap metadata of face {path} is corrupt ({bad[1]}): {hint}")
    return meta


def read_face_png(path) -> tuple[np.ndarray, dict | None]:
    """Image (BGR uint8) and metadata of a face PNG."""
    from lib.video import read_image
    return read_image(path), read_face_meta(path)


def face_masks(meta: dict | None, size: int | None = None) -> dict[str, np.ndarray]:
    """The masks a face PNG's metadata holds (name -> uint8, 255 = face), at ``size`` px if given."""
    from lib.alignments import _decode_mask       # stored masks share the alignments file's encoding
    out = {}
    for name, text in ((meta or {}).get("masks") or {}).items():
        mask = _decode_mask(text)
        if size and mask.shape[:2] != (size, size):
            mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR)
        out[name] = mask
    return out


def store_face_masks(path, masks: dict) -> None:
    """Write ``masks`` (name -> uint8 mask at the face's size, or None to remove it) into the metadata of the face
    PNG at ``path``, atomically; the face's pixels are kept as they are."""
    from lib.alignments import _encode_mask
    image, meta = read_face_png(path)
    if meta is None:
        raise FaceswapError(f"{path} carries no faceswap metadata: masks are stored with faces written by extract")
    stored = dict(meta.get("masks") or {})
    for name, mask in masks.items():
        if mask is None:
            stored.pop(name, None)
        else:
            mask = np.asarray(mask, np.uint8)
            if mask.shape[:2] != image.shape[:2]:
                mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
            stored[name] = _encode_mask(mask)
    meta["masks"] = stored
    write_face_png(path, image, meta)


def face_filename(frame_name: str, face_index: int) -> str:
    """Name of a face crop: ``<frame stem>_<face index>.png``."""
    return f"{Path(frame_name).stem}_{face_index}.png"
