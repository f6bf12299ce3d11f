"""`faceswap.py train` and `tools.py model` end to end on real extracted faces, as a user runs them."""
import hashlib
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT, assert_clean_failure, run_cli

from lib.model import store

AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"
TINY = ["-t", "lightweight", "-O", "width=0.125", "-O", "dense=64"]


def train(faces_of, model, *extra, check=True, **kw):
    return run_cli("faceswap.py", "train", "-A", faces_of(AOC, 4), "-B", faces_of(HILL, 4), "-m", model, "-b", "4",
                   *extra, check=check, **kw)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_train_saves_previews_and_resumes_from_where_it_stopped(faces_of, tmp_path):
    model = tmp_path / "model"
    timelapse = tmp_path / "timelapse"
    proc = train(faces_of, model, *TINY, "-i", "3", "-s", "2", "-ss", "2", "-w", "--tensorboard",
                 "--timelapse-input-A", faces_of(AOC, 4), "--timelapse-input-B", faces_of(HILL, 4),
                 "--timelapse-output", timelapse)
    assert "EG/s" in proc.stderr and "finished: saved" in proc.stderr
    meta = store.read_meta(model)
    assert meta["iterations"] == 3 and [h[0] for h in meta["history"]] == [2, 3]
    assert meta["plugin"] == "lightweight" and meta["centering"] == "face"
    assert (model / "preview.png").is_file() and list((model / "logs").iterdir())
    assert [p.name for p in store.list_snapshots(model)] == ["model_2.npz"]
    assert sorted(p.name for p in timelapse.iterdir()) == ["00000002.png", "00000003.png"]

    train(faces_of, model, "-i", "2", "-s", "100")          # no -t: the model keeps its own plugin
    meta = store.read_meta(model)
    assert meta["iterations"] == 5 and [h[0] for h in meta["history"]] == [2, 3, 5]
    assert store.read_file(model / "model.npz.bak")[0]["iterations"] == 3

    info = run_cli("tools.py", "model", "-j", "info", "-m", model, "--json")
    assert json.loads(info.stdout)["iterations"] == 5
    run_cli("tools.py", "model", "-j", "restore", "-m", model, "--snapshot", "2")
    assert store.read_meta(model)["iterations"] == 2
    run_cli("tools.py", "model", "-j", "nan-scan", "-m", model)


