"""Sort keys and orders of face PNGs (what ``tools.py sort`` and the GUI's face browser sort by): identity,
blur, histogram, yaw, pitch, size, brightness; clusters and bins for grouping; identity outliers."""
from __future__ import annotations

from pathlib import Path

import numpy as np

METHODS = ("identity", "blur", "histogram", "yaw", "pitch", "size", "brightness")


# ---------------------------------------------------------------------------------------------- faces
class Face:
    """A face PNG with what the sort keys need, computed once when first asked for."""

    def __init__(self, path: Path, meta: dict):
        self.path, self.meta = path, meta
        self.identity: np.ndarray | None = None
        self._image = None

    @property
    def size(self) -> int:
        return int(self.meta.get("size") or self.image.shape[0])

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            from lib.video import read_image
            self._image = read_image(self.path)
        return self._image

    def crop_landmarks(self) -> np.ndarray:
        """The 68 landmarks in this crop's pixels (the metadata keeps them in frame pixels)."""
        from lib.faces import crop_matrix, transform_points
        matrix = crop_matrix(np.asarray(self.meta["matrix"]), self.image.shape[0], self.meta.get("centering", "face"))
        return transform_points(np.asarray(self.meta["landmarks"]), matrix)

    def face_mask(self) -> np.ndarray:
        from lib.masks import components
        return components(self.crop_landmarks(), self.image.shape[0]) > 0


class Embedder:
    """128-d identity: from the metadata when extract stored it, else the extract.identity plugin on the crop."""

    def __init__(self):
        self.model = None

    def of(self, face: Face) -> np.ndarray:
        stored = face.meta.get("identity")
        if stored is not None and len(stored) == 128:
            return np.asarray(stored, np.float32)
        if self.model is None:
            from lib import registry
            self.model = registry.get("extract.identity", "dlib-resnet")()
        return self.model.embed(face.image, [face.crop_landmarks()])[0]


def split_outliers(faces: list[Face], threshold: float) -> tuple[list[Face], list[Face]]:
    """Faces within ``threshold`` of the main person's mean embedding, and the rest."""
    from lib.identity import dominant_identity
    if len(faces) < 3:
        return faces, []
    centre = dominant_identity(np.stack([f.identity for f in faces]))
    dist = np.linalg.norm(np.stack([f.identity for f in faces]) - centre, axis=1)
    keep = [f for f, d in zip(faces, dist) if d <= threshold]
    return keep, [f for f, d in zip(faces, dist) if d > threshold]


# ---------------------------------------------------------------------------------------------- keys
def blur(face: Face) -> float:
    import cv2
    grey = cv2.cvtColor(face.image, cv2.COLOR_BGR2GRAY)
    lap = cv2.Laplacian(grey, cv2.CV_64F)
    return float(lap[face.face_mask()].var())


def brightness(face: Face) -> float:
    import cv2
    lab = cv2.cvtColor(face.image, cv2.COLOR_BGR2LAB)
    return float(lab[..., 0][face.face_mask()].mean())


def size(face: Face) -> float:
    from lib.faces import face_size_px
    return face_size_px(np.asarray(face.meta["matrix"]))


def pose(face: Face) -> np.ndarray:
    """(yaw, pitch, roll) degrees; the crop stands in for the frame (the pose is the same up to perspective)."""
    from lib.metrics import head_pose
    side = face.image.shape[0]
    try:
        return head_pose(face.crop_landmarks(), (side, side))
    except ValueError:
        return np.zeros(3)


def histogram(face: Face) -> np.ndarray:
    import cv2
    hsv = cv2.cvtColor(face.image, cv2.COLOR_BGR2HSV)
    mask = face.face_mask().astype(np.uint8)
    hist = cv2.calcHist([hsv], [0, 1], mask, [16, 16], [0, 180, 0, 256]).astype(np.float32)
    return cv2.normalize(hist, None, 1.0, 0.0, cv2.NORM_L1).ravel()


SCALARS = {"blur": (blur, True), "brightness": (brightness, True), "size": (size, True),
           "yaw": (lambda f: float(pose(f)[0]), False), "pitch": (lambda f: float(pose(f)[1]), False)}


def each(faces: list[Face], fn, desc: str) -> list:
    """``fn(face)`` for every face, with a progress bar; each image is let go once used (memory stays flat)."""
    from tqdm import tqdm
    out = []
    for face in tqdm(faces, desc=desc, unit="face", disable=None):
        out.append(fn(face))
        face._image = None
    return out


