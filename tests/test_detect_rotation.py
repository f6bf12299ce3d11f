"""Tilted and turned heads: frames retried rotated, faces aligned upright, tracks that follow a tilting head."""
import numpy as np
import pytest

from lib import rotation
from lib.extractor import Extractor
from lib.faces import align_matrix
from lib.video import Frame, read_frames, read_image
from scripts.bench_detect import project, tilt, tilt_ok, turn
from tests.conftest import shared


@pytest.fixture(scope="module")
def photo():
    return read_image(shared("barack_obama", "photo_fr_obama.jpg"))


@pytest.fixture(scope="module")
def truth(photo):
    """The upright photo's landmarks as today's pipeline (dlib-hog, no rotation) finds them."""
    faces = Extractor("dlib-hog", masks=(), identity=False, rotate=()).faces(photo)
    assert len(faces) == 1
    return faces[0].landmarks


def test_roll_is_the_angle_that_makes_the_face_upright(photo, truth):
    for angle in (-90, -45, 0, 30, 75):
        _, mat = tilt(photo, angle)
        assert abs(rotation.roll(align_matrix(project(truth, mat))) - rotation.roll(align_matrix(truth)) + angle) < 1


def test_rotated_copy_holds_the_whole_frame_and_maps_back():
    image = np.zeros((120, 200, 3), np.uint8)
    image[50:70, 150:170] = 255
    rotated, mat = rotation.rotate_frame(image, 90, work_size=0)
    assert rotated.shape[:2] == (200, 120)
    ys, xs = np.nonzero(rotated[..., 0] > 128)
    assert np.allclose(project([[160, 60]], np.vstack([mat, [0, 0, 1]]))[0], (xs.mean(), ys.mean()), atol=1.5)


@pytest.mark.parametrize("detector", ["dlib-hog", "yunet"])
@pytest.mark.parametrize("angle", [60, 90, -90])
def test_a_tilted_face_is_found_by_rotating_the_frame_and_landmarked_upright(photo, truth, detector, angle):
    tilted, mat = tilt(photo, angle)
    faces = Extractor(detector, masks=(), identity=False).faces(tilted)
    assert len(faces) == 1 and tilt_ok(faces[0].landmarks, truth, mat)


def test_without_the_retry_hog_misses_a_face_on_its_side(photo):
    tilted, _ = tilt(photo, 90)
    assert Extractor("dlib-hog", masks=(), identity=False, rotate=()).faces(tilted) == []


def test_a_frame_without_a_face_stays_without_one(photo):
    empty = np.ascontiguousarray(photo[700:, :])          # below the chin: suit and background
    assert Extractor("yunet", masks=(), identity=False).faces(empty) == []


def test_a_turned_head_is_found(photo, truth):
    turned, hom = turn(photo, truth.mean(0), 55)
    faces = Extractor("yunet", masks=(), identity=False).faces(turned)
    expected = project(truth, hom)
    assert len(faces) == 1 and np.linalg.norm(faces[0].landmarks.mean(0) - expected.mean(0)) < 0.25 * np.ptp(
        expected, axis=0).max()


@pytest.mark.slow
def test_tracking_follows_a_head_tilting_to_its_side():
    """40 frames of a real clip tilting 0 -> 90 degrees; the detector runs every 8 frames, tracking between:
    every frame keeps its one face, landmarked as in the upright frame (turned the same way)."""
    clip = shared("katie_hill", "video_katiehill_hdtf_WDA_000.mp4")
    frames = [image for index, image in read_frames(clip) if index < 40]
    upright = Extractor("dlib-hog", masks=(), identity=False, rotate=())
    truths = [upright.faces(image)[0].landmarks for image in frames]
    tilted = [tilt(image, 90 * i / 39) for i, image in enumerate(frames)]
    stream = (Frame(i, f"f{i}.png", image) for i, (image, _) in enumerate(tilted))
    found = [faces for _, faces in Extractor("yunet", masks=(), identity=False).stream(stream, detect_every=8)]
    assert [len(faces) for faces in found] == [1] * 40
    assert all(tilt_ok(faces[0].landmarks, truth, mat) for faces, truth, (_, mat) in zip(found, truths, tilted))
