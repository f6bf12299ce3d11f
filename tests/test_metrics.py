"""lib/metrics.py on synthetic data with known answers."""
import cv2
import numpy as np
import pytest

from lib import metrics
from lib.faces import MEAN_FACE

SIZE = (1280, 720)
# dlib-68 left/right mirror: index i of a mirrored face is point MIRROR[i] of the original.
MIRROR = np.array(list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
                  + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
                  + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])


def projected_face(yaw, pitch, roll, distance=700.0, noise=0.0, seed=0):
    """68 landmarks whose rigid points are the 3-D model seen at a known pose; the rest copied from the
    mean face so that region helpers have something sensible."""
    rot = metrics.rotation_from_euler(yaw, pitch, roll)
    pts, _ = cv2.projectPoints(metrics.POSE_MODEL_3D, cv2.Rodrigues(rot)[0], np.array([30.0, -20.0, distance]),
                               metrics.camera_matrix(SIZE), None)
    landmarks = MEAN_FACE * 180 + [550, 250]
    landmarks[metrics.POSE_POINTS] = pts[:, 0]
    return landmarks + np.random.default_rng(seed).normal(0, noise, landmarks.shape)


@pytest.mark.parametrize("pose", [(0, 0, 0), (25, 0, 0), (-30, 10, 0), (0, -15, 8), (20, 12, -10)])
def test_head_pose_recovers_known_angles_from_noisy_landmarks(pose):
    got = metrics.head_pose(projected_face(*pose, noise=0.5), SIZE)
    assert np.allclose(got, pose, atol=2.5), (got, pose)


def test_head_pose_signs_follow_the_picture():
    yaw_right = projected_face(20, 0, 0)
    assert yaw_right[30, 0] > (yaw_right[36, 0] + yaw_right[45, 0]) / 2       # nose to image right
    up = projected_face(0, 20, 0)
    level = projected_face(0, 0, 0)
    assert (up[30, 1] - up[36, 1]) < (level[30, 1] - level[36, 1])            # nose moves up the image
    clockwise = projected_face(0, 0, 15)
    assert clockwise[45, 1] > clockwise[36, 1]                                # right eye drops


def test_mean_face_template_reads_as_frontal():
    """The 2-D mean of real dlib shapes must look frontal to the 3-D model: a check on the model itself."""
    yaw, pitch, roll = metrics.head_pose(MEAN_FACE * 220 + [530, 200], SIZE)
    assert abs(yaw) < 2 and abs(roll) < 1 and abs(pitch) < 8


def test_mirrored_face_has_opposite_yaw_and_roll():
    face = projected_face(25, 5, 7)
    mirrored = face[MIRROR] * [-1, 1] + [SIZE[0], 0]
    yaw, pitch, roll = metrics.head_pose(face, SIZE)
    m_yaw, m_pitch, m_roll = metrics.head_pose(mirrored, SIZE)
    assert m_yaw == pytest.approx(-yaw, abs=1.0)
    assert m_roll == pytest.approx(-roll, abs=1.0)
    assert m_pitch == pytest.approx(pitch, abs=1.0)


def test_pose_error_is_zero_for_the_same_face_and_the_angle_between_two_poses():
    face = projected_face(10, 5, 0)
    same = metrics.pose_error(face, face, SIZE)
    assert max(same.values()) < 1e-6
    err = metrics.pose_error(face, projected_face(25, 5, 0), SIZE)
    assert err["yaw"] == pytest.approx(15, abs=0.5)
    assert err["pitch"] < 0.5 and err["roll"] < 0.5
    assert err["angle"] == pytest.approx(15, abs=0.5)


