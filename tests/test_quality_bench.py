"""The sharpness figure of evaluate and the quality benchmark (tools.py bench --quality): figures of real faces
where the answer is known, its inputs refused clearly, and one whole run with a budget of seconds."""
import json
import math

import cv2
import numpy as np
import pytest
from conftest import assert_clean_failure, run_cli, shared

from lib import metrics
from lib.errors import FaceswapError
from lib.jobs import quality

AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"


def face_frame():
    """A real frame and its face region (the 68 landmarks of the dlib aligner)."""
    from lib.extractor import Extractor
    from lib.video import read_frame
    image = read_frame(shared(AOC), 20)
    face = max(Extractor(detector="dlib-hog", masks=(), identity=False).faces(image),
               key=lambda f: f.box[2] * f.box[3])
    return image, metrics.face_region(face.landmarks, image.shape, grow=-0.2)


def test_sharpness_is_the_laplacian_variance_inside_the_mask():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[16:48, 16:48] = 255
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    expected = cv2.Laplacian(grey, cv2.CV_32F, ksize=3)[16:48, 16:48].var()
    assert metrics.sharpness(image, mask) == pytest.approx(expected, rel=1e-5)
    flat = image.copy()
    flat[:] = 128
    assert metrics.sharpness(flat, mask) == 0.0
    outside = image.copy()
    outside[:8] = 0                                    # changes outside the mask do not count
    assert metrics.sharpness(outside, mask) == pytest.approx(expected, rel=1e-5)
    assert math.isnan(metrics.sharpness(image, np.zeros_like(mask)))


