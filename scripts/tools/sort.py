"""Sort a folder of faces: by identity, blur, histogram, yaw, pitch, size or brightness; drop outliers.

Faces are copied (or moved with --move) into -o, either renamed in order (00000_<name>.png, best first)
or, with --group, into folders (identity/histogram: clusters, biggest first; the others: --bins ranges).
Files keep their bytes, so their metadata stays and the alignments tools still find them.

  identity    distance to --ref photos (nearest first), or clusters of look-alike faces (no --ref)
  blur        sharpest first (variance of the Laplacian inside the face)
  histogram   each face next to the one whose colour histogram is most like it
  yaw/pitch   head turn left->right / down->up, in degrees (solvePnP on the landmarks)
  size        biggest face in its frame first        brightness  brightest face area first

--remove-outliers moves faces unlike the rest (identity distance from the main person above --threshold)
into --outliers-dir (default: <output>/outliers) before sorting.
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError

log = logging.getLogger(__name__)

METHODS = ("identity", "blur", "histogram", "yaw", "pitch", "size", "brightness")


def add_arguments(parser) -> None:
    parser.add_argument("-i", "--input", required=True, metavar="FOLDER", help="folder of face PNGs (from extract)")
    parser.add_argument("-o", "--output", metavar="FOLDER", help="where the sorted faces go (default: <input>_sorted)")
    parser.add_argument("-s", "--sort-by", default="identity", choices=METHODS, help="sort key (default identity)")
    parser.add_argument("--ref", nargs="+", metavar="PHOTO",
                        help="identity: photos or face PNGs (files or folders) of the person to put first")
    parser.add_argument("--group", action="store_true",
                        help="into folders instead of ordered names: clusters (identity, histogram) or --bins ranges")
    parser.add_argument("--bins", type=int, default=5, help="--group with a numeric key: number of folders (5)")
    parser.add_argument("--threshold", type=float, default=0.6,
                        help="identity distance that separates people (dlib ResNet; same person < 0.6)")
    parser.add_argument("--move", action="store_true", help="move the faces instead of copying them")
    parser.add_argument("--remove-outliers", action="store_true",
                        help="first move faces unlike the main person (identity) into --outliers-dir")
    parser.add_argument("--outliers-dir", metavar="FOLDER", help="where outliers go (default: <output>/outliers)")


def run(args) -> int:
    from lib import faceset
    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.name}_sorted")
    if out.resolve() == src.resolve():
        raise FaceswapError(f"-o {out} is the input folder: sort into another folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FaceswapError(f"output {out} exists and is not an empty folder: choose a new -o")
    if args.bins < 1 or not 0 < args.threshold < 2:
        raise FaceswapError("--bins must be 1 or more and --threshold between 0 and 2")
    if args.ref and args.sort_by != "identity":
        raise FaceswapError(f"--ref is for -s identity, not -s {args.sort_by}")
    files = [f for f in faceset.scan(src, need_meta=True) if f.meta]
    faces = [Face(f.path, f.meta) for f in files]
    outliers: list[Face] = []
    if args.remove_outliers or args.sort_by == "identity":
        embedder = Embedder()
        for face, vector in zip(faces, each(faces, embedder.of, "identity")):
            face.identity = vector
    if args.remove_outliers:
        faces, outliers = split_outliers(faces, args.threshold)
    order, groups = arrange(faces, args)
    out.mkdir(parents=True, exist_ok=True)
    send = shutil.move if args.move else shutil.copy2
    if outliers:
        odir = Path(args.outliers_dir) if args.outliers_dir else out / "outliers"
        odir.mkdir(parents=True, exist_ok=True)
        for face in outliers:
            send(str(face.path), str(odir / face.path.name))
        print(f"moved {len(outliers)} outlier(s) to {odir}" if args.move else
              f"copied {len(outliers)} outlier(s) to {odir}")
    for rank, index in enumerate(order):
        face = faces[index]
        if groups is None:
            target = out / f"{rank:05d}_{face.path.name}"
        else:
            folder = out / groups[index]
            folder.mkdir(exist_ok=True)
            target = folder / face.path.name
        send(str(face.path), str(target))
    where = f"{len(set(groups))} folder(s) in {out}" if groups is not None else str(out)
    print(f"sorted {len(order)} face(s) by {args.sort_by} into {where}")
    return 0


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


def arrange(faces: list[Face], args) -> tuple[list[int], list[str] | None]:
    """Order of the faces (indices) and, with --group, each face's folder name."""
    if not faces:
        return [], None if not args.group else []
    method = args.sort_by
    if method in SCALARS:
        key, descending = SCALARS[method]
        values = np.array(each(faces, key, method))
        order = list(np.argsort(-values if descending else values, kind="stable"))
        return order, (_bins(values, args.bins, method, descending) if args.group else None)
    if method == "histogram":
        hists = np.stack(each(faces, histogram, method))
        dist = _bhattacharyya(hists)
        return _chain(dist), (_clusters(dist, 0.35) if args.group else None)
    vectors = np.stack([f.identity for f in faces])
    if args.ref:
        refs = _references(args.ref)
        dist = np.linalg.norm(vectors[:, None] - refs[None], axis=2).min(axis=1)
        order = list(np.argsort(dist, kind="stable"))
        if args.group:
            return order, ["match" if d <= args.threshold else "other" for d in dist]
        return order, None
    from lib.identity import cluster
    labels = cluster(vectors, args.threshold)
    sizes = np.bincount(labels)
    rank = {label: r for r, label in enumerate(sorted(set(labels), key=lambda l: (-sizes[l], l)))}
    centres = {l: vectors[labels == l].mean(0) for l in rank}
    spread = [float(np.linalg.norm(v - centres[l])) for v, l in zip(vectors, labels)]
    order = sorted(range(len(faces)), key=lambda i: (rank[labels[i]], spread[i]))
    return order, ([f"group_{rank[l]:03d}" for l in labels] if args.group else None)


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
