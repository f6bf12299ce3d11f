"""Tilted faces: detect on rotated copies of a frame, and align a face in an upright crop of it.

Detectors and the 68-point predictor are trained on upright faces: HOG misses a head tilted by 45 degrees,
and the predictor puts landmarks askew past ~20 degrees. So when a frame shows no face it is tried again
rotated by each angle of ``ANGLES`` (in that order, stopping at the first that finds one), as the older
tool's rotate option does; a face found that way keeps its ``angle``. A frame whose faces were all found by a
detector that could not tell their tilt (YuNet finds faces on their side, and some hands) is retried too.
Landmarks are then always found in an upright crop: the frame rotated by the face's angle around the face
(``align``), and mapped back, so tracking follows a head through a tilt by reading the angle from the last
frame's landmarks (``roll``).

Angles are degrees, counter-clockwise on screen as ``cv2.getRotationMatrix2D`` takes them: rotating the
frame by a face's angle makes that face upright.
"""
from __future__ import annotations

import cv2
import numpy as np

from lib.faces import invert, transform_points

ANGLES = (30, -30, 60, -60, 90, -90)
UPRIGHT = 12.0        # degrees of roll the predictor handles as well upright as in a rotated crop
WORK_SIZE = 640       # rotated copies are made of the frame shrunk to this long side (detectors work at 640)


def roll(matrix: np.ndarray) -> float:
    """The angle (degrees) that makes the face of this frame->template ``matrix`` upright."""
    matrix = np.asarray(matrix, np.float64)
    return float(np.degrees(np.arctan2(matrix[0, 1], matrix[0, 0])))


