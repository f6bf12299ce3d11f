"""convert end to end on real shared faces: extract two people, train a tiny model, swap one video; and the
bad inputs a user meets (missing/corrupt model, alignments of another video, unwritable output)."""
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib.provenance import STATEMENT, image_statement, is_tagged
from lib.video import probe, read_frames, read_metadata

AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"
TINY = ["-t", "lightweight", "-O", "width=0.25", "-O", "dense=64", "-b", "8"]


@pytest.fixture(scope="module")
def swap_setup(faces_of, tmp_path_factory):
    """(video A, its alignments, model dir): faces of two people from the real CLI and a model trained a few steps."""
    faces_a = faces_of(AOC, 1)
    faces_b = faces_of(HILL, 4)
    model = tmp_path_factory.mktemp("model") / "model"
    run_cli("faceswap.py", "train", "-A", faces_a, "-B", faces_b, "-m", model, "-i", 6, "-s", 6, *TINY)
    return shared(AOC), faces_a.parent / "alignments.json", model


def convert(*args) -> None:
    """Run 'faceswap.py convert ARGS' in this process (TensorFlow loads once for the whole module)."""
    from lib.cli import main
    assert main("faceswap.py", "", {"convert": "scripts.convert"}, ["convert", *map(str, args)]) == 0


def _frames(path, indices):
    wanted, out = set(indices), {}
    for index, frame in read_frames(path):
        if index in wanted:
            out[index] = frame.astype(np.int16)
    return out


@pytest.mark.slow
def test_convert_keeps_frames_fps_audio_and_tags_and_changes_only_the_face(swap_setup, tmp_path):
    video, alignments, model = swap_setup
    out = tmp_path / "swapped.mp4"
    convert("-i", video, "-o", out, "-m", model, "-p", alignments)
    src, dst = probe(video), probe(out)
    assert dst.frame_count == src.frame_count and dst.fps == src.fps
    assert dst.has_audio and (dst.width, dst.height) == (src.width, src.height)
    assert is_tagged(read_metadata(out)) and read_metadata(out)["comment"] == STATEMENT
    before, after = _frames(video, [0, 100, 199]), _frames(out, [0, 100, 199])
    for i in before:
        far = np.abs(after[i][:90, :90] - before[i][:90, :90]).mean()       # flag in the top-left corner
        face = np.abs(after[i][200:330, 190:320] - before[i][200:330, 190:320]).mean()
        assert far < 4, (i, far)                                           # codec noise only
        assert face > 20 and face > 5 * far, (i, face, far)
    assert [p.name for p in tmp_path.iterdir()] == ["swapped.mp4"]


def test_frame_ranges_convert_only_those_frames(swap_setup, tmp_path):
    video, alignments, model = swap_setup
    out = tmp_path / "ranged.mp4"
    convert("-i", video, "-o", out, "-m", model, "-p", alignments, "-R", "10-19",
            "--no-label", "-c", "color-transfer", "-M", "components", "-S", "sharpen")
    assert probe(out).frame_count == 200
    before, after = _frames(video, [5, 15, 150]), _frames(out, [5, 15, 150])
    diff = {i: np.abs(after[i][200:330, 190:320] - before[i][200:330, 190:320]).mean() for i in before}
    assert diff[15] > 20 and diff[5] < 5 and diff[150] < 5, diff      # untouched: codec noise only
    assert np.abs(after[150][-40:, -200:] - before[150][-40:, -200:]).mean() < 2.5      # no label


@pytest.mark.slow
def test_images_writer_drops_unconverted_frames_unless_keep_unchanged(swap_setup, tmp_path):
    video, alignments, model = swap_setup
    convert("-i", video, "-o", tmp_path / "only", "-m", model, "-p", alignments,
            "-R", "0-4", "--image-format", "jpg", "-c", "seamless-clone")
    files = sorted((tmp_path / "only").iterdir())
    assert len(files) == 5 and all(image_statement(f.read_bytes()) == STATEMENT for f in files)
    convert("-i", video, "-o", tmp_path / "all", "-m", model, "-p", alignments,
            "-R", "0-4", "-k", "-c", "match-hist", "-M", "none")
    assert len(list((tmp_path / "all").iterdir())) == 200


@pytest.mark.slow
def test_convert_detects_faces_on_the_fly_for_a_folder_of_frames_with_a_reference_video(swap_setup, tmp_path):
    video, _, model = swap_setup
    import cv2
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, frame in read_frames(video):
        if index >= 12:
            break
        cv2.imwrite(str(frames / f"shot_{index:06d}.png"), frame)
    out = tmp_path / "from_frames.mp4"
    convert("-i", frames, "-o", out, "-m", model, "-r", video, "-w", "opencv",
            "--swap-model", "-f", frames / "shot_000000.png")
    info = probe(out)
    assert info.frame_count == 12 and info.fps == probe(video).fps and info.has_audio
    assert is_tagged(read_metadata(out))


def test_convert_swaps_a_single_photo(swap_setup, tmp_path):
    video, _, model = swap_setup
    import cv2
    frame = next(iter(read_frames(video)))[1]
    cv2.imwrite(str(tmp_path / "photo.png"), frame)
    convert("-i", tmp_path / "photo.png", "-o", tmp_path / "swapped.jpg", "-m", model)
    out = tmp_path / "swapped.jpg"
    assert image_statement(out.read_bytes()) == STATEMENT
    swapped = cv2.imread(str(out)).astype(np.int16)
    assert np.abs(swapped[200:330, 190:320] - frame[200:330, 190:320]).mean() > 20
    assert np.abs(swapped[:90, :90] - frame[:90, :90]).mean() < 4


