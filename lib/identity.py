"""Keep the right person: reference-photo filters and the automatic dominant-identity mode.

Faces are compared by the distance between their 128-d dlib ResNet embeddings: the same person is
usually within 0.6, different people beyond it. The automatic mode clusters the embeddings of a whole
input (Chinese whispers, as dlib ships it) and keeps the faces near the centre of the biggest cluster.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError
from lib.video import IMAGE_EXTS, list_images, read_image

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.6


def _photo_paths(paths) -> list[Path]:
    out = []
    for path in map(Path, paths):
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise FaceswapError(f"no images in reference folder {path}")
            out += found
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_EXTS:
                raise FaceswapError(f"reference {path} is not an image (jpg/png/...)")
            out.append(path)
        else:
            raise FaceswapError(f"reference photo not found: {path}")
    return out


def reference_embeddings(paths, extractor) -> np.ndarray:
    """(N, 128) embeddings of the largest face in each reference photo (or folder of photos).

    A face PNG written by extract is used as it is when it carries an embedding.
    """
    from lib.faces import read_face_meta
    vectors = []
    for path in _photo_paths(paths):
        meta = read_face_meta(path) if path.suffix.lower() == ".png" else None
        if meta and meta.get("identity"):
            vectors.append(np.asarray(meta["identity"], np.float32))
            continue
        faces = extractor.faces(read_image(path))
        if not faces:
            raise FaceswapError(f"no face found in reference photo {path}: use a clear, frontal photo of the person")
        largest = max(faces, key=lambda f: f.box[2] * f.box[3])
        vectors.append(largest.identity)
    return np.asarray(vectors, np.float32).reshape(-1, 128)


def _min_distance(vector: np.ndarray, refs: np.ndarray) -> float:
    return float(np.linalg.norm(refs - vector, axis=1).min()) if len(refs) else np.inf


class ReferenceFilter:
    """``--filter`` keeps faces within ``threshold`` of a wanted photo (and nearer to it than to any
    unwanted one); ``--nfilter`` drops faces within ``threshold`` of an unwanted photo. The one identity
    filter of extract and convert."""

    def __init__(self, wanted: np.ndarray | None, unwanted: np.ndarray | None, threshold: float = DEFAULT_THRESHOLD,
                 embedder=None):
        self.wanted = np.zeros((0, 128), np.float32) if wanted is None else wanted
        self.unwanted = np.zeros((0, 128), np.float32) if unwanted is None else unwanted
        self.threshold = threshold
        self.embedder = embedder

    @classmethod
    def from_photos(cls, wanted, unwanted, threshold: float, extractor) -> "ReferenceFilter":
        """The filter of the ``-f`` (``wanted``) and ``-n`` (``unwanted``) photos or folders; ``extractor`` must
        compute identities: it embeds the photos, and later the faces that come without an embedding."""
        return cls(reference_embeddings(wanted, extractor) if wanted else None,
                   reference_embeddings(unwanted, extractor) if unwanted else None, threshold, extractor.embedder)

    def keep(self, vector: np.ndarray | None) -> bool:
        if vector is None:
            return not len(self.wanted)
        near_bad = _min_distance(vector, self.unwanted)
        if len(self.wanted):
            near_good = _min_distance(vector, self.wanted)
            return near_good <= self.threshold and near_good < near_bad
        return near_bad > self.threshold

    def select(self, image: np.ndarray, faces: list) -> list:
        """The faces of one frame to keep. A face with no embedding yet (an alignments file written with
        ``--identity off``, faces detected by convert) is embedded from ``image`` first."""
        missing = [face for face in faces if face.identity is None]
        if missing and self.embedder is not None:
            for face, vector in zip(missing, self.embedder.embed(image, [face.landmarks for face in missing])):
                face.identity = np.asarray(vector, np.float32)
        return [face for face in faces if self.keep(face.identity)]


def cluster(vectors: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Cluster labels of (N, 128) embeddings by Chinese whispers (dlib): edges join faces within ``threshold``."""
    import dlib
    if len(vectors) == 0:
        return np.zeros(0, np.int64)
    labels = dlib.chinese_whispers_clustering([dlib.vector(v.astype(np.float64).tolist()) for v in vectors],
                                              threshold)
    return np.asarray(labels, np.int64)


def dominant_identity(vectors: np.ndarray, weights: np.ndarray | None = None, threshold: float = 0.5,
                      max_points: int = 2000, seed: int = 0) -> np.ndarray | None:
    """Mean embedding of the biggest cluster (by total ``weights``, e.g. frames each embedding covers)."""
    vectors = np.asarray(vectors, np.float32).reshape(-1, 128)
    weights = np.ones(len(vectors)) if weights is None else np.asarray(weights, np.float64)
    if len(vectors) == 0:
        return None
    if len(vectors) > max_points:   # clustering is quadratic: a random sample finds the big cluster
        pick = np.random.default_rng(seed).choice(len(vectors), max_points, replace=False, p=weights / weights.sum())
        vectors, weights = vectors[pick], np.ones(max_points)
    labels = cluster(vectors, threshold)
    totals = np.bincount(labels, weights=weights)
    main = labels == int(np.argmax(totals))
    return np.average(vectors[main], axis=0, weights=weights[main]).astype(np.float32)


def near(vector: np.ndarray | None, centre: np.ndarray | None, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True if ``vector`` is within ``threshold`` of ``centre`` (faces with no embedding are kept)."""
    if vector is None or centre is None:
        return True
    return float(np.linalg.norm(vector - centre)) <= threshold


def dominant_filter(frames: dict, threshold: float = DEFAULT_THRESHOLD) -> dict[str, list[bool]]:
    """Automatic identity mode over one input's ``frame name -> faces``: for every frame with a face to drop,
    which of its faces are near the dominant identity (weighted by the frames each embedding covers)."""
    vectors, weights, seen = [], [], {}
    for faces in frames.values():
        for face in faces:
            if face.identity is None:
                continue
            key = id(face.identity)   # tracked faces share their keyframe's embedding array
            if key not in seen:
                seen[key] = len(vectors)
                vectors.append(face.identity)
                weights.append(0)
            weights[seen[key]] += 1
    if len(vectors) < 2:
        return {}
    centre = dominant_identity(np.asarray(vectors), np.asarray(weights, np.float64))
    out = {}
    for name, faces in frames.items():
        keep = [near(face.identity, centre, threshold) for face in faces]
        if not all(keep):
            out[name] = keep
    return out