def test_pose_split_separates_a_constant_offset_from_frame_to_frame_error_and_measures_the_follow():
    rng = np.random.default_rng(3)
    yaws = np.linspace(-20, 20, 41)
    originals = [metrics.rotation_from_euler(y, 2.0, 0.0) for y in yaws]
    # the swap nods 4 degrees more in every frame (a constant offset) and wobbles by ~1 degree
    nodded = [metrics.rotation_from_euler(y + rng.normal(0, 1), 6.0 + rng.normal(0, 1), 0.0) for y in yaws]
    split = metrics.pose_split(originals, nodded)
    assert split["offset"] == pytest.approx(4.0, abs=0.5)
    assert 0.5 < split["tracking"] < 2.0                          # the wobble, not the 4-degree nod
    raw = np.mean([metrics.rotation_angle(o, s) for o, s in zip(originals, nodded)])
    assert raw > split["tracking"] + 2.0
    assert split["follow_yaw"] == pytest.approx(1.0, abs=0.1)
    assert np.isnan(split["follow_pitch"])                        # the original never nods: nothing to follow
    # a swap that stays half-frontal: no constant offset, a large tracking error, half the turn
    frontal = [metrics.rotation_from_euler(y / 2, 2.0, 0.0) for y in yaws]
    split = metrics.pose_split(originals, frontal)
    assert split["offset"] < 0.5 and split["tracking"] == pytest.approx(np.mean(np.abs(yaws)) / 2, rel=0.05)
    assert split["follow_yaw"] == pytest.approx(0.5, abs=0.02)
    assert all(np.isnan(v) for v in metrics.pose_split([], []).values())


def test_rotation_angle_of_known_rotations():
    a = metrics.rotation_from_euler(0, 0, 0)
    assert metrics.rotation_angle(a, metrics.rotation_from_euler(0, 0, 33)) == pytest.approx(33)
    assert metrics.rotation_angle(a, metrics.rotation_from_euler(0, 40, 0)) == pytest.approx(40)


def _similar(points, scale=1.7, angle=25.0, shift=(40.0, -15.0)):
    rad = np.radians(angle)
    rot = np.array([[np.cos(rad), -np.sin(rad)], [np.sin(rad), np.cos(rad)]])
    return points @ (scale * rot).T + shift


def test_expression_error_ignores_scale_rotation_and_shift():
    face = MEAN_FACE * 200 + [500, 300]
    err = metrics.expression_error(face, _similar(face))
    assert max(err.values()) < 1e-9


def test_expression_error_measures_mouth_and_eyes_separately_in_interocular_units():
    face = MEAN_FACE * 200 + [500, 300]
    iod = metrics.interocular(face)
    open_mouth = face.copy()
    open_mouth[metrics.MOUTH] += [0.0, 0.1 * iod]       # every mouth point moves 10% of the IOD
    err = metrics.expression_error(face, _similar(open_mouth))
    assert err["mouth"] == pytest.approx(0.1, abs=1e-9)
    assert err["eyes"] < 1e-9
    closed_lids = face.copy()
    closed_lids[[37, 38, 43, 44]] += [0.0, 0.06 * iod]  # 4 of the 12 eye points move 6%
    err = metrics.expression_error(face, closed_lids)
    assert err["eyes"] == pytest.approx(0.06 * 4 / 12, abs=1e-9)
    assert err["mouth"] < 1e-9


def test_temporal_jitter_is_zero_for_smooth_motion_and_4e_for_alternating_shake():
    t = np.arange(20, dtype=float)[:, None]
    assert metrics.temporal_jitter(np.hstack([3 * t, -2 * t])) == pytest.approx(0, abs=1e-12)
    shake = np.hstack([0.5 * (-1) ** t, 0 * t])
    assert metrics.temporal_jitter(shake) == pytest.approx(2.0)
    assert np.isnan(metrics.temporal_jitter(shake[:2]))


def test_sequence_jitter_does_not_bridge_missing_frames():
    t = np.arange(12, dtype=float)[:, None]
    series = np.hstack([t, t])
    series[6:] += 100.0                       # a jump across the gap would be huge jitter
    present = np.ones(12, bool)
    present[5] = False
    assert metrics.sequence_jitter(series, present) == pytest.approx(0, abs=1e-12)
    assert [(r.start, r.stop) for r in metrics.runs(present)] == [(0, 5), (6, 12)]


def test_landmark_jitter_is_relative_to_face_size():
    rng = np.random.default_rng(1)
    face = MEAN_FACE * 100 + [300, 200]
    seq = face + rng.normal(0, 1.0, (30, 68, 2))
    present = np.ones(30, bool)
    small = metrics.landmark_jitter(seq, present)
    big = metrics.landmark_jitter(seq * 3, present)
    assert small == pytest.approx(big, rel=1e-9) and small > 0


