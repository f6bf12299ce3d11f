"""swap: the one-command workflow on two short real clips, and resuming it with more iterations."""
import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib.model.store import read_meta
from lib.provenance import is_tagged
from lib.video import probe, read_metadata, run_ffmpeg

TINY = ["-t", "lightweight", "-O", "width=0.25", "-O", "dense=64", "--batch-size", "8"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    out = []
    for rel, name in (("alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4", "a.mp4"),
                      ("katie_hill/video_katiehill_hdtf_WDA_000.mp4", "b.mp4")):
        run_ffmpeg(["-i", shared(rel), "-frames:v", 30, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
                    "-shortest", folder / name], "trimming a test clip")
        out.append(folder / name)
    return out


@pytest.mark.slow
def test_swap_makes_the_video_and_a_second_call_resumes_the_same_model(clips, tmp_path):
    a, b = clips
    out, ws = tmp_path / "swapped.mp4", tmp_path / "ws"
    first = run_cli("faceswap.py", "swap", "-a", a, "-b", b, "-o", out, "-i", 3, "--workspace", ws,
                    "--loss", "ssim:1,mae:1", *TINY)
    assert "[1/4] extract A" in first.stdout and "[4/4] convert" in first.stdout
    info = probe(out)
    assert info.frame_count == probe(a).frame_count and info.has_audio and is_tagged(read_metadata(out))
    assert read_meta(ws / "model")["iterations"] == 3 and read_meta(ws / "model")["loss"] == "ssim:1,mae:1"

    second = run_cli("faceswap.py", "swap", "-a", a, "-b", b, "-o", out, "-i", 5, "--workspace", ws, *TINY)
    assert second.stdout.count("already done") == 2                   # both extractions skipped
    assert "train up to 5 iterations (now 3)" in second.stdout
    assert read_meta(ws / "model")["iterations"] == 5
    assert probe(out).frame_count == info.frame_count


@pytest.mark.slow
def test_swap_with_a_missing_input_fails_cleanly(clips, tmp_path):
    proc = run_cli("faceswap.py", "swap", "-a", clips[0], "-b", tmp_path / "nobody", "-o", tmp_path / "o.mp4",
                   check=False)
    assert_clean_failure(proc, "not found")
    proc = run_cli("faceswap.py", "swap", "-a", clips[0], "-b", clips[1], "-o", tmp_path / "o.mp4",
                   "--workspace", tmp_path / "ws", "--loss", "ssim:1,blur:2", check=False)
    assert_clean_failure(proc, "blur")
    assert list(tmp_path.iterdir()) == []
    proc = run_cli("faceswap.py", "swap", "-a", clips[0], "-b", clips[1], "-o", tmp_path / "o.mp4",
                   "--workspace", tmp_path / "ws", "--detail", "1.5", check=False)
    assert_clean_failure(proc, "--detail")             # refused before extraction, not after the training
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_swap_takes_a_folder_of_photos_for_b(clips, tmp_path):
    out = tmp_path / "from_photos.mp4"
    proc = run_cli("faceswap.py", "swap", "-a", clips[0], "-b", shared("jennifer_aniston"), "-o", out, "-i", 2,
                   "--workspace", tmp_path / "ws", *TINY)
    assert "[4/4] convert" in proc.stdout
    assert len(list((tmp_path / "ws" / "faces_b").glob("*.png"))) >= 20
    assert probe(out).frame_count == probe(clips[0]).frame_count