def test_a_blurred_or_half_resolution_face_keeps_a_fraction_of_its_sharpness():
    image, region = face_frame()
    sharp = metrics.sharpness(image, region)
    height, width = image.shape[:2]
    half = cv2.resize(cv2.resize(image, (width // 2, height // 2), interpolation=cv2.INTER_AREA), (width, height),
                      interpolation=cv2.INTER_CUBIC)
    blurred = cv2.GaussianBlur(image, (0, 0), 3)
    assert sharp > 0
    assert metrics.sharpness(blurred, region) / sharp < metrics.sharpness(half, region) / sharp < 0.9
    assert metrics.sharpness(blurred, region) / sharp < 0.2


@pytest.mark.slow
def test_evaluate_reports_a_sharpness_ratio_of_one_for_the_original_itself(tmp_path):
    video = shared("barack_obama", "video_obama_short.mp4")
    out = tmp_path / "report"
    proc = run_cli("tools.py", "evaluate", "--original", video, "--swapped", video, "--ref-a", shared("barack_obama"),
                   "--ref-b", shared("jerry_seinfeld"), "-o", out, "-n", 50)
    sharp = json.loads((out / "report.json").read_text())["summary"]["sharpness"]
    assert sharp["ratio"] == pytest.approx(1.0) and sharp["original"] == sharp["swapped"] > 0
    assert "face sharpness" in proc.stdout and "ratio 1.00" in proc.stdout


def test_checkpoints_rise_and_read_as_durations():
    assert quality.checkpoint_seconds(["5m", "15m", "1h"]) == [300, 900, 3600]
    for bad, words in ((["5m", "5m"], "rising"), (["15m", "5m"], "rising"), (["soon"], "--checkpoints soon"),
                       ([], "at least one")):
        with pytest.raises(FaceswapError, match=words):
            quality.checkpoint_seconds(bad)


def test_figures_come_from_the_evaluate_summary():
    summary = {"identity": {"retrieval": 0.9, "distance": {"A": 0.7, "B": 0.4}},
               "pose": {"angle": 5.5, "tracking": 1.5, "follow_yaw": 0.6}, "expression": {"all": 0.05},
               "stability": {"landmark_jitter": {"swapped": 0.03}, "colour_flicker": {"ratio": 1.2}},
               "sharpness": {"ratio": 0.25}, "background": {"ssim": 0.99},
               "frames": {"evaluated": 10, "no_face_in_output": 1}}
    figs = quality.figures(summary)
    assert figs == {"retrieval": 0.9, "distance_target": 0.4, "distance_source": 0.7, "pose": 5.5,
                    "pose_tracking": 1.5, "follow_yaw": 0.6, "expression": 0.05, "jitter": 0.03, "flicker": 1.2,
                    "sharpness": 0.25, "background": 0.99, "no_face": 0.1}
    older = quality.figures({**summary, "sharpness": None})          # a report from before sharpness
    assert math.isnan(older["sharpness"])
    older = quality.figures({**summary, "pose": {"angle": 5.5}})      # before the pose error was split
    assert older["pose"] == 5.5 and math.isnan(older["pose_tracking"]) and math.isnan(older["follow_yaw"])


@pytest.mark.slow
def test_an_earlier_run_or_a_missing_video_is_refused(tmp_path):
    (tmp_path / "old" / "work").mkdir(parents=True)
    proc = run_cli("tools.py", "bench", "--quality", "--out", tmp_path / "old", "--checkpoints", "1s", check=False)
    assert_clean_failure(proc, "earlier benchmark", "--out")
    proc = run_cli("tools.py", "bench", "--quality", "--out", tmp_path / "new", "--pair", tmp_path / "a.mp4",
                   tmp_path / "b.mp4", check=False)
    assert_clean_failure(proc, "video not found", "a.mp4")
    proc = run_cli("tools.py", "bench", "--quality", "--out", tmp_path / "new", "--checkpoints", "5m", "1m",
                   check=False)
    assert_clean_failure(proc, "rising")
    proc = run_cli("tools.py", "bench", "--quality", "--out", tmp_path / "new", "--loss", "sharp:1", check=False)
    assert_clean_failure(proc, "sharp")
    proc = run_cli("tools.py", "bench", "--quality", "--out", tmp_path / "new", "--detail", "-1", check=False)
    assert_clean_failure(proc, "--detail")
    assert not (tmp_path / "new").exists()


@pytest.mark.slow
def test_a_run_of_seconds_measures_both_directions_at_each_checkpoint_beside_the_floors(tmp_path):
    out = tmp_path / "bench"
    results = quality.run(quality.QualityParams(
        output=str(out), pairs=[(str(shared(AOC)), str(shared(HILL)))], checkpoints=["10s", "25s"],
        models=["lightweight"], batch_sizes=[2], option=["width=0.125", "dense=64"], frames=30, eval_every=3,
        distractors=[], label="tiny", rebuild=True))
    saved = json.loads((out / "quality.json").read_text())
    assert saved["format"] == "faceswap-quality" and saved["label"] == "tiny"
    (run,) = saved["runs"]
    assert run["variant"].startswith("lightweight b2") and len(run["checkpoints"]) == 2
    first, second = run["checkpoints"]
    assert 10 <= first["train_seconds"] < 25 <= second["train_seconds"]
    assert 0 < first["iterations"] < second["iterations"]
    for point in (first, second):
        assert set(point["directions"]) == {"a2b", "b2a", "a2a", "b2b"}       # with each person rebuilt
        for direction in ("a2b", "b2a", "a2a", "b2b"):
            figs = point["directions"][direction]
            assert set(figs) == set(quality.FIGURES) | {"no_face"}
            assert figs["sharpness"] is not None and 0 < figs["sharpness"] < 1.5   # a blurry 64 px face
    floors = saved["floors"]
    assert set(floors) == {str(shared(AOC)), str(shared(HILL))}
    for kinds in floors.values():
        assert kinds["reencode"]["sharpness"] > kinds["halfres"]["sharpness"] > 0
        assert kinds["reencode"]["sharpness"] > 0.6 and kinds["reencode"]["pose"] < 3
        assert kinds["reencode"]["pose_tracking"] <= kinds["reencode"]["pose"] + 0.1
    assert (out / "quality.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "quality.html").read_text()
    assert "data:image/png;base64," in page and "floor: original vs" in page
    text = quality.table(results)
    assert "lightweight b2" in text and "->" in text and "reencode" in text and "halfres" in text
    assert "track" in text and "follow" in text and "rebuilt" in text
