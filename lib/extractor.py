"""The extraction pipeline: detect -> align -> masks -> identity for one image, or streamed over a video.

``Extractor.faces(image)`` gives the full result for one frame (used by convert, evaluate and sort).
``Extractor.stream(frames)`` is the fast path for video: it runs the detector only on keyframes (every
``detect_every`` frames, or when a track is lost) and in between *tracks* each face: the box is predicted
from the previous frame's landmarks and the 68-point predictor re-run on it, which costs ~0.5 ms instead
of a detection. A small normalised patch of the aligned face is compared with the one from the last
detection; when it no longer matches (occlusion, face left the frame) the frame is re-detected at once.
Identity embeddings (~60 ms a face) are computed when a track starts and every ``embed_every`` frames,
and carried by the track in between.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from lib import registry, rotation
from lib.alignments import Face
from lib.faces import align_matrix, crop_matrix, face_size_px, invert, transform_points
from lib.masks import LazyMasks, mask_in_space

log = logging.getLogger(__name__)

# Where dlib's detector box sits in template space (median over 125 real faces): centre and side, in
# template units. Boxes for the 68-point predictor are made from this, not from the detector's own box,
# so landmarks do not jump with the detector's pyramid steps and tracked frames match detected ones.
BOX_CENTRE = np.array([0.481, 0.503])
BOX_SIDE = 1.37
PATCH = 32             # side of the appearance patch used to check a track
MATCH_NCC = 0.55       # normalised cross-correlation below which a track is lost
MAX_UNCONFIRMED = 4    # keyframes a track may go on without the detector seeing it




def landmark_box(matrix: np.ndarray) -> np.ndarray:
    """The (x, y, w, h) box dlib's detector would give for the face with this frame->template ``matrix``."""
    centre = transform_points(BOX_CENTRE[None], invert(matrix))[0]
    side = BOX_SIDE * face_size_px(matrix)
    return np.round([centre[0] - side / 2, centre[1] - side / 2, side, side]).astype(np.int64)


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _patch(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Small zero-mean, unit-variance grey patch of the aligned face: cheap to compare between frames."""
    crop = cv2.warpAffine(image, crop_matrix(matrix, PATCH, "face"), (PATCH, PATCH), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    crop = (crop if crop.ndim == 2 else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)).astype(np.float32)
    crop -= crop.mean()
    return crop / (crop.std() + 1e-6)


@dataclass
class _Track:
    landmarks: np.ndarray
    matrix: np.ndarray
    patch: np.ndarray
    score: float
    identity: np.ndarray | None = None
    since_embed: int = 0
    unconfirmed: int = 0

    def predicted_box(self) -> np.ndarray:
        return landmark_box(self.matrix)


class Extractor:
    """Detector, aligner, masks and identity embedder, loaded once and reused for every frame."""

    def __init__(self, detector: str = "yunet", aligner: str = "dlib-68", masks=("components", "extended"),
                 identity: bool = True, min_size: int = 0, mask_size: int = 128, mask_centering: str = "face",
                 rotate=rotation.ANGLES, **detector_options):
        self.detector_name = detector
        self.rotate = tuple(rotate or ())   # angles to retry a frame at when it shows no face (lib.rotation)
        self.detector = registry.get("extract.detect", detector)(**detector_options)
        self.aligner = registry.get("extract.align", aligner)()
        self.mask_names = tuple(masks or ())
        for name in self.mask_names:
            registry.get("extract.mask", name)
        self.embedder = registry.get("extract.identity", "dlib-resnet")() if identity else None
        self.min_size = min_size
        self.mask_space = {"size": mask_size, "centering": mask_centering}

    # ------------------------------------------------------------------------------------ one image
    def _detect(self, images: list[np.ndarray]) -> list[list[tuple[np.ndarray, float, float]]]:
        """(box, score, angle) per face; a frame with none is tried again rotated (``angle`` uprights the face)."""
        found = self.detector.detect(images)
        if self.rotate:
            found = [rotation.retry(self.detector.detect, image, faces, self.rotate)
                     for image, faces in zip(images, found)]
        return [[(np.asarray(box, np.int64), float(score), float(tilt[0]) if tilt and tilt[0] is not None else 0.0)
                 for box, score, *tilt in faces if max(box[2], box[3]) >= self.min_size] for faces in found]

    def _face(self, box, landmarks, score, identity=None, lazy=False, matrix=None) -> Face:
        face = Face(np.asarray(box, np.int64), np.asarray(landmarks, np.float32), score, self.detector_name, identity)
        face.matrix = matrix
        size, centering = self.mask_space["size"], self.mask_space["centering"]
        if lazy:
            face.masks = LazyMasks(face.landmarks, face.matrix, size, centering, self.mask_names)
        else:
            face.masks = {name: mask_in_space(name, face.landmarks, face.matrix, size, centering)
                          for name in self.mask_names}
        return face

    def _align(self, image: np.ndarray, found) -> list[np.ndarray]:
        """Landmarks from the detector's (box, score, angle)s, then once more from the boxes and tilts those
        landmarks imply (and a third time where that tilt was far from the one aligned at); a tilted face is
        aligned in an upright crop (lib.rotation)."""
        angles = [angle for *_, angle in found]
        landmarks = rotation.align(self.aligner, image, [box for box, *_ in found], angles)
        for _ in range(2):
            matrices = [align_matrix(lm) for lm in landmarks]
            tilts = [rotation.roll(m) for m in matrices]
            redo = [i for i, (a, b) in enumerate(zip(angles, tilts)) if _ == 0 or rotation.turned(a, b)]
            for i, lm in zip(redo, rotation.align(self.aligner, image, [landmark_box(matrices[i]) for i in redo],
                                                  [tilts[i] for i in redo])):
                landmarks[i] = lm
            angles = tilts
        return landmarks

    def faces(self, image: np.ndarray) -> list[Face]:
        """Every face in one BGR frame: box, landmarks, matrix, masks (alignments mask space), identity."""
        return self.faces_batch([image])[0]

    def faces_batch(self, images: list[np.ndarray]) -> list[list[Face]]:
        """``faces`` for several frames, with one detector call (batched where the detector supports it)."""
        out = []
        for image, found in zip(images, self._detect(images)):
            landmarks = self._align(image, found)
            ids = self.embedder.embed(image, landmarks) if self.embedder and landmarks else [None] * len(found)
            out.append([self._face(box, lm, score, ident) for (box, score, _), lm, ident in zip(found, landmarks, ids)])
        return out

    # ------------------------------------------------------------------------------------ streams
    def stream(self, frames: Iterable, track: bool = True, detect_every: int = 8, embed_every: int = 50,
               batch_size: int = 1) -> Iterator[tuple[object, list[Face]]]:
        """Yield ``(frame, faces)`` for each ``lib.video.Frame``; masks are drawn lazily from the landmarks.

        With ``track`` (consecutive video frames) the detector runs on keyframes only; without it every
        frame is detected, ``batch_size`` frames per detector call.
        """
        if not track:
            yield from self._stream_detect(frames, batch_size)
            return
        tracks: list[_Track] = []
        since_detect = detect_every
        for frame in frames:
            lost = False
            if tracks and since_detect < detect_every:
                lost = not self._follow(frame.image, tracks)
            if not tracks or lost or since_detect >= detect_every:
                tracks = self._redetect(frame.image, tracks)
                since_detect = 0
            since_detect += 1
            self._embed(frame.image, tracks, embed_every)
            yield frame, [self._face(t.predicted_box(), t.landmarks, t.score, t.identity, True, t.matrix)
                          for t in tracks]

    def _stream_detect(self, frames, batch_size: int):
        batch = []
        for frame in frames:
            batch.append(frame)
            if len(batch) >= max(1, batch_size):
                yield from self._finish_batch(batch)
                batch = []
        if batch:
            yield from self._finish_batch(batch)

    def _finish_batch(self, batch):
        for frame, found in zip(batch, self._detect([f.image for f in batch])):
            landmarks = self._align(frame.image, found)
            ids = self.embedder.embed(frame.image, landmarks) if self.embedder and landmarks else [None] * len(found)
            yield frame, [self._face(box, lm, score, ident, lazy=True)
                          for (box, score, _), lm, ident in zip(found, landmarks, ids)]

    def _follow(self, image: np.ndarray, tracks: list[_Track]) -> bool:
        """Move every track to this frame (aligned upright at its last tilt, so a turning head is followed);
        False if any of them no longer looks like its face."""
        boxes = [t.predicted_box() for t in tracks]
        for track, landmarks in zip(tracks, rotation.align(self.aligner, image, boxes,
                                                           [rotation.roll(t.matrix) for t in tracks])):
            matrix = align_matrix(landmarks)
            patch = _patch(image, matrix)
            if float((patch * track.patch).mean()) < MATCH_NCC:
                return False
            track.landmarks, track.matrix = landmarks, matrix
            track.since_embed += 1
        return True

    def _redetect(self, image: np.ndarray, tracks: list[_Track]) -> list[_Track]:
        """Run the detector; detections continue the track they overlap (keeping its identity) or start one."""
        found = self._detect([image])[0]
        landmarks = self._align(image, found)
        out, used = [], set()
        for (box, score, _), lm in zip(found, landmarks):
            matrix = align_matrix(lm)
            track = _Track(lm, matrix, _patch(image, matrix), score)
            best = max(((i, _iou(t.predicted_box(), box)) for i, t in enumerate(tracks) if i not in used),
                       key=lambda item: item[1], default=(None, 0.0))
            if best[0] is not None and best[1] > 0.3:
                used.add(best[0])
                track.identity, track.since_embed = tracks[best[0]].identity, tracks[best[0]].since_embed
            out.append(track)
        # A face the detector missed (turned head, blur) lives on for a few keyframes if it still matches.
        for i, old in enumerate(tracks):
            if i in used or old.unconfirmed >= MAX_UNCONFIRMED or any(_iou(old.predicted_box(), t.predicted_box()) > 0.3
                                                                       for t in out):
                continue
            landmarks = rotation.align(self.aligner, image, [old.predicted_box()], [rotation.roll(old.matrix)])[0]
            matrix = align_matrix(landmarks)
            if float((_patch(image, matrix) * old.patch).mean()) >= MATCH_NCC:
                old.landmarks, old.matrix, old.unconfirmed = landmarks, matrix, old.unconfirmed + 1
                out.append(old)
        return out

    def _embed(self, image: np.ndarray, tracks: list[_Track], embed_every: int) -> None:
        if self.embedder is None:
            return
        due = [t for t in tracks if t.identity is None or t.since_embed >= embed_every]
        if due:
            for track, vector in zip(due, self.embedder.embed(image, [t.landmarks for t in due])):
                track.identity, track.since_embed = vector, 0

