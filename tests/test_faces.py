"""The aligned-face maths and the face PNG format (lib/faces.py), on synthetic data."""
import json

import numpy as np
import pytest
from PIL import Image

from lib.errors import FaceswapError
from lib.faces import (MEAN_FACE, align_matrix, crop_matrix, encode_face_png, face_filename, face_size_px, invert,
                       read_face_meta, read_face_png, transform_points, umeyama, warp_face, write_face_png)


def _similarity(scale, angle_deg, tx, ty):
    a = np.radians(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, (30, 2))
    truth = _similarity(1.7, 23.0, 12.5, -40.0)
    assert np.allclose(umeyama(src, transform_points(src, truth)), truth, atol=1e-9)


def test_umeyama_is_least_squares_under_noise_and_never_reflects():
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 100, (68, 2))
    truth = _similarity(0.5, -70.0, 3.0, 8.0)
    found = umeyama(src, transform_points(src, truth) + rng.normal(0, 0.2, (68, 2)))
    assert np.allclose(found[:, :2], truth[:, :2], atol=0.005)
    assert np.allclose(found[:, 2], truth[:, 2], atol=0.2)
    mirrored = src * [-1, 1]
    assert np.linalg.det(umeyama(src, mirrored)[:, :2]) > 0   # best rotation, not a reflection


def test_align_matrix_maps_landmarks_onto_the_mean_face():
    truth = _similarity(180.0, 10.0, 300.0, 200.0)
    landmarks = transform_points(MEAN_FACE, truth)           # a face of 180 px in a frame
    matrix = align_matrix(landmarks)
    assert np.allclose(transform_points(landmarks, matrix), MEAN_FACE, atol=1e-9)
    assert face_size_px(matrix) == pytest.approx(180.0)
    assert np.allclose(invert(invert(matrix)), matrix)


def test_crop_and_warp_round_trip_puts_the_face_back_in_place():
    rng = np.random.default_rng(3)
    frame = cv2_blur(rng.integers(0, 255, (400, 500, 3), np.uint8))
    landmarks = transform_points(MEAN_FACE, _similarity(150.0, -8.0, 180.0, 120.0))
    matrix = align_matrix(landmarks)
    crop = warp_face(frame, matrix, 256, "face")
    assert crop.shape == (256, 256, 3)
    mat = crop_matrix(matrix, 256, "face")
    back = cv2_warp_back(crop, mat, frame.shape)
    inner = transform_points(MEAN_FACE[17:], invert(matrix)).astype(int)
    x0, y0 = inner.min(0)
    x1, y1 = inner.max(0)
    diff = np.abs(back[y0:y1, x0:x1].astype(int) - frame[y0:y1, x0:x1].astype(int))
    assert diff.mean() < 6
    # the template's inner points land where the centering says: same place for any face
    in_crop = transform_points(landmarks, mat)
    assert in_crop.min() > 0 and in_crop.max() < 256
    head = transform_points(landmarks, crop_matrix(matrix, 256, "head"))
    assert np.ptp(head[:, 0]) < np.ptp(in_crop[:, 0])       # head centering shows more around the face


def cv2_blur(image):
    import cv2
    return cv2.GaussianBlur(image, (0, 0), 3)


def cv2_warp_back(crop, mat, shape):
    import cv2
    return cv2.warpAffine(crop, invert(mat), (shape[1], shape[0]), flags=cv2.INTER_CUBIC)


def test_face_png_keeps_its_metadata_and_opens_in_other_decoders(tmp_path):
    rng = np.random.default_rng(4)
    image = rng.integers(0, 255, (64, 64, 3), np.uint8)
    meta = {"source": "clip.mp4", "frame": "clip_000007.png", "frame_index": 7, "face_index": 0, "size": 64,
            "centering": "face", "landmarks": MEAN_FACE.tolist(), "matrix": np.eye(2, 3).tolist(),
            "identity": None, "detector": "dlib-hog", "score": 1.5}
    path = tmp_path / face_filename("clip_000007.png", 0)
    write_face_png(path, image, meta)
    assert path.name == "clip_000007_0.png"
    pixels, back = read_face_png(path)
    assert np.array_equal(pixels, image)
    assert back == dict(meta, version=1)
    with Image.open(path) as pil:                       # another decoder reads the pixels and the chunk
        assert np.array_equal(np.asarray(pil)[..., ::-1], image)
        assert json.loads(pil.text["faceswap"])["frame_index"] == 7


def test_plain_and_corrupt_pngs_are_told_apart(tmp_path):
    import cv2
    plain = tmp_path / "plain.png"
    cv2.imwrite(str(plain), np.zeros((8, 8, 3), np.uint8))
    assert read_face_meta(plain) is None
    data = bytearray(encode_face_png(np.zeros((8, 8, 3), np.uint8), {"frame": "x"}))
    start = data.index(b"faceswap") + 20
    data[start:start + 8] = b"\x00" * 8                       # damage the compressed JSON
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(FaceswapError, match="corrupt"):
        read_face_meta(bad)


def test_median_crop_side_is_the_size_a_face_is_drawn_at_in_its_frames(faces_of):
    from lib.faces import median_crop_side
    big = median_crop_side(sorted(faces_of("alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4", 4).glob("*.png")))
    small = median_crop_side(sorted(faces_of("jamie_oliver/video_oliver_voxceleb_00086.mp4", 4).glob("*.png")))
    assert 300 < big < 450 and 120 < small < 200          # 512x512 and 224x224 talking heads
    assert median_crop_side([]) == 0.0
