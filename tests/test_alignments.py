"""The alignments file (lib/alignments.py): round trip, validation, atomic save with backup, no code run."""
import json

import numpy as np
import pytest

from lib.alignments import Alignments, Face, default_path
from lib.errors import FaceswapError
from lib.faces import MEAN_FACE, align_matrix, transform_points


def _face(offset=0.0, identity=True):
    landmarks = (MEAN_FACE * 120 + 200 + offset).astype(np.float32)
    mask = np.zeros((128, 128), np.uint8)
    mask[30:100, 20:110] = 255
    return Face(np.array([190, 180, 140, 150]), landmarks, 1.25, "dlib-hog",
                np.linspace(-0.2, 0.2, 128).astype(np.float32) if identity else None, {"components": mask})


def _alignments():
    out = Alignments({"path": "clip.mp4", "frame_count": 3, "fps": 25.0, "width": 640, "height": 360})
    out.frames = {"clip_000000.png": [_face()], "clip_000001.png": [], "clip_000002.png": [_face(5), _face(90, False)]}
    return out


def test_alignments_round_trip_keeps_every_field(tmp_path):
    path = _alignments().save(tmp_path / "a.json")
    back = Alignments.load(path)
    assert list(back.frames) == ["clip_000000.png", "clip_000001.png", "clip_000002.png"]
    assert back.face_count() == 3 and back.frames_with_faces() == ["clip_000000.png", "clip_000002.png"]
    face, orig = back.frames["clip_000002.png"][0], _face(5)
    assert np.array_equal(face.box, orig.box)
    assert np.allclose(face.landmarks, orig.landmarks, atol=0.01)
    assert np.allclose(face.matrix, orig.matrix, atol=1e-7)
    assert np.allclose(face.identity, orig.identity, atol=1e-6)
    assert np.array_equal(face.masks["components"], orig.masks["components"])
    assert back.frames["clip_000002.png"][1].identity is None
    assert back.source["fps"] == 25.0 and back.mask == {"size": 128, "centering": "face"}


def test_face_matrix_follows_new_landmarks():
    face = _face()
    shifted = face.landmarks + 10
    face.set_landmarks(shifted)
    assert np.allclose(transform_points(shifted, face.matrix), MEAN_FACE, atol=1e-4)
    assert np.allclose(face.matrix, align_matrix(shifted))


def test_save_keeps_a_backup_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "a.json"
    _alignments().save(path)
    first = path.read_bytes()
    smaller = _alignments()
    del smaller.frames["clip_000002.png"]
    smaller.save(path, keep_backup=True)
    assert (tmp_path / "a.json.bak").read_bytes() == first
    assert Alignments.load(path).face_count() == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temp files left


@pytest.mark.parametrize("content, words", [
    (b"{not json", "corrupt"),
    (b"", "corrupt"),
    (b"\xff\xfe\x00", "corrupt"),
    (b'{"format": "something-else", "version": 1, "frames": {}}', "not a faceswap alignments"),
    (b'{"format": "faceswap-alignments", "version": 99, "frames": {}}', "version 99"),
    (b'{"format": "faceswap-alignments", "version": 1}', "no 'frames'"),
    (b'{"format": "faceswap-alignments", "version": 1, "frames": {"f.png": [{"box": [1, 2, 3]}]}}', "corrupt"),
    (b'{"format": "faceswap-alignments", "version": 1, "frames": {"f.png": 5}}', "corrupt"),
])
def test_bad_alignments_files_fail_with_one_clear_error(tmp_path, content, words):
    path = tmp_path / "a.json"
    path.write_bytes(content)
    with pytest.raises(FaceswapError, match=words) as err:
        Alignments.load(path)
    assert str(path) in str(err.value)


def test_wrong_shapes_and_nan_are_rejected(tmp_path):
    doc = json.loads(_alignments().to_bytes())
    good = doc["frames"]["clip_000000.png"][0]
    for bad in ({**good, "landmarks": good["landmarks"][:5]}, {**good, "matrix": [[1, 0, 0]]},
                {**good, "identity": [0.0] * 3}, {**good, "landmarks": [[float("nan"), 0]] * 68},
                {**good, "masks": {"components": "not-base64!"}}):
        doc["frames"]["clip_000000.png"] = [bad]
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(doc))
        with pytest.raises(FaceswapError, match="corrupt"):
            Alignments.load(path)


def test_loading_never_runs_code(tmp_path):
    marker = tmp_path / "ran"
    pickle_bomb = b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."
    path = tmp_path / "a.json"
    path.write_bytes(pickle_bomb)
    with pytest.raises(FaceswapError):
        Alignments.load(path)
    assert not marker.exists()


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FaceswapError, match="run 'faceswap.py extract'"):
        Alignments.load(tmp_path / "nope.json")


def test_default_path_sits_beside_the_input(tmp_path):
    assert default_path(tmp_path / "talk.mp4") == tmp_path / "talk_alignments.json"
    assert default_path(tmp_path) == tmp_path / "alignments.json"
