"""Training data: the face PNGs written by extract, augmented, batched in background threads.

Every face PNG carries its landmarks (frame px), its frame->template matrix, crop size and centering
(lib/faces.py), so a folder of faces is all training needs. Faces are decoded once into memory at a working
size; each sample is then:

1. a random similarity transform (rotation, zoom, shift) and a horizontal flip (unless ``--no-flip``),
2. colour jitter in LAB (brightness, contrast, tint),
3. the central ``coverage`` region is cut out; the *target* is that region at the model's output size,
4. the *input* is the same region bent by the classic random warp (a 5x5 grid of jittered control points)
   or, with ``--warp-to-landmarks``, moved onto the landmarks of another face of the same person,
5. masks for the loss (face, eyes, mouth) are drawn from the landmarks at the output size; with
   ``--mask-type learned`` the face mask is each face's learned mask (lib/learned_masks.py), warped alike.

Batches are uint8; the model converts them. OpenCV releases the GIL, so a few threads keep up with the
model (measured by ``scripts/bench_train.py --data``).
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from lib.errors import FaceswapError
from lib.faces import crop_matrix, face_masks, read_face_meta, transform_points

log = logging.getLogger(__name__)

MIN_FACES = 25
FEW_FACES = 250
COVERAGE = 1.0


@dataclass
class FaceSet:
    """The faces of one identity, decoded at the working size, with their landmarks in that crop."""
    folder: Path
    images: np.ndarray      # (N, S, S, 3) uint8 BGR
    landmarks: np.ndarray   # (N, 68, 2) float32, pixels of the S crop
    centering: str
    names: list[str]
    learned: np.ndarray | None = None   # (N, S, S) uint8 learned masks, when every face carries one

    def __len__(self) -> int:
        return len(self.images)


def working_size(input_size: int, output_size: int, coverage: float = COVERAGE) -> int:
    """Size faces are kept at in memory: the covered region holds the larger of input and output."""
    return int(np.ceil(max(input_size, output_size) / coverage / 4) * 4)


def check_folder(folder, side: str, min_faces: int = MIN_FACES) -> list[Path]:
    """The face PNGs of ``folder`` after cheap checks (no decoding): exists, enough faces, all with metadata."""
    from lib.video import list_images
    folder = Path(folder)
    if not folder.is_dir():
        raise FaceswapError(f"faces folder for side {side} not found: {folder} (make it with 'faceswap.py extract')")
    files = [p for p in list_images(folder) if p.suffix.lower() == ".png"]
    if len(files) < min_faces:
        raise FaceswapError(f"side {side}: {folder} has {len(files)} face PNG(s); training needs at least "
                            f"{min_faces} faces of each person: extract more frames")
    for path in files:
        meta = read_face_meta(path)
        if not meta or "landmarks" not in meta or "matrix" not in meta:
            raise FaceswapError(f"side {side}: {path} is not a face extracted by faceswap (no face metadata): "
                                f"train on the faces folder written by 'faceswap.py extract'")
    return files


def load_faces(folder, side: str, input_size: int, output_size: int, coverage: float = COVERAGE,
               min_faces: int = MIN_FACES, files: list[Path] | None = None) -> FaceSet:
    """Read every face PNG of ``folder`` (or only ``files``, already passed by :func:`check_folder`); clear
    errors for a missing/empty folder, plain images, wrong sizes."""
    from lib.video import read_image
    folder = Path(folder)
    files = check_folder(folder, side, min_faces) if files is None else files
    if min_faces >= MIN_FACES and len(files) < FEW_FACES:
        log.warning("side %s: only %d faces in %s; a few hundred varied faces train much better",
                    side, len(files), folder)
    size = working_size(input_size, output_size, coverage)
    images = np.empty((len(files), size, size, 3), np.uint8)
    landmarks = np.empty((len(files), 68, 2), np.float32)
    learned: list | None = []
    centerings = set()
    for i, path in enumerate(files):
        meta = read_face_meta(path)
        image = read_image(path)
        crop = image.shape[0]
        if image.shape[0] != image.shape[1]:
            raise FaceswapError(f"side {side}: {path} is not a square aligned face: re-extract it")
        needed = int(np.ceil(max(input_size, output_size) / coverage))
        if crop < needed * 0.75:
            raise FaceswapError(f"side {side}: faces in {folder} are {crop} px but this model needs at least "
                                f"{needed} px faces: extract again with a larger --size")
        centering = meta.get("centering", "face")
        centerings.add(centering)
        to_crop = crop_matrix(np.asarray(meta["matrix"], np.float64), crop, centering)   # the PNG's own pixels
        points = transform_points(np.asarray(meta["landmarks"], np.float64), to_crop)
        images[i] = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA if crop > size else cv2.INTER_CUBIC)
        landmarks[i] = points * (size / crop)
        if learned is not None and "learned" in (meta.get("masks") or {}):
            learned.append(face_masks(meta, size)["learned"])
        else:
            learned = None
    if len(centerings) > 1:
        raise FaceswapError(f"side {side}: {folder} mixes faces of centering {', '.join(sorted(centerings))}: "
                            f"extract all faces with the same --centering")
    return FaceSet(folder, images, landmarks, centerings.pop(), [p.name for p in files],
                   np.stack(learned) if learned else None)


@dataclass
class Augment:
    """How samples are varied. Defaults follow the classic deepfakes training."""
    input_size: int = 64
    output_size: int = 64
    coverage: float = COVERAGE
    rotation: float = 10.0       # degrees
    zoom: float = 0.05
    shift: float = 0.05
    flip: bool = True
    color: bool = True
    warp: bool = True
    warp_to_landmarks: bool = False
    mask_type: str = "extended"  # face mask for the loss: components, extended, learned or none


def masks_for(points: np.ndarray, size: int, mask_type: str, learned: np.ndarray | None = None) -> np.ndarray:
    """(size, size, 3) uint8: face mask, eyes, mouth (255 inside) from landmarks in this crop (the face mask is
    ``learned``, already in this crop, for mask type learned)."""
    from lib import masks as masklib
    out = np.zeros((size, size, 3), np.uint8)
    if mask_type == "none":
        out[..., 0] = 255
    elif mask_type == "learned":
        out[..., 0] = learned
    else:
        out[..., 0] = masklib.MASKS[mask_type](points, size)
    grow = max(1, size // 32)
    for channel, parts in ((1, (range(36, 42), range(42, 48), range(17, 22), range(22, 27))), (2, (range(48, 60),))):
        layer = np.zeros((size, size), np.uint8)
        for part in parts:
            hull = cv2.convexHull(np.round(points[list(part)]).astype(np.int32))
            cv2.fillConvexPoly(layer, hull, 255)
        out[..., channel] = cv2.dilate(layer, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8))
    return out


class Sampler:
    """Makes augmented (input, target, masks) samples from one FaceSet."""

    def __init__(self, faces: FaceSet, aug: Augment, seed: int | None = None):
        if aug.mask_type == "learned" and faces.learned is None:
            raise FaceswapError(f"--mask-type learned: not every face of {faces.folder} has a learned mask: draw them "
                                f"with 'tools.py mask -f {faces.folder} --mask-model DIR' (see USAGE.md)")
        self.faces, self.aug = faces, aug
        self.rng = np.random.default_rng(seed)
        size = faces.images.shape[1]
        self.region = int(round(size * aug.coverage))
        self.offset = (size - self.region) / 2.0

    def sample(self, index: int, augment: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        aug, rng = self.aug, self.rng
        image, points = self.faces.images[index], self.faces.landmarks[index].astype(np.float64)
        size, region = image.shape[0], self.region
        # 1. similarity transform into the covered region (plus flip)
        angle = rng.uniform(-aug.rotation, aug.rotation) if augment else 0.0
        scale = 1.0 + (rng.uniform(-aug.zoom, aug.zoom) if augment else 0.0)
        shift = rng.uniform(-aug.shift, aug.shift, 2) * region if augment else np.zeros(2)
        mat = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
        mat[:, 2] += shift - self.offset
        if augment and aug.flip and rng.random() < 0.5:
            mat = np.array([[-1, 0, region], [0, 1, 0]], np.float64) @ np.vstack([mat, [0, 0, 1]])
        face = cv2.warpAffine(image, mat, (region, region), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        points = transform_points(points, mat)
        # 2. colour jitter
        if augment and aug.color:
            face = self._jitter(face)
        # 3. target and masks
        out = aug.output_size
        target = cv2.resize(face, (out, out), interpolation=cv2.INTER_AREA)
        learned = None
        if aug.mask_type == "learned":
            learned = cv2.warpAffine(self.faces.learned[index], mat, (region, region), flags=cv2.INTER_LINEAR)
            learned = cv2.resize(learned, (out, out), interpolation=cv2.INTER_AREA)
        masks = masks_for(points * (out / region), out, aug.mask_type, learned)
        # 4. warped input
        if augment and aug.warp_to_landmarks:
            warped = self._warp_to_landmarks(face, points, mat)
        elif augment and aug.warp:
            warped = self._random_warp(face)
        else:
            warped = cv2.resize(face, (aug.input_size, aug.input_size), interpolation=cv2.INTER_AREA)
        return warped, target, masks

    def _jitter(self, face: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(face, cv2.COLOR_BGR2LAB).astype(np.float32)
        lab[..., 0] = (lab[..., 0] - 128) * self.rng.uniform(0.9, 1.1) + 128 + self.rng.uniform(-12, 12)
        lab[..., 1:] += self.rng.uniform(-6, 6, 2)
        return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2BGR)

    def _random_warp(self, face: np.ndarray) -> np.ndarray:
        """The classic deepfakes warp: jitter a 5x5 grid of control points, interpolate, remap."""
        region, size = face.shape[0], self.aug.input_size
        grid = np.broadcast_to(np.linspace(0, region - 1, 5), (5, 5)).astype(np.float32)
        noise = self.rng.normal(0, region * 0.02, (2, 5, 5)).astype(np.float32)
        # resize the 5x5 grid 5/4 larger and keep the middle: its corners then sit on the grid's corners
        big = int(round(size * 1.25))
        pad = (big - size) // 2
        map_x = cv2.resize(grid + noise[0], (big, big), interpolation=cv2.INTER_CUBIC)[pad:pad + size, pad:pad + size]
        map_y = cv2.resize(grid.T + noise[1], (big, big), interpolation=cv2.INTER_CUBIC)[pad:pad + size, pad:pad + size]
        return cv2.remap(face, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _warp_to_landmarks(self, face: np.ndarray, points: np.ndarray, mat: np.ndarray) -> np.ndarray:
        """Move this face's landmarks onto those of another face of the same person (piecewise linear).

        The other face goes through this sample's transform ``mat`` too, so only the face shape changes."""
        from scipy.interpolate import griddata
        region, size = face.shape[0], self.aug.input_size
        other = transform_points(self.faces.landmarks[self.rng.integers(len(self.faces))], mat)
        other = other - other.mean(0) + points.mean(0)   # same place, other shape
        edge = np.linspace(0, region - 1, 5)
        border = np.array([(x, y) for x in edge for y in edge if x in (edge[0], edge[-1]) or y in (edge[0], edge[-1])])
        src = np.vstack([points, border])
        dst = np.vstack([other, border])
        xs = np.linspace(0, region - 1, size)
        gx, gy = np.meshgrid(xs, xs)
        maps = griddata(dst, src, (gx, gy), method="linear")
        maps = np.where(np.isfinite(maps), maps, np.stack([gx, gy], -1)).astype(np.float32)
        return cv2.remap(face, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def batch(self, indices, augment: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        samples = [self.sample(i, augment) for i in indices]
        return tuple(np.stack(parts) for parts in zip(*samples))


class Feeder:
    """Background threads filling a queue with batches for one side, so the model never waits."""

    def __init__(self, faces: FaceSet, aug: Augment, batch_size: int, workers: int = 2, depth: int = 4,
                 seed: int | None = None):
        self.faces, self.batch_size = faces, batch_size
        self.queue: queue.Queue = queue.Queue(depth)
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        seeds = np.random.SeedSequence(seed).spawn(workers)
        self.threads = [threading.Thread(target=self._work, args=(Sampler(faces, aug, s),), daemon=True)
                        for s in seeds]
        for thread in self.threads:
            thread.start()

    def _work(self, sampler: Sampler) -> None:
        rng = np.random.default_rng(sampler.rng.integers(1 << 31))
        count = len(self.faces)
        try:
            while not self.stop_event.is_set():
                indices = rng.choice(count, self.batch_size, replace=count < self.batch_size)
                item = sampler.batch(indices)
                while not self.stop_event.is_set():
                    try:
                        self.queue.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        except BaseException as err:  # noqa: BLE001 - handed to the training thread
            self.error = err
            self.stop_event.set()

    def next(self):
        while True:
            if self.error is not None:
                raise self.error
            try:
                return self.queue.get(timeout=0.5)
            except queue.Empty:
                continue

    def close(self) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=2)