def arrange(faces: list[Face], method: str, group: bool = False, bins: int = 5, threshold: float = 0.6,
            ref=None) -> tuple[list[int], list[str] | None]:
    """Order of the faces (indices) and, with ``group``, each face's folder name: clusters (identity,
    histogram), ``bins`` value ranges (the others), or match/other with ``ref`` photos."""
    if not faces:
        return [], None if not group else []
    if method in SCALARS:
        key, descending = SCALARS[method]
        values = np.array(each(faces, key, method))
        order = list(np.argsort(-values if descending else values, kind="stable"))
        return order, (_bins(values, bins, method, descending) if group else None)
    if method == "histogram":
        hists = np.stack(each(faces, histogram, method))
        dist = _bhattacharyya(hists)
        return _chain(dist), (_clusters(dist, 0.35) if group else None)
    vectors = np.stack([f.identity for f in faces])
    if ref:
        refs = _references(ref)
        dist = np.linalg.norm(vectors[:, None] - refs[None], axis=2).min(axis=1)
        order = list(np.argsort(dist, kind="stable"))
        if group:
            return order, ["match" if d <= threshold else "other" for d in dist]
        return order, None
    from lib.identity import cluster
    labels = cluster(vectors, threshold)
    sizes = np.bincount(labels)
    rank = {label: r for r, label in enumerate(sorted(set(labels), key=lambda l: (-sizes[l], l)))}
    centres = {l: vectors[labels == l].mean(0) for l in rank}
    spread = [float(np.linalg.norm(v - centres[l])) for v, l in zip(vectors, labels)]
    order = sorted(range(len(faces)), key=lambda i: (rank[labels[i]], spread[i]))
    return order, ([f"group_{rank[l]:03d}" for l in labels] if group else None)


def _bins(values: np.ndarray, bins: int, method: str, descending: bool) -> list[str]:
    edges = np.linspace(values.min(), values.max(), bins + 1)
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    if descending:
        index = bins - 1 - index
    names = []
    for i in index:
        lo, hi = (edges[bins - 1 - i], edges[bins - i]) if descending else (edges[i], edges[i + 1])
        names.append(f"{i:02d}_{method}_{lo:.0f}_to_{hi:.0f}")
    return names


def _bhattacharyya(hists: np.ndarray) -> np.ndarray:
    """Pairwise Bhattacharyya distance of L1-normalised histograms (0 = same, 1 = disjoint); float32, so
    10,000 faces take 400 MB."""
    root = np.sqrt(np.clip(hists, 0, None)).astype(np.float32)
    return np.sqrt(np.clip(1.0 - root @ root.T, 0.0, 1.0))


def _chain(dist: np.ndarray) -> list[int]:
    """Greedy nearest-neighbour path: each face is followed by the most similar face not yet placed."""
    n = len(dist)
    order, left = [0], np.ones(n, bool)
    left[0] = False
    for _ in range(n - 1):
        row = np.where(left, dist[order[-1]], np.inf)
        nxt = int(np.argmin(row))
        order.append(nxt)
        left[nxt] = False
    return order


def _clusters(dist: np.ndarray, threshold: float) -> list[str]:
    """Connected groups of faces closer than ``threshold``, named by size (group_000 = biggest)."""
    n = len(dist)
    labels = -np.ones(n, int)
    current = 0
    for start in range(n):
        if labels[start] >= 0:
            continue
        stack = [start]
        labels[start] = current
        while stack:
            i = stack.pop()
            for j in np.nonzero((dist[i] < threshold) & (labels < 0))[0]:
                labels[j] = current
                stack.append(j)
        current += 1
    sizes = np.bincount(labels)
    rank = {label: r for r, label in enumerate(sorted(range(current), key=lambda l: (-sizes[l], l)))}
    return [f"group_{rank[l]:03d}" for l in labels]


def _references(paths) -> np.ndarray:
    """Embeddings of the reference photos; the detector is loaded only if a photo is not a face PNG."""
    from lib.identity import reference_embeddings

    class LazyExtractor:
        extractor = None

        def faces(self, image):
            if self.extractor is None:
                from lib.extractor import Extractor
                self.extractor = Extractor(masks=())
            return self.extractor.faces(image)

    return reference_embeddings(paths, LazyExtractor())