@pytest.mark.slow
def test_rebuild_draws_the_face_with_its_own_persons_decoder(swap_setup, tmp_path):
    """--rebuild decodes A's face with A's decoder: on one photo that is what --swap-model (B -> A, also A's
    decoder) draws, and --rebuild --swap-model (B -> B) is the plain swap's B decoder."""
    video, _, model = swap_setup
    import cv2
    frame = next(iter(read_frames(video)))[1]
    cv2.imwrite(str(tmp_path / "photo.png"), frame)
    outs = {}
    for name, flags in (("swap", []), ("rebuild", ["--rebuild"]), ("to_a", ["--swap-model"]),
                        ("b_rebuilt", ["--rebuild", "--swap-model"])):
        outs[name] = tmp_path / f"{name}.png"
        convert("-i", tmp_path / "photo.png", "-o", outs[name], "-m", model, "--no-label", *flags)
    image = {name: cv2.imread(str(path)).astype(np.int16) for name, path in outs.items()}
    assert np.array_equal(image["rebuild"], image["to_a"])
    assert np.array_equal(image["b_rebuilt"], image["swap"])
    assert np.abs(image["rebuild"] - image["swap"])[200:330, 190:320].mean() > 2


# ---------------------------------------------------------------------------------------------- bad input
def test_missing_or_corrupt_model_fails_cleanly(swap_setup, tmp_path):
    video, alignments, _ = swap_setup
    out = tmp_path / "out.mp4"
    proc = run_cli("faceswap.py", "convert", "-i", video, "-o", out, "-m", tmp_path / "nope", "-p", alignments,
                   check=False)
    assert_clean_failure(proc, "model")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "model.npz").write_bytes(b"PK\x03\x04 this is not a model")
    proc = run_cli("faceswap.py", "convert", "-i", video, "-o", out, "-m", bad, "-p", alignments, check=False)
    assert_clean_failure(proc, "corrupt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad"]


def test_alignments_of_another_video_fail_cleanly(swap_setup, tmp_path):
    _, alignments, model = swap_setup
    other = shared("alexandria_ocasio_cortez/video_aoc_retalking_3.mp4")       # 125 frames, not 200
    proc = run_cli("faceswap.py", "convert", "-i", other, "-o", tmp_path / "out.mp4", "-m", model,
                   "-p", alignments, check=False)
    assert_clean_failure(proc, "describes", "200 frames", "not video_aoc_retalking_3.mp4")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_fails_cleanly_and_an_existing_output_survives(swap_setup, tmp_path):
    video, alignments, model = swap_setup
    proc = run_cli("faceswap.py", "convert", "-i", video, "-o", tmp_path / "missing" / "out.mp4", "-m", model,
                   "-p", alignments, check=False)
    assert_clean_failure(proc, "does not exist")
    assert not (tmp_path / "missing").exists()
    if os.geteuid() == 0:
        readonly = Path("/sys")                      # read-only even for root
    else:
        readonly = tmp_path / "readonly"
        readonly.mkdir()
        readonly.chmod(0o555)
    proc = run_cli("faceswap.py", "convert", "-i", video, "-o", readonly / "out.mp4", "-m", model,
                   "-p", alignments, check=False)
    assert_clean_failure(proc, "read-only")
    assert not (readonly / "out.mp4").exists()


@pytest.mark.slow
def test_a_failure_mid_video_leaves_no_partial_output(swap_setup, tmp_path):
    """A corrupt frame half-way through a folder: the run stops with one line, the old output is untouched."""
    video, _, model = swap_setup
    import cv2
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, frame in read_frames(video):
        if index >= 6:
            break
        cv2.imwrite(str(frames / f"shot_{index:06d}.png"), frame)
    (frames / "shot_000003.png").write_bytes(b"not a png")
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous result")
    proc = run_cli("faceswap.py", "convert", "-i", frames, "-o", out, "-m", model, check=False)
    assert_clean_failure(proc, "shot_000003.png")
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "out.mp4"]


@pytest.mark.slow
def test_predicted_mask_needs_and_uses_a_model_that_learns_a_mask(swap_setup, faces_of, tmp_path):
    video, alignments, model = swap_setup
    proc = run_cli("faceswap.py", "convert", "-i", video, "-o", tmp_path / "x.mp4", "-m", model, "-p", alignments,
                   "-M", "predicted", check=False)
    assert_clean_failure(proc, "learns a mask")
    masked = tmp_path / "masked_model"
    run_cli("faceswap.py", "train", "-A", faces_of(AOC, 1), "-B", faces_of(HILL, 4), "-m", masked, "-i", 2, "-s", 2,
            "--learn-mask", *TINY)
    convert("-i", video, "-o", tmp_path / "frames", "-m", masked, "-p", alignments, "-M", "predicted", "-R", "0-4")
    files = sorted((tmp_path / "frames").iterdir())
    assert len(files) == 5 and all(image_statement(f.read_bytes()) == STATEMENT for f in files)
