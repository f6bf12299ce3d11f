"""Temporal smoothing of landmarks, so a swapped face does not jitter from frame to frame.

A per-frame landmark detector is noisy by a pixel or two; the alignment fitted on those landmarks shakes
with it, and the pasted face shakes with the alignment. Faces are linked into *tracks* across frames (the
nearest box of the previous frame), then each landmark coordinate of a track is low-pass filtered over time:

* offline (an alignments file: the whole track is known): a zero-phase Gaussian filter, ``strength`` = its
  sigma in frames; it adds no lag;
* streaming (faces detected on the fly): a causal one-euro filter, which smooths slow motion hard and
  follows fast motion quickly.

``jitter`` measures what smoothing removes: the mean size of the second difference of each landmark over
time (acceleration, which is near zero for real head motion and large for detector noise), as a share of
the face width. ``tools.py alignments -j spatial`` uses the same functions.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter1d

from lib.faces import INNER, face_size_px, align_matrix


# ---------------------------------------------------------------------------------------------- tracks
def _centre(box) -> np.ndarray:
    x, y, w, h = (float(v) for v in box)
    return np.array([x + w / 2, y + h / 2])


def build_tracks(frames: list[list], max_gap: int = 1) -> list[list[tuple[int, int]]]:
    """Link faces across frames into tracks.

    ``frames`` is a list (in frame order) of lists of faces (anything with ``.box``). Returns tracks, each a
    list of ``(frame position, face index)`` in order; a face joins the track whose last box centre is
    nearest, if that is within half the box width and the track was seen at most ``max_gap`` frames ago.
    """
    tracks: list[list[tuple[int, int]]] = []
    active: list[int] = []                   # indices into tracks
    for pos, faces in enumerate(frames):
        pairs = []
        for t in active:
            last_pos, last_face = tracks[t][-1]
            if pos - last_pos > max_gap + 1:
                continue
            last_box = frames[last_pos][last_face].box
            for i, face in enumerate(faces):
                dist = np.linalg.norm(_centre(face.box) - _centre(last_box))
                if dist <= 0.5 * max(float(last_box[2]), 1.0):
                    pairs.append((dist, t, i))
        used_t, used_i = set(), set()
        for _, t, i in sorted(pairs):
            if t not in used_t and i not in used_i:
                tracks[t].append((pos, i))
                used_t.add(t)
                used_i.add(i)
        for i in range(len(faces)):
            if i not in used_i:
                tracks.append([(pos, i)])
        active = [t for t, track in enumerate(tracks) if pos - track[-1][0] <= max_gap]
    return tracks


def _runs(track: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Split a track where frames are missing: each run covers consecutive frames."""
    runs, run = [], [track[0]]
    for item in track[1:]:
        if item[0] == run[-1][0] + 1:
            run.append(item)
        else:
            runs.append(run)
            run = [item]
    runs.append(run)
    return runs


