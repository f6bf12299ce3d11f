"""tools.py evaluate on real shared videos: its numbers are sane where the answer is known."""
import json

import pytest
from conftest import assert_clean_failure, run_cli, shared
from test_evaluate_report import check_html_report

AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"


def _evaluate(tmp_path, original, swapped, ref_a, ref_b, *extra):
    out = tmp_path / "report"
    proc = run_cli("tools.py", "evaluate", "--original", original, "--swapped", swapped, "--ref-a", *ref_a,
                   "--ref-b", *ref_b, "-o", out, *extra)
    doc = json.loads((out / "report.json").read_text())
    return proc, doc, out


@pytest.mark.slow
def test_original_against_itself_has_no_pose_error_and_reads_as_a(tmp_path):
    video = shared("barack_obama", "video_obama_short.mp4")
    proc, doc, out = _evaluate(tmp_path, video, video, [shared("barack_obama")], [shared("jerry_seinfeld")],
                               "--distractors", shared("mindy_kaling"), "-n", 30)
    s = doc["summary"]
    assert s["frames"]["evaluated"] == 7 and s["frames"]["total"] == 208
    assert s["frames"]["no_face_in_output"] == 0
    assert s["pose"]["angle"] < 0.01 and s["expression"]["all"] < 1e-6
    assert s["pose"]["offset"] < 0.01 and s["pose"]["tracking"] < 0.01
    ident = s["identity"]
    assert ident["distance"]["A"] < 0.5 < ident["distance"]["B"]
    assert ident["distance"]["A"] < ident["distance"]["mindy_kaling"]
    assert ident["retrieval"] == 0.0 and ident["retrieval_by_identity"]["A"] == 1.0
    assert ident["original_nearest"] == "A"
    assert s["background"]["ssim"] > 0.9999
    assert s["stability"]["landmark_jitter"]["ratio"] == pytest.approx(1.0)
    assert "identity retrieval B" in proc.stdout and "pose error" in proc.stdout and "tracking" in proc.stdout
    assert len(check_html_report(out / "report.html")) == 3


@pytest.mark.slow
def test_the_job_returns_the_report_as_strict_json(tmp_path):
    """The service sends the summary on as JSON to browsers and gRPC clients, and JSON has no NaN: a figure
    that cannot be measured (here: jitter and follow, from only 2 frames) must come back as None."""
    from lib.jobs import evaluate
    video = str(shared("barack_obama", "video_obama_short.mp4"))
    result = evaluate.run(evaluate.EvaluateParams(original=video, swapped=video, ref_a=[str(shared("barack_obama"))],
                                                  ref_b=[str(shared("jerry_seinfeld"))], output=str(tmp_path / "r"),
                                                  every_n=150))
    summary = result["report"]["summary"]
    assert summary["frames"]["evaluated"] == 2
    assert summary["pose"]["follow_yaw"] is None and summary["stability"]["landmark_jitter"]["swapped"] is None
    json.dumps(result, allow_nan=False)


@pytest.mark.slow
def test_video_of_b_is_retrieved_as_b(tmp_path, faces_of):
    """Katie Hill's video as the "swapped" video of Ocasio-Cortez's: every frame must be nearest to B."""
    faces_a, faces_b = faces_of(AOC, 4), faces_of(HILL, 4)
    _, doc, out = _evaluate(tmp_path, shared(AOC), shared(HILL), [faces_a], [faces_b],
                            "--distractors", shared("mindy_kaling"), shared("jerry_seinfeld"), "-n", 20)
    ident = doc["summary"]["identity"]
    assert doc["summary"]["frames"]["evaluated"] == 10
    assert ident["frames"] >= 9 and ident["retrieval"] >= 0.9
    assert ident["distance"]["B"] < 0.5 < ident["distance"]["A"]
    assert ident["original_nearest"] == "A" and ident["original_retrieval_a"] == 1.0
    assert doc["summary"]["background"]["ssim"] < 0.9        # two different rooms
    frames = doc["frames"]
    assert len(frames) == 10 and all(f["nearest"] == "B" for f in frames if f["identity"])
    check_html_report(out / "report.html")


@pytest.mark.slow
def test_tiny_model_swap_gives_sane_numbers(tmp_path, faces_of):
    """Train a tiny model a few steps, convert, evaluate with the original's alignments."""
    faces_a, faces_b = faces_of(AOC, 4), faces_of(HILL, 4)
    alignments = faces_a.parent / "alignments.json"
    model, swapped = tmp_path / "model", tmp_path / "swapped.mp4"
    run_cli("faceswap.py", "train", "-A", faces_a, "-B", faces_b, "-m", model, "-t", "lightweight",
            "-b", 4, "-i", 4, "-s", 4)
    run_cli("faceswap.py", "convert", "-i", shared(AOC), "-o", swapped, "-m", model, "-p", alignments,
            "--no-label")
    _, doc, out = _evaluate(tmp_path, shared(AOC), swapped, [faces_a], [faces_b], "-p", alignments, "-n", 20)
    s = doc["summary"]
    assert s["frames"]["evaluated"] == 10 and s["frames"]["original_face"] == 10
    assert s["frames"]["swapped_face"] + s["frames"]["no_face_in_output"] == 10
    assert len(s["frames"]["no_face_frames"]) == s["frames"]["no_face_in_output"]
    # Only the face changed: the background matches up to codec noise.
    assert s["background"]["ssim"] > 0.95 and s["background"]["psnr"] > 30
    if s["frames"]["swapped_face"]:
        assert 0 <= s["identity"]["retrieval"] <= 1
    # Four steps draw noise where the face was; a stray detection in it has any pose. Check the pose only
    # when most frames read as a face.
    if s["frames"]["swapped_face"] >= 5:
        assert s["pose"]["angle"] < 20
    assert s["identity"]["original_nearest"] == "A"
    check_html_report(out / "report.html")


def test_videos_of_different_length_fail_clearly(tmp_path):
    proc = run_cli("tools.py", "evaluate", "--original", shared(AOC), "--swapped",
                   shared("barack_obama", "video_obama_short.mp4"), "--ref-a", shared("barack_obama"),
                   "--ref-b", shared("jerry_seinfeld"), "-o", tmp_path / "r", check=False)
    assert_clean_failure(proc, "frames")
    assert not (tmp_path / "r").exists()


def test_missing_reference_folder_fails_clearly(tmp_path):
    video = shared(AOC)
    proc = run_cli("tools.py", "evaluate", "--original", video, "--swapped", video, "--ref-a", tmp_path / "nope",
                   "--ref-b", shared("jerry_seinfeld"), "-o", tmp_path / "r", check=False)
    assert_clean_failure(proc, "nope")
    assert not (tmp_path / "r").exists()
