"""Face masks drawn from the 68 landmarks, in any crop space (alignments mask space, a training crop, a frame).

``components`` fills the face from jaw line to brows as a union of convex pieces (so the concave jaw is
followed); ``extended`` also raises the brows to take in the forehead, as one piece, kept inside the crop.
Convert and tools reuse these.
"""
from __future__ import annotations

from collections.abc import MutableMapping

import cv2
import numpy as np

from lib.faces import crop_matrix, transform_points

JAW_LEFT, JAW_RIGHT = list(range(0, 9)), list(range(8, 17))
BROW_LEFT, BROW_RIGHT = list(range(17, 22)), list(range(22, 27))
NOSE = list(range(27, 36))
EYES = list(range(36, 48))
MOUTH = list(range(48, 68))
EDGE_MARGIN = 0.06   # the forehead stops this share of the crop short of its edges, so a blurred edge fits


def _parts(points: np.ndarray) -> list[np.ndarray]:
    return [points[JAW_LEFT + BROW_LEFT + NOSE[:4]],
            points[JAW_RIGHT + BROW_RIGHT + NOSE[:4]],
            points[NOSE + EYES],
            points[BROW_LEFT + BROW_RIGHT + NOSE[:1]],      # between and above the brows, one piece
            points[MOUTH + [6, 7, 8, 9, 10, 33]]]


def _fill(parts: list[np.ndarray], size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    for part in parts:
        hull = cv2.convexHull(np.round(part * 16).astype(np.int32))
        cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_AA, shift=4)
    mask[mask > 0] = 255
    return mask


def components(landmarks: np.ndarray, size: int) -> np.ndarray:
    """uint8 (size, size) mask, 255 inside the face (jaw to brows), from landmarks already in this crop."""
    return _fill(_parts(np.asarray(landmarks, np.float64)), size)


def _lift_inside(brows: np.ndarray, lift: np.ndarray, size: int) -> float:
    """The largest share (0-1) of ``lift`` that keeps every brow point EDGE_MARGIN inside the crop.

    A forehead cut by the crop's edge ends in a straight line there, where the model's least trained pixels
    are: blended into a frame it shows as a light band with a hard top (a 'face' crop ends just above the brows).
    """
    low, high = EDGE_MARGIN * size, (1.0 - EDGE_MARGIN) * size
    share = 1.0
    for axis in (0, 1):
        if lift[axis] < 0:
            share = min(share, float((brows[:, axis] - low).min()) / -lift[axis])
        elif lift[axis] > 0:
            share = min(share, float((high - brows[:, axis]).min()) / lift[axis])
    return max(0.0, share)


def extended(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Like ``components`` with the brows lifted by up to a quarter of the nose-bridge-to-chin length (the
    forehead), only as far as stays inside the crop."""
    points = np.asarray(landmarks, np.float64)
    lifted = points.copy()
    brows = BROW_LEFT + BROW_RIGHT
    lift = 0.25 * (points[27] - points[8])
    lifted[brows] += _lift_inside(points[brows], lift, size) * lift
    return _fill([np.vstack([a, b]) for a, b in zip(_parts(points), _parts(lifted))], size)


MASKS = {"components": components, "extended": extended}


def mask_in_space(name: str, landmarks: np.ndarray, matrix: np.ndarray, size: int, centering: str) -> np.ndarray:
    """Mask ``name`` for a face with frame ``landmarks`` and frame->template ``matrix``, in a crop space."""
    from lib import registry
    fn = registry.get("extract.mask", name)
    return fn(transform_points(landmarks, crop_matrix(matrix, size, centering)), size)


class MasksOnRead(MutableMapping):
    """A face's masks as a mapping whose values are made only when read (kept small until then), so memory
    stays flat in video length. Subclasses say how a stored value becomes a mask; arrays set with
    ``masks[name] = array`` are kept as given."""

    def __init__(self, data: dict):
        self._data = dict(data)

    def _make(self, name: str, value) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, name):
        return self._make(name, self._data[name])

    def __setitem__(self, name, value):
        self._data[name] = value

    def __delitem__(self, name):
        del self._data[name]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def raw_items(self):
        """(name, stored value) pairs, without making any mask."""
        return self._data.items()


class LazyMasks(MasksOnRead):
    """Masks drawn from the face's landmarks when read, instead of kept."""

    def __init__(self, landmarks, matrix, size: int, centering: str, names):
        super().__init__({name: None for name in names})
        self._args = (np.asarray(landmarks, np.float32), np.asarray(matrix, np.float64), size, centering)

    def _make(self, name, value):
        if value is None:
            landmarks, matrix, size, centering = self._args
            return mask_in_space(name, landmarks, matrix, size, centering)
        return value