# ---------------------------------------------------------------------------------------------- filters
def smooth_points(points: np.ndarray, strength: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing over time of a ``(T, ..., 2)`` array; ``strength`` = sigma in frames."""
    points = np.asarray(points, np.float64)
    if strength <= 0 or len(points) < 3:
        return points.copy()
    return gaussian_filter1d(points, sigma=float(strength), axis=0, mode="nearest")


def smooth_frames(frames: list[list], strength: float, max_gap: int = 1) -> int:
    """Smooth the landmarks of every face track in ``frames`` (lists of faces with ``.box``, ``.landmarks``,
    ``.set_landmarks``), in place; the alignment matrix is refitted. Returns the number of faces changed."""
    if strength <= 0:
        return 0
    changed = 0
    for track in build_tracks(frames, max_gap):
        for run in _runs(track):
            if len(run) < 3:
                continue
            points = np.stack([np.asarray(frames[p][i].landmarks, np.float64) for p, i in run])
            smoothed = smooth_points(points, strength)
            for (p, i), landmarks in zip(run, smoothed):
                frames[p][i].set_landmarks(landmarks)
                changed += 1
    return changed


def smooth_alignments(alignments, strength: float, names: list[str] | None = None) -> int:
    """Smooth every face track of an ``lib.alignments.Alignments`` in place (frames in ``names`` order, or
    the file's order). Returns the number of faces changed."""
    names = list(alignments.frames) if names is None else names
    return smooth_frames([alignments.frames.get(name, []) for name in names], strength)


class OneEuroFilter:
    """Causal low-pass filter whose cut-off rises with speed (Casiez et al., CHI 2012).

    ``min_cutoff`` (Hz) sets smoothing when still, ``beta`` how fast the cut-off opens with speed.
    Works on arrays of any shape; ``rate`` is the frame rate.
    """

    def __init__(self, rate: float = 25.0, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        self.rate, self.min_cutoff, self.beta, self.d_cutoff = float(rate), min_cutoff, beta, d_cutoff
        self.prev: np.ndarray | None = None
        self.prev_d: np.ndarray | None = None

    def _alpha(self, cutoff) -> np.ndarray:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * self.rate)

    def __call__(self, value: np.ndarray) -> np.ndarray:
        value = np.asarray(value, np.float64)
        if self.prev is None:
            self.prev, self.prev_d = value.copy(), np.zeros_like(value)
            return value.copy()
        speed = (value - self.prev) * self.rate
        a_d = self._alpha(self.d_cutoff)
        self.prev_d = a_d * speed + (1 - a_d) * self.prev_d
        alpha = self._alpha(self.min_cutoff + self.beta * np.abs(self.prev_d))
        self.prev = alpha * value + (1 - alpha) * self.prev
        return self.prev.copy()


class StreamSmoother:
    """One-euro smoothing of faces found on the fly, frame by frame (no look-ahead).

    ``strength`` 0 turns it off; larger values lower the still cut-off (more smoothing when the head is still).
    Landmarks are expressed relative to the face size before filtering, so ``beta`` does not depend on
    the video's resolution.
    """

    def __init__(self, strength: float, rate: float = 25.0):
        self.strength, self.rate = float(strength), float(rate)
        self.tracks: list[tuple[np.ndarray, OneEuroFilter, int]] = []   # (last box, filter, last frame)
        self.frame = -1

    def __call__(self, faces: list) -> list:
        """Smooth ``faces`` (of the next frame) in place and return them."""
        self.frame += 1
        if self.strength <= 0:
            return faces
        free = list(range(len(self.tracks)))
        for face in faces:
            best, best_dist = None, None
            for t in free:
                box, _, last = self.tracks[t]
                dist = np.linalg.norm(_centre(face.box) - _centre(box))
                if self.frame - last <= 2 and dist <= 0.5 * max(float(box[2]), 1.0) and (best is None or dist < best_dist):
                    best, best_dist = t, dist
            if best is None:
                filt = OneEuroFilter(self.rate, min_cutoff=1.5 / self.strength, beta=0.5)
                self.tracks.append((face.box, filt, self.frame))
                best = len(self.tracks) - 1
            else:
                free.remove(best)
            _, filt, _ = self.tracks[best]
            scale = face_size_px(align_matrix(face.landmarks))
            face.set_landmarks(filt(np.asarray(face.landmarks, np.float64) / scale) * scale)
            self.tracks[best] = (face.box, filt, self.frame)
        self.tracks = [track for track in self.tracks if self.frame - track[2] <= 2]
        return faces


# ---------------------------------------------------------------------------------------------- measure
def jitter(points: np.ndarray) -> float:
    """Frame-to-frame jitter of a ``(T, 68, 2)`` landmark run: mean |second difference| of the inner
    landmarks over time, as a share of the face width (0 for still or uniformly moving faces)."""
    points = np.asarray(points, np.float64)
    if len(points) < 3:
        return 0.0
    accel = np.linalg.norm(points[2:, INNER] - 2 * points[1:-1, INNER] + points[:-2, INNER], axis=-1)
    widths = np.array([face_size_px(align_matrix(p)) for p in points[1:-1]])
    return float((accel.mean(axis=1) / widths).mean())


def frames_jitter(frames: list[list], max_gap: int = 1) -> float:
    """Mean jitter over every face track run of ``frames`` (lists of faces), weighted by run length."""
    total, weight = 0.0, 0
    for track in build_tracks(frames, max_gap):
        for run in _runs(track):
            if len(run) >= 3:
                points = np.stack([np.asarray(frames[p][i].landmarks, np.float64) for p, i in run])
                total += jitter(points) * (len(run) - 2)
                weight += len(run) - 2
    return total / weight if weight else 0.0
