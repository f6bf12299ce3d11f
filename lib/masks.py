"""Face masks drawn from the 68 landmarks, in any crop space (alignments mask space, a training crop, a frame).

``components`` fills the face from jaw line to brows as a union of convex pieces (so the concave jaw is
followed); ``extended`` also raises the brows to take in the forehead. Convert and tools reuse these.
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


def _parts(points: np.ndarray) -> list[np.ndarray]:
    return [points[JAW_LEFT + BROW_LEFT + NOSE[:4]],
            points[JAW_RIGHT + BROW_RIGHT + NOSE[:4]],
            points[NOSE + EYES],
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


def extended(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Like ``components`` with the brows lifted by a quarter of the nose-bridge-to-chin length (forehead)."""
    points = np.asarray(landmarks, np.float64)
    lifted = points.copy()
    lifted[BROW_LEFT + BROW_RIGHT] += 0.25 * (points[27] - points[8])
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