def rotate_frame(image: np.ndarray, angle: float, work_size: int = WORK_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``image`` shrunk to ``work_size`` and rotated by ``angle`` on a canvas that holds all of it; returns it
    and the 2x3 matrix taking frame pixels to its pixels."""
    height, width = image.shape[:2]
    scale = min(1.0, work_size / max(height, width)) if work_size else 1.0
    rad = np.radians(angle)
    cos, sin = abs(np.cos(rad)) * scale, abs(np.sin(rad)) * scale
    out_w, out_h = (int(np.ceil(round(v, 6))) for v in (width * cos + height * sin, width * sin + height * cos))
    mat = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    mat[:, 2] += (out_w / 2 - width / 2, out_h / 2 - height / 2)
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, mat, (out_w, out_h), flags=interp, borderMode=cv2.BORDER_CONSTANT), mat


def detect_rotated(detect, image: np.ndarray, angles=ANGLES, work_size: int = WORK_SIZE) -> list:
    """``detect(images) -> [[(box, score[, tilt])]]`` on rotated copies of ``image``, one angle after another
    until one finds a face; returns ``[(box, score, angle, known)]`` with each box (x, y, w, h) centred on the
    face in frame pixels, its side the face's size in the frame, ``angle`` what makes the face upright, and
    ``known`` False where the detector could not tell the face's tilt in the copy (then taken as upright there)."""
    for angle in angles:
        rotated, mat = rotate_frame(image, angle, work_size)
        found = detect([rotated])[0]
        if not found:
            continue
        back, scale = invert(mat), float(np.sqrt(abs(np.linalg.det(mat[:, :2]))))
        out = []
        for box, score, *tilt in found:          # a detector may give the face's own tilt in the copy
            x, y, w, h = (float(v) for v in box)
            centre = transform_points(np.array([[x + w / 2, y + h / 2]]), back)[0]
            side_w, side_h = w / scale, h / scale
            known = not tilt or tilt[0] is not None
            out.append((np.round([centre[0] - side_w / 2, centre[1] - side_h / 2, side_w, side_h]).astype(np.int64),
                        float(score), float(angle) + (float(tilt[0]) if tilt and known else 0.0), known))
        return out
    return []


def retry(detect, image: np.ndarray, found: list, angles=ANGLES, work_size: int = WORK_SIZE) -> list:
    """The faces of ``image`` given ``found``, the detector's answer on the frame itself: that answer when it holds a
    face the detector knows the tilt of (an upright detector's faces always count); otherwise the faces of the
    first rotated copy that shows any (``detect_rotated``). If none of those has a known tilt either, the faces
    of ``found`` are kept too (a head turned to profile), and where two cover the same face the one found in
    the frame itself. Entries: (box, score, angle), angle None where it is not known."""
    if any(len(face) < 3 or face[2] is not None for face in found):
        return found
    rotated = detect_rotated(detect, image, angles, work_size)
    out = [(box, score, angle) for box, score, angle, known in rotated if known]
    if out:        # beside a face whose tilt is known, one that could not be oriented anywhere is dropped
        return out
    out = [(box, score, None) for box, score, *_ in found]
    out += [(box, score, angle) for box, score, angle, known in rotated
            if not known and not any(_same(box, other[0]) for other in out)]
    return out


def _same(a, b) -> bool:
    """Whether boxes ``a`` and ``b`` (x, y, w, h) hold the same face: centres within half a face."""
    ca = np.array([a[0] + a[2] / 2, a[1] + a[3] / 2], np.float64)
    cb = np.array([b[0] + b[2] / 2, b[1] + b[3] / 2], np.float64)
    return bool(np.linalg.norm(ca - cb) < 0.5 * max(a[2], a[3], b[2], b[3]))


def upright_crop(image: np.ndarray, box, angle: float, size: int | None = None):
    """The square twice the side of ``box`` around it, rotated by ``angle`` (so that face stands upright) and
    scaled to ``size`` px (None: not scaled): the crop, the box in crop pixels and the 2x3 matrix taking frame
    pixels to crop pixels."""
    x, y, w, h = (float(v) for v in box)
    centre, side = (x + w / 2, y + h / 2), max(w, h, 1.0)
    scale = size / (2 * side) if size else 1.0
    size = size or int(np.ceil(side * 2)) | 1
    mat = cv2.getRotationMatrix2D(centre, angle, scale)
    mat[:, 2] += (size / 2 - centre[0], size / 2 - centre[1])
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, mat, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    return crop, np.array([size / 2 - w * scale / 2, size / 2 - h * scale / 2, w * scale, h * scale]), mat


def upright_angle(image: np.ndarray, box, face_score, step: int = 30, size: int = 160) -> float | None:
    """For a detector that finds tilted faces without saying how they are tilted: the angle (a multiple of
    ``step``) whose upright crop (``size`` px) ``face_score(crop, box_in_crop)`` scores highest, or None if it
    scores none (-inf). 0 and +-``step`` are scored first, then the best climbs on while the score grows; if
    none of the three scores, the rest of the circle is tried (a face upside down)."""
    scores: dict = {}

    def score(angle: int) -> float:
        if angle not in scores:
            scores[angle] = face_score(*upright_crop(image, box, angle, size)[:2])
        return scores[angle]

    best = max((0, step, -step), key=score)
    if score(best) == -np.inf:
        best = max(range(-180 + step, 181, step), key=score)
    elif best:
        ahead = best + (step if best > 0 else -step)
        while abs(ahead) <= 180 and score(ahead) > score(best):
            best, ahead = ahead, ahead + (step if best > 0 else -step)
    return None if score(best) == -np.inf else float(best)


def align(aligner, image: np.ndarray, boxes, angles) -> list[np.ndarray]:
    """68 landmarks (frame pixels) per box: faces within ``UPRIGHT`` degrees of upright in the frame itself (in
    one call), the others in an upright crop, mapped back."""
    out: list = [None] * len(boxes)
    upright = [i for i, angle in enumerate(angles) if abs(_wrap(angle or 0.0)) <= UPRIGHT]
    for i, landmarks in zip(upright, aligner.align(image, [boxes[i] for i in upright]) if upright else []):
        out[i] = landmarks
    for i, (box, angle) in enumerate(zip(boxes, angles)):
        if out[i] is None:
            crop, inner, mat = upright_crop(image, box, angle)
            landmarks = aligner.align(crop, [inner])[0]
            out[i] = transform_points(landmarks, invert(mat)).astype(np.float32)
    return out


def turned(a: float, b: float) -> bool:
    """Whether tilts ``a`` and ``b`` are far enough apart to align again."""
    return abs(_wrap(a - b)) > UPRIGHT / 2


def _wrap(angle: float) -> float:
    return (float(angle) + 180.0) % 360.0 - 180.0