@pytest.mark.slow
def test_typing_q_saves_and_stops(faces_of, tmp_path):
    model = tmp_path / "model"
    cmd = [sys.executable, str(ROOT / "faceswap.py"), "train", "-A", faces_of(AOC, 4), "-B", faces_of(HILL, 4),
           "-m", model, "-b", "2", "-i", "100000", "-s", "100000", "--no-mixed", *TINY]
    proc = subprocess.run(cmd, cwd=ROOT, input="q\n", capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "'q' typed: saved" in proc.stderr
    meta = store.read_meta(model)
    assert 1 <= meta["iterations"] < 100 and meta["precision"] == "float32"


@pytest.mark.slow
def test_ctrl_c_saves_and_stops(faces_of, tmp_path):
    model = tmp_path / "model"
    cmd = [sys.executable, str(ROOT / "faceswap.py"), "train", "-A", faces_of(AOC, 4), "-B", faces_of(HILL, 4),
           "-m", model, "-b", "2", "-i", "100000", "-s", "1", *TINY]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not store.model_file(model).exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "interrupted: saved" in stderr
    assert store.load_model(model).iterations >= 1


@pytest.mark.slow
def test_nan_loss_stops_training_and_keeps_the_last_good_save(faces_of, tmp_path):
    model = tmp_path / "model"
    train(faces_of, model, *TINY, "-i", "2")
    before = digest(model / "model.npz")
    proc = train(faces_of, model, "-i", "50", "-s", "1000", "--learning-rate", "1e30", check=False)
    assert_clean_failure(proc, "NaN", "last good save (iteration 2) is kept")
    assert digest(model / "model.npz") == before


@pytest.mark.slow
def test_distributed_training_over_two_logical_cpu_devices(faces_of, tmp_path):
    model = tmp_path / "model"
    proc = train(faces_of, model, *TINY, "-i", "2", "--distributed")
    assert "splitting the CPU into 2 logical devices" in proc.stderr
    assert store.read_meta(model)["iterations"] == 2
    odd = train(faces_of, tmp_path / "odd", *TINY, "-i", "1", "--distributed", "-b", "3", check=False)
    assert_clean_failure(odd, "divisible by 2")


@pytest.mark.slow
def test_sigkill_during_training_always_leaves_a_model_that_loads(faces_of, tmp_path):
    """Six runs saving every step are SIGKILLed at random moments; each time the model loads and resumes."""
    model = tmp_path / "model"
    train(faces_of, model, *TINY, "-i", "1")
    rng = np.random.default_rng(3)
    cmd = [sys.executable, str(ROOT / "faceswap.py"), "train", "-A", faces_of(AOC, 4), "-B", faces_of(HILL, 4),
           "-m", model, "-b", "2", "-i", "100000", "-s", "1"]
    for kill in range(6):
        start = store.model_file(model).stat().st_mtime_ns
        proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while store.model_file(model).stat().st_mtime_ns == start and time.time() < deadline:
            time.sleep(0.05)                        # wait for its first save, then kill at a random moment
        time.sleep(rng.uniform(0, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        meta = store.read_file(store.model_file(model))[0]
        assert meta["iterations"] >= kill + 2, f"kill {kill}: training did not resume"
    loaded = store.load_model(model)
    assert loaded.name == "lightweight" and loaded.iterations >= 7
    assert len(list(model.glob(".model.npz.*"))) <= 1, "a killed save's temp file is removed by the next save"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["empty", "tiny", "plain-images", "missing"])
def test_unusable_face_folders_fail_cleanly_and_write_nothing(faces_of, tmp_path, case):
    import shutil
    folder = tmp_path / "faces"
    folder.mkdir()
    if case == "tiny":
        for face in sorted(faces_of(AOC, 4).glob("*.png"))[:5]:
            shutil.copy(face, folder)
    elif case == "plain-images":
        import cv2
        for i in range(30):
            cv2.imwrite(str(folder / f"{i}.png"), np.full((64, 64, 3), i, np.uint8))
    elif case == "missing":
        folder = tmp_path / "nowhere"
    model = tmp_path / "model"
    proc = run_cli("faceswap.py", "train", "-A", folder, "-B", faces_of(HILL, 4), "-m", model, check=False)
    words = {"empty": "at least 25", "tiny": "at least 25", "plain-images": "not a face", "missing": "not found"}
    assert_clean_failure(proc, words[case])
    assert not model.exists()


@pytest.mark.slow
def test_faces_too_small_for_the_model_fail_cleanly(faces_of, tmp_path):
    import cv2

    from lib.faces import read_face_png, write_face_png
    small = tmp_path / "small"
    small.mkdir()
    for face in sorted(faces_of(AOC, 4).glob("*.png"))[:30]:
        image, meta = read_face_png(face)
        write_face_png(small / face.name, cv2.resize(image, (64, 64), interpolation=cv2.INTER_AREA),
                       dict(meta, size=64))
    proc = run_cli("faceswap.py", "train", "-A", small, "-B", faces_of(HILL, 4), "-m", tmp_path / "m",
                   "-t", "dfl-h128", "-O", "width=0.125", "-O", "dense=32", check=False)
    assert_clean_failure(proc, "64 px", "--size")
    assert not (tmp_path / "m" / "model.npz").exists()


@pytest.mark.slow
def test_corrupt_or_foreign_model_fails_cleanly_and_is_not_overwritten(faces_of, tmp_path):
    model = tmp_path / "model"
    train(faces_of, model, *TINY, "-i", "2", "-s", "1")
    wrong = train(faces_of, model, "-t", "original", "-i", "1", check=False)
    assert_clean_failure(wrong, "trained with 'lightweight'")
    assert_clean_failure(train(faces_of, model, "--coverage", "0.8", check=False), "trained with --coverage 1.0")
    (model / "model.npz").write_bytes(b"PK\x03\x04 broken")
    proc = train(faces_of, model, "-i", "1", check=False)
    assert_clean_failure(proc, "corrupt", "restore")
    assert (model / "model.npz").read_bytes() == b"PK\x03\x04 broken"
    run_cli("tools.py", "model", "-j", "restore", "-m", model)      # back to the save before
    assert store.read_meta(model)["iterations"] == 1
