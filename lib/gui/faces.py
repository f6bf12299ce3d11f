"""The faces browser: an extract's face PNGs with their frame numbers and sort keys, and removing wrong ones.

Each face PNG carries its metadata (frame, face index, landmarks, matrix, identity), so the list needs only
the folder. The sort keys are the ones ``tools.py sort`` computes (identity distance from the main person,
blur, yaw, size), cached per file so sorting again is instant. Removing faces is ``tools.py alignments -j
remove-faces`` itself, run through its own parser: the chosen PNGs are moved out of the folder (into
``<folder>_removed``, so nothing is lost), then that job drops them from the alignments file (keeping its
``.bak``) and renumbers the PNGs left, exactly as it does on the command line.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import threading
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

SORT_KEYS = ("frame", "identity", "blur", "yaw", "size")
THUMB = 128
_CACHE: dict[tuple, object] = {}    # (path, mtime_ns, size) -> computed keys; ("identity", ...) -> embedding
_LOCK = threading.Lock()
_EMBED_LOCK = threading.Lock()
_EMBEDDER = None


def _stamp(path: Path) -> tuple:
    info = path.stat()
    return str(path), info.st_mtime_ns, info.st_size


def _keys(path: Path, meta: dict) -> dict:
    """blur, yaw and size of one face (what tools.py sort orders by), computed once per file version."""
    from lib import sort
    stamp = _stamp(path)
    with _LOCK:
        hit = _CACHE.get(stamp)
    if hit is not None:
        return hit
    face = sort.Face(path, meta)
    keys = {"blur": round(sort.blur(face), 2), "yaw": round(float(sort.pose(face)[0]), 2),
            "size": round(float(sort.size(face)), 1)}
    with _LOCK:
        _CACHE[stamp] = keys
    return keys


def _identity(path: Path, meta: dict) -> np.ndarray:
    """The face's 128-d embedding: the one extract stored, else computed from the crop (as sort does)."""
    from lib import sort
    stamp = ("identity",) + _stamp(path)
    with _LOCK:
        hit = _CACHE.get(stamp)
    if hit is None:
        global _EMBEDDER
        with _EMBED_LOCK:    # one model, one caller at a time
            if _EMBEDDER is None:
                _EMBEDDER = sort.Embedder()
            hit = np.asarray(_EMBEDDER.of(sort.Face(path, meta)), np.float32)
        with _LOCK:
            _CACHE[stamp] = hit
    return hit


def list_faces(folder: Path, sort_by: str = "frame") -> list[dict]:
    """The faces of ``folder`` (and its sub-folders) with frame number, face index and sort keys, sorted.
    The identity distance (from the main person's mean embedding) is computed only to sort by it."""
    from lib import faceset
    if sort_by not in SORT_KEYS:
        raise FaceswapError(f"cannot sort faces by '{sort_by}': choose one of {', '.join(SORT_KEYS)}")
    folder = Path(folder)
    files = [f for f in faceset.scan(folder, need_meta=True, recursive=True) if f.key is not None]
    entries = []
    for f in files:
        entry = {"name": f.path.relative_to(folder).as_posix(), "frame": f.meta["frame"],
                 "frame_index": f.meta.get("frame_index"), "face_index": int(f.meta["face_index"]),
                 "source": f.meta.get("source"), "identity": None}
        entry.update(_keys(f.path, f.meta))
        entries.append(entry)
    if sort_by == "identity" and len(files) >= 2:
        vectors = np.stack([_identity(f.path, f.meta) for f in files])
        from lib.identity import dominant_identity
        centre = dominant_identity(vectors)
        for entry, dist in zip(entries, np.linalg.norm(vectors - centre, axis=1)):
            entry["identity"] = round(float(dist), 4)
    return sort_faces(entries, sort_by)


def sort_faces(entries: list[dict], sort_by: str) -> list[dict]:
    """frame: in frame order; identity: least like the main person first (where wrong faces are); blur:
    blurriest first; yaw: most turned first; size: smallest first. Wrong faces come first in each."""
    def frame_key(e):
        return (e["frame_index"] if e["frame_index"] is not None else -1, e["frame"], e["face_index"])
    if sort_by == "frame":
        return sorted(entries, key=frame_key)
    if sort_by == "identity":
        return sorted(entries, key=lambda e: (e["identity"] is None, -(e["identity"] or 0), frame_key(e)))
    if sort_by == "blur":
        return sorted(entries, key=lambda e: (e["blur"], frame_key(e)))
    if sort_by == "yaw":
        return sorted(entries, key=lambda e: (-abs(e["yaw"]), frame_key(e)))
    return sorted(entries, key=lambda e: (e["size"], frame_key(e)))