def test_face_region_covers_the_landmarks_and_forehead_and_grows():
    face = MEAN_FACE * 200 + [500, 250]
    mask = metrics.face_region(face, (720, 1280, 3))
    assert mask.dtype == np.uint8 and mask.shape == (720, 1280)
    inside = np.round(face[[30, 8, 36, 45, 48, 54]]).astype(int)
    assert all(mask[y, x] == 255 for x, y in inside)
    forehead = np.round(face[27] - [0, 0.3 * (face[8, 1] - face[27, 1])]).astype(int)
    assert mask[forehead[1], forehead[0]] == 255
    assert mask[10, 10] == 0
    assert (metrics.face_region(face, (720, 1280), grow=0.3) > 0).sum() > 1.5 * (mask > 0).sum()


def test_mean_colour_inside_a_mask():
    image = np.zeros((50, 60, 3), np.uint8)
    image[10:20, 10:30] = (10, 20, 200)
    mask = np.zeros((50, 60), np.uint8)
    mask[10:20, 10:30] = 255
    assert np.allclose(metrics.mean_colour(image, mask), (10, 20, 200))
    assert np.isnan(metrics.mean_colour(image, mask * 0)).all()


def test_ssim_matches_scikit_image_and_is_one_for_identical_images():
    from skimage.metrics import structural_similarity
    rng = np.random.default_rng(2)
    a = cv2.GaussianBlur(rng.integers(0, 256, (120, 160), dtype=np.uint8), (5, 5), 2)
    b = np.clip(a.astype(int) + rng.normal(0, 12, a.shape), 0, 255).astype(np.uint8)
    ours = metrics.ssim_map(a, b)[8:-8, 8:-8].mean()
    _, ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                   data_range=255, full=True)
    assert ours == pytest.approx(ref[8:-8, 8:-8].mean(), abs=2e-3)
    assert metrics.ssim_map(a, a).mean() == pytest.approx(1.0, abs=1e-6)


def test_background_scores_ignore_changes_inside_the_face_mask():
    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8), (7, 7), 3)
    swapped = frame.copy()
    swapped[60:140, 100:200] = 255 - swapped[60:140, 100:200]
    outside = np.full((200, 300), 255, np.uint8)
    outside[40:160, 80:220] = 0                 # the face and a margin larger than the SSIM window
    assert metrics.masked_ssim(frame, swapped, outside) == pytest.approx(1.0, abs=1e-6)
    assert metrics.masked_psnr(frame, swapped, outside) == 100.0
    assert metrics.masked_ssim(frame, swapped, 255 - outside) < 0.8
    assert metrics.masked_psnr(frame, swapped, 255 - outside) < 30


def test_psnr_of_a_known_offset():
    a = np.full((40, 40, 3), 100, np.uint8)
    mask = np.full((40, 40), 255, np.uint8)
    assert metrics.masked_psnr(a, a + 5, mask) == pytest.approx(10 * np.log10(255 ** 2 / 25))
    assert np.isnan(metrics.masked_psnr(a, a, mask * 0))


def test_identity_distances_and_retrieval_on_clustered_embeddings():
    rng = np.random.default_rng(4)
    centre_a, centre_b, centre_c = (rng.normal(0, 1, 128) * 0.09 for _ in range(3))
    refs = {"A": centre_a + rng.normal(0, 0.01, (10, 128)), "B": centre_b + rng.normal(0, 0.01, (8, 128)),
            "C": centre_c + rng.normal(0, 0.01, (5, 128))}
    frames = np.vstack([centre_b + rng.normal(0, 0.01, (7, 128)), centre_a + rng.normal(0, 0.01, (3, 128))])
    names, dist = metrics.identity_distances(frames, refs)
    assert names == ["A", "B", "C"] and dist.shape == (10, 3)
    assert np.all(dist[:7, 1] < dist[:7, 0]) and np.all(dist[7:, 0] < dist[7:, 1])
    assert metrics.retrieval(dist, names, "B") == pytest.approx(0.7)
    assert metrics.retrieval(dist, names, "A") == pytest.approx(0.3)
    assert metrics.retrieval(np.zeros((0, 3)), names, "B") != metrics.retrieval(np.zeros((0, 3)), names, "B")
    one = metrics.identity_distances(refs["B"].mean(0), refs)[1]
    assert one.shape == (1, 3) and one[0, 1] == pytest.approx(0, abs=1e-12)
