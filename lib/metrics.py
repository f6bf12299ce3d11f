"""Swap-quality maths: head pose, expression, temporal stability, background fidelity and identity.

Everything here is plain NumPy/OpenCV on arrays (landmarks in frame pixels, BGR uint8 frames, 128-d
embeddings), so each figure can be checked on synthetic data with a known answer. The evaluate job
(``lib/jobs/evaluate.py``) streams the videos and feeds these functions one frame at a time.
"""
from __future__ import annotations

import cv2
import numpy as np

from lib.faces import umeyama

# ---------------------------------------------------------------------------------------------- head pose
# A 3-D mean face for the rigid dlib-68 points, in millimetres, origin at the nose tip, axes as the camera's
# when the face looks straight into it (x to image right, y down, z away from the camera). Built from adult
# anthropometric averages (Farkas-style surveys): biocular width ex-ex ~90 mm, intercanthal width en-en
# ~34 mm, mouth width ch-ch ~52 mm, nostril base ~30 mm; the eye line ~35 mm above the nose tip, subnasale
# ~12 mm below it and the mouth corners ~33 mm below it; the nose projects ~20 mm in front of subnasale and
# the nasion, ~30 mm in front of the inner and ~42 mm in front of the outer eye corners.
# The jaw contour and the lids/lips are left out: they slide with yaw or move with expression.
POSE_MODEL = {
    27: (0.0, -40.0, 22.0),     # top of the nose bridge (just below nasion)
    30: (0.0, 0.0, 0.0),        # nose tip (pronasale)
    31: (-15.0, 9.0, 16.0),     # nostril base, image left
    33: (0.0, 12.0, 17.0),      # subnasale
    35: (15.0, 9.0, 16.0),      # nostril base, image right
    36: (-45.0, -35.0, 42.0),   # outer eye corner, image left (exocanthion)
    39: (-17.0, -35.0, 30.0),   # inner eye corner, image left (endocanthion)
    42: (17.0, -35.0, 30.0),    # inner eye corner, image right
    45: (45.0, -35.0, 42.0),    # outer eye corner, image right
    48: (-26.0, 33.0, 32.0),    # mouth corner, image left (cheilion)
    54: (26.0, 33.0, 32.0),     # mouth corner, image right
}
POSE_POINTS = np.array(sorted(POSE_MODEL))
POSE_MODEL_3D = np.array([POSE_MODEL[i] for i in POSE_POINTS], np.float64)

# Landmark groups of the dlib-68 layout.
MOUTH = np.arange(48, 68)
EYES = np.arange(36, 48)
# Points that expression barely moves (nose and eye corners): the Procrustes fit uses only these, so an open
# mouth or a blink shows as error in its own region instead of bending the fit.
RIGID = np.array([27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45])


def camera_matrix(size: tuple[int, int]) -> np.ndarray:
    """A pinhole camera for a ``(width, height)`` frame: focal length = the longer side, centre in the middle."""
    width, height = size
    focal = float(max(width, height))
    return np.array([[focal, 0, width / 2.0], [0, focal, height / 2.0], [0, 0, 1]], np.float64)