def face_path(folder: Path, name: str) -> Path:
    """The PNG ``name`` (as list_faces gives it) inside ``folder``; nothing outside the folder is reachable."""
    folder = Path(os.path.realpath(folder))
    path = Path(os.path.realpath(folder / name))
    if ".." in Path(name).parts or folder not in path.parents or path.suffix.lower() != ".png":
        raise FaceswapError(f"{name!r} is not a face PNG in {folder.name}")
    if not path.is_file():
        raise FaceswapError(f"face {name} not found in {folder.name} (removed?)")
    return path


def thumbnail(folder: Path, name: str, side: int = THUMB) -> bytes:
    """A small JPEG of one face."""
    import cv2

    from lib.video import read_image
    image = read_image(face_path(folder, name))
    image = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise FaceswapError(f"could not encode a thumbnail of {name}")
    return jpeg.tobytes()


def landmarks(folder: Path, name: str) -> dict:
    """The 68 landmarks of one face in its crop's pixels, with the crop side (to draw them on the thumbnail)."""
    from lib.faces import crop_matrix, read_face_meta, transform_points
    path = face_path(folder, name)
    meta = read_face_meta(path)
    if not meta or "landmarks" not in meta or "matrix" not in meta:
        raise FaceswapError(f"face {name} carries no landmarks")
    side = int(meta.get("size") or 256)
    matrix = crop_matrix(np.asarray(meta["matrix"], np.float64), side, meta.get("centering", "face"))
    points = transform_points(np.asarray(meta["landmarks"], np.float64), matrix)
    return {"name": name, "size": side, "points": np.round(points, 2).tolist(), "frame": meta.get("frame"),
            "frame_index": meta.get("frame_index"), "face_index": meta.get("face_index")}


def guess_alignments(folder: Path, root) -> str | None:
    """The alignments file the faces most likely came from: ``<source stem>_alignments.json`` beside the
    faces folder or in it, or ``alignments.json`` there (as extract names them); relative to ``root``."""
    from lib import faceset
    from lib.alignments import SUFFIX
    folder = Path(folder)
    try:
        first = next((f for f in faceset.scan(folder, need_meta=True) if f.meta), None)
    except FaceswapError:
        return None
    stem = Path(str(first.meta.get("source") or "")).stem if first else ""
    for where in (folder.parent, folder):
        for name in ([stem + SUFFIX] if stem else []) + ["alignments.json"]:
            candidate = where / name
            if candidate.is_file() and root.contains(Path(os.path.realpath(candidate))):
                return root.relative(candidate)
    return None


def remove_faces(folder: Path, alignments: Path, names: list[str]) -> dict:
    """Move the chosen PNGs to ``<folder>_removed`` and run ``alignments -j remove-faces`` on the folder.

    If the job refuses (wrong alignments file, say), the PNGs are put back and its error is raised.
    """
    from lib.gui import forms
    if not names:
        raise FaceswapError("no face chosen: select the faces to remove first")
    folder = Path(folder)
    paths = [face_path(folder, name) for name in dict.fromkeys(names)]
    trash = folder.with_name(folder.name + "_removed")
    trash.mkdir(exist_ok=True)
    moved: list[tuple[Path, Path]] = []
    try:
        for path in paths:
            target = _free_name(trash / path.name)
            shutil.move(str(path), str(target))
            moved.append((path, target))
        args = forms.parse("alignments", {"job": "remove-faces", "alignments": str(alignments),
                                          "faces": str(folder)})
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            forms.module_of("alignments").run(args)
    except BaseException:
        for original, target in reversed(moved):
            shutil.move(str(target), str(original))
        with contextlib.suppress(OSError):
            trash.rmdir()          # only if it is empty: it may hold faces removed before
        raise
    return {"removed": len(moved), "moved_to": str(trash), "message": out.getvalue().strip()}


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(1, 100000):
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise FaceswapError(f"too many removed faces named {path.name} in {path.parent}")