def pose_rotation(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """3x3 rotation of the head (model -> camera) fitted by ``cv2.solvePnP`` to the rigid landmarks."""
    image_points = np.ascontiguousarray(np.asarray(landmarks, np.float64)[POSE_POINTS])
    ok, rvec, tvec = cv2.solvePnP(POSE_MODEL_3D, image_points, camera_matrix(size), None,
                                  flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        raise ValueError("solvePnP found no head pose for these landmarks")
    rvec, tvec = cv2.solvePnPRefineLM(POSE_MODEL_3D, image_points, camera_matrix(size), None, rvec, tvec)
    return cv2.Rodrigues(rvec)[0]


def euler_angles(rotation: np.ndarray) -> np.ndarray:
    """(yaw, pitch, roll) in degrees of a model -> camera rotation, taken as Rz(roll) Ry(-yaw) Rx(-pitch).

    Signs: yaw > 0 turns the nose towards image right, pitch > 0 lifts the nose up the image,
    roll > 0 tilts the face clockwise on screen.
    """
    r = np.asarray(rotation, np.float64)
    about_y = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    about_x = np.arctan2(r[2, 1], r[2, 2])
    about_z = np.arctan2(r[1, 0], r[0, 0])
    return np.degrees([-about_y, -about_x, about_z])


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The inverse of :func:`euler_angles` (degrees in, 3x3 rotation out)."""
    y, x, z = np.radians([-yaw, -pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def head_pose(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(yaw, pitch, roll) in degrees of the face with these 68 landmarks in a ``(width, height)`` frame."""
    return euler_angles(pose_rotation(landmarks, size))


def rotation_angle(rot_a: np.ndarray, rot_b: np.ndarray) -> float:
    """Angle in degrees of the rotation taking ``rot_a`` to ``rot_b`` (one number, no Euler ambiguity)."""
    cos = (np.trace(np.asarray(rot_a).T @ np.asarray(rot_b)) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def pose_error(original: np.ndarray, swapped: np.ndarray, size: tuple[int, int]) -> dict[str, float]:
    """Head pose difference between two faces' landmarks: |d yaw|, |d pitch|, |d roll| and the total angle."""
    return rotation_difference(pose_rotation(original, size), pose_rotation(swapped, size))


def rotation_difference(rot_o: np.ndarray, rot_s: np.ndarray) -> dict[str, float]:
    """:func:`pose_error` of two head rotations already fitted (:func:`pose_rotation`)."""
    diff = np.abs(euler_angles(rot_s) - euler_angles(rot_o))
    diff = np.minimum(diff, 360.0 - diff)
    return {"yaw": float(diff[0]), "pitch": float(diff[1]), "roll": float(diff[2]),
            "angle": rotation_angle(rot_o, rot_s)}


FOLLOW_MIN_SPREAD = 3.0   # degrees: below this spread of the original's yaw (pitch) its follow slope is not told


def mean_rotation(rotations: np.ndarray) -> np.ndarray:
    """The rotation nearest (in the chordal sense) to a stack of 3x3 rotations: the SVD projection of their sum."""
    u, _, vt = np.linalg.svd(np.asarray(rotations, np.float64).sum(0))
    if np.linalg.det(u @ vt) < 0:
        u[:, -1] *= -1
    return u @ vt


def _follow(original: np.ndarray, swapped: np.ndarray) -> float:
    """Least-squares slope of the swapped angle against the original's (1: it turns as far; NaN: the original
    hardly turns, so there is nothing to follow)."""
    if len(original) < 3 or np.std(original) < FOLLOW_MIN_SPREAD:
        return float("nan")
    return float(np.polyfit(original, swapped, 1)[0])


def pose_split(original: list[np.ndarray], swapped: list[np.ndarray]) -> dict[str, float]:
    """The pose error of a clip split into the part that stays (``offset``: the angle of the mean rotation from
    the original head to the swapped one) and the part that comes and goes (``tracking``: the mean angle left
    after taking the offset out), plus how far the swap turns when the head turns (``follow_yaw``,
    ``follow_pitch``: slopes, 1 = all the way).

    Different people's landmarks fit a mean 3-D face differently (a longer nose reads as a nod), and a model
    may draw every face a little tilted: both are steady, and both land in the offset. A swap that stays
    frontal while the head turns shows in tracking and follow. ``original``/``swapped``: model -> camera
    rotations (:func:`pose_rotation`) of the same frames.
    """
    if not original:
        nan = float("nan")
        return {"offset": nan, "tracking": nan, "follow_yaw": nan, "follow_pitch": nan}
    relative = np.array([o.T @ s for o, s in zip(original, swapped)])      # in the head's own axes
    mean = mean_rotation(relative)
    angles_o = np.array([euler_angles(r) for r in original])
    angles_s = np.array([euler_angles(r) for r in swapped])
    return {"offset": rotation_angle(np.eye(3), mean),
            "tracking": float(np.mean([rotation_angle(mean, r) for r in relative])),
            "follow_yaw": _follow(angles_o[:, 0], angles_s[:, 0]),
            "follow_pitch": _follow(angles_o[:, 1], angles_s[:, 1])}


# ---------------------------------------------------------------------------------------------- expression
def interocular(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners (points 36 and 45), the usual 68-point normaliser."""
    points = np.asarray(landmarks, np.float64)
    return float(np.linalg.norm(points[45] - points[36]))


def procrustes_align(moving: np.ndarray, fixed: np.ndarray, anchor=RIGID) -> np.ndarray:
    """``moving`` landmarks after the similarity (scale, rotation, shift) that best fits its ``anchor``
    points onto those of ``fixed``."""
    moving = np.asarray(moving, np.float64)
    matrix = umeyama(moving[anchor], np.asarray(fixed, np.float64)[anchor])
    return moving @ matrix[:, :2].T + matrix[:, 2]


def expression_error(original: np.ndarray, swapped: np.ndarray) -> dict[str, float]:
    """Mean landmark distance of mouth, eyes and all points after Procrustes, as a share of the
    inter-ocular distance of the original (0.05 = 5% of the eye-corner distance)."""
    original = np.asarray(original, np.float64)
    aligned = procrustes_align(swapped, original)
    dist = np.linalg.norm(aligned - original, axis=1) / max(interocular(original), 1e-6)
    return {"mouth": float(dist[MOUTH].mean()), "eyes": float(dist[EYES].mean()), "all": float(dist.mean())}


# ---------------------------------------------------------------------------------------------- stability
def temporal_jitter(series: np.ndarray) -> float:
    """Mean size of the second difference ``x[t+1] - 2 x[t] + x[t-1]`` of a sequence.

    ``series`` is (T, ...) with the last axis the vector (landmarks (T, 68, 2), colours (T, 3)). Smooth motion
    or slow lighting change gives ~0; frame-to-frame shaking or flicker of size e gives up to 4 e.
    NaN if fewer than three samples.
    """
    series = np.asarray(series, np.float64)
    if len(series) < 3:
        return float("nan")
    second = series[2:] - 2.0 * series[1:-1] + series[:-2]
    return float(np.linalg.norm(second, axis=-1).mean())


def runs(present: np.ndarray) -> list[slice]:
    """Slices of consecutive True entries in a boolean array (frames where a measurement exists)."""
    present = np.asarray(present, bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], present.astype(np.int8), [0]])))
    return [slice(start, stop) for start, stop in zip(edges[::2], edges[1::2])]


def sequence_jitter(series: np.ndarray, present: np.ndarray) -> float:
    """:func:`temporal_jitter` over the runs where ``present`` is True, weighted by their length."""
    total, count = 0.0, 0
    for run in runs(present):
        value = temporal_jitter(series[run])
        if np.isfinite(value):
            total += value * (run.stop - run.start - 2)
            count += run.stop - run.start - 2
    return total / count if count else float("nan")


def landmark_jitter(landmarks: np.ndarray, present: np.ndarray) -> float:
    """Frame-to-frame landmark jitter of a (T, 68, 2) sequence, as a share of the inter-ocular distance."""
    landmarks = np.asarray(landmarks, np.float64)
    iod = np.array([interocular(lm) if ok else np.nan for lm, ok in zip(landmarks, present)])
    scale = np.nanmedian(iod) if np.isfinite(iod).any() else 1.0
    return sequence_jitter(landmarks / scale, present)


# ---------------------------------------------------------------------------------------------- regions
def face_region(landmarks: np.ndarray, shape: tuple[int, ...], grow: float = 0.0) -> np.ndarray:
    """uint8 mask (0/255) of the face: the hull of the 68 points with the brows lifted to cover the forehead,
    scaled by ``1 + grow`` about its centre (a margin for blending and masks that reach past the landmarks)."""
    points = np.asarray(landmarks, np.float64).copy()
    brow_lift = 0.5 * (points[8] - points[27])          # half the bridge-to-chin vector, pointing down
    forehead = points[17:27] - brow_lift
    points = np.vstack([points, forehead])
    hull = cv2.convexHull(points.astype(np.float32))[:, 0]
    centre = hull.mean(0)
    hull = centre + (hull - centre) * (1.0 + grow)
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 255, lineType=cv2.LINE_8)
    return mask


def mean_colour(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean BGR colour (0-255) of the pixels where ``mask`` is set; NaN if the mask is empty."""
    if not np.any(mask):
        return np.full(3, np.nan)
    return np.array(cv2.mean(image, mask=mask)[:3])


# ---------------------------------------------------------------------------------------------- sharpness
def sharpness(image: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image over the pixels where ``mask`` is set (NaN if none): the
    fine detail there. A blurred face keeps a fraction of a sharp one's; swapped over original in the same
    region of the same frame is the swap's sharpness ratio (1: as detailed as the original)."""
    keep = np.asarray(mask) > 0
    if not keep.any():
        return float("nan")
    laplacian = cv2.Laplacian(_grey(image).astype(np.float32), cv2.CV_32F, ksize=3)
    return float(laplacian[keep].var())


# ---------------------------------------------------------------------------------------------- background
_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def ssim_map(image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two 8-bit images (grey, Gaussian window sigma 1.5, the constants of Wang et al.)."""
    a, b = (_grey(img).astype(np.float32) for img in (image_a, image_b))

    def blur(x):
        return cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _C1) * (2 * cov + _C2)
    den = (mu_a * mu_a + mu_b * mu_b + _C1) * (var_a + var_b + _C2)
    return num / den


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def masked_ssim(image_a: np.ndarray, image_b: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM over the pixels where ``mask`` is set (NaN if none)."""
    keep = np.asarray(mask) > 0
    if not keep.any():
        return float("nan")
    return float(ssim_map(image_a, image_b)[keep].mean())


def masked_psnr(image_a: np.ndarray, image_b: np.ndarray, mask: np.ndarray, cap: float = 100.0) -> float:
    """PSNR in dB of 8-bit images over the pixels where ``mask`` is set; identical pixels give ``cap``."""
    keep = np.asarray(mask) > 0
    if not keep.any():
        return float("nan")
    diff = image_a[keep].astype(np.float64) - image_b[keep].astype(np.float64)
    mse = float(np.mean(diff * diff))
    return cap if mse <= 0 else float(min(cap, 10.0 * np.log10(255.0 ** 2 / mse)))


# ---------------------------------------------------------------------------------------------- identity
def centroids(references: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Names and mean embeddings of reference identities (each a (M, 128) array of its photos' embeddings)."""
    names = list(references)
    return names, np.stack([np.asarray(references[name], np.float64).mean(0) for name in names])


def identity_distances(embeddings: np.ndarray, references: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Euclidean distance of each embedding (N, 128) to each identity's mean reference embedding: (N, K).

    With dlib's ResNet, distances under ~0.6 mean "same person"."""
    names, centres = centroids(references)
    emb = np.atleast_2d(np.asarray(embeddings, np.float64))
    return names, np.linalg.norm(emb[:, None, :] - centres[None, :, :], axis=-1)


def retrieval(distances: np.ndarray, names: list[str], target: str) -> float:
    """Share of rows whose nearest identity is ``target`` (NaN for no rows)."""
    distances = np.atleast_2d(distances)
    if distances.shape[0] == 0 or distances.size == 0:
        return float("nan")
    return float(np.mean(np.argmin(distances, axis=1) == names.index(target)))
