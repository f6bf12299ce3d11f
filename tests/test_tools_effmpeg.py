"""tools.py effmpeg: every action on a real shared clip, checking the video it writes, not only the exit code."""
from fractions import Fraction

import numpy as np
import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib.video import Source, frame_index, list_images, probe, read_frames

CLIP = "jamie_oliver/video_oliver_voxceleb_00086.mp4"  # 224x224, 25 fps, 130 frames, AAC audio


def effmpeg(*args, check=True):
    return run_cli("tools.py", "effmpeg", *args, check=check)


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("effmpeg") / "frames"
    effmpeg("-a", "extract", "-i", shared(CLIP), "-o", out)
    return out


def test_extract_writes_every_frame_with_project_names(frames_dir):
    files = list_images(frames_dir)
    assert len(files) == 130
    assert [frame_index(f.name) for f in files] == list(range(130))
    assert [f.name for f in files] == Source(shared(CLIP)).names()
    first = next(read_frames(shared(CLIP)))[1]
    assert np.abs(Source(frames_dir).frames().__next__().image.astype(int) - first).mean() < 1.0


def test_gen_vid_keeps_frame_count_fps_and_reference_audio(frames_dir, tmp_path):
    out = tmp_path / "rebuilt.mp4"
    effmpeg("-a", "gen-vid", "-i", frames_dir, "-o", out, "-r", shared(CLIP))
    info = probe(out)
    assert (info.frame_count, info.fps, info.has_audio) == (130, Fraction(25), True)
    assert (info.width, info.height) == (224, 224)


def test_gen_vid_reads_numbered_image_names_at_given_fps(frames_dir, tmp_path):
    # convert's image writer and other tools may name frames 1.png, 2.png ... 10.png: natural order is kept
    folder = tmp_path / "plain"
    folder.mkdir()
    for i, src in enumerate(list_images(frames_dir)[:12], start=1):
        (folder / f"{i}.png").write_bytes(src.read_bytes())
    out = tmp_path / "plain.mp4"
    effmpeg("-a", "gen-vid", "-i", folder, "-o", out, "--fps", "30000/1001")
    info = probe(out)
    assert info.frame_count == 12 and info.fps == Fraction(30000, 1001) and not info.has_audio
    decoded = [img for _, img in read_frames(out)]
    originals = [img for _, img in read_frames(shared(CLIP))][:12]
    # each decoded frame is nearest to the original frame of the same position: the order was kept
    for i, frame in enumerate(decoded):
        errors = [np.abs(frame.astype(int) - o).mean() for o in originals]
        assert int(np.argmin(errors)) == i


def test_get_fps_and_get_info_print_the_measured_values():
    fps = effmpeg("-a", "get-fps", "-i", shared(CLIP)).stdout.strip()
    assert fps == "25.000"
    info = effmpeg("-a", "get-info", "-i", shared(CLIP)).stdout
    assert "224x224" in info and "130" in info and "aac" in info


def test_mux_audio_adds_the_reference_sound(frames_dir, tmp_path):
    silent = tmp_path / "silent.mp4"
    effmpeg("-a", "gen-vid", "-i", frames_dir, "-o", silent, "--fps", "25")
    assert not probe(silent).has_audio
    out = tmp_path / "with_sound.mp4"
    effmpeg("-a", "mux-audio", "-i", silent, "-r", shared(CLIP), "-o", out)
    info = probe(out)
    assert info.has_audio and info.frame_count == 130


def test_rescale_changes_size_and_keeps_frames(tmp_path):
    out = tmp_path / "small.mp4"
    effmpeg("-a", "rescale", "-i", shared(CLIP), "--size", "0.5", "-o", out)
    info = probe(out)
    assert (info.width, info.height, info.frame_count, info.has_audio) == (112, 112, 130, True)


def test_rotate_90_turns_the_picture(tmp_path):
    out = tmp_path / "turned.mp4"
    effmpeg("-a", "rotate", "-i", shared(CLIP), "--degrees", "90", "-o", out)
    original = next(read_frames(shared(CLIP)))[1].astype(int)
    turned = next(read_frames(out))[1].astype(int)
    clockwise = np.rot90(original, k=-1)
    assert np.abs(turned - clockwise).mean() < 4.0
    assert np.abs(turned - original).mean() > 4 * np.abs(turned - clockwise).mean()


def test_slice_cuts_start_and_duration_frame_accurately(tmp_path):
    out = tmp_path / "cut.mp4"
    effmpeg("-a", "slice", "-i", shared(CLIP), "--start", "1", "--duration", "2", "-o", out)
    info = probe(out)
    assert info.frame_count == 50 and info.has_audio
    frame_25 = [img for i, img in read_frames(shared(CLIP)) if i == 25][0].astype(int)
    first = next(read_frames(out))[1].astype(int)
    assert np.abs(first - frame_25).mean() < 3.0


def test_reencode_rescues_a_truncated_video(tmp_path):
    clean = tmp_path / "clean.mp4"  # re-encoded with +faststart: index first, like most camera files
    effmpeg("-a", "reencode", "-i", shared(CLIP), "-o", clean)
    assert probe(clean).frame_count == 130
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clean.read_bytes()[: clean.stat().st_size * 6 // 10])
    assert_clean_failure(effmpeg("-a", "get-info", "-i", cut, check=False), "truncated")
    fixed = tmp_path / "fixed.mp4"
    effmpeg("-a", "reencode", "-i", cut, "-o", fixed)
    info = probe(fixed)
    assert 40 < info.frame_count < 130
    assert sum(1 for _ in read_frames(fixed)) == info.frame_count  # every frame decodes


def test_bad_input_gives_one_clear_line_and_writes_nothing(tmp_path):
    assert_clean_failure(effmpeg("-a", "get-fps", "-i", tmp_path / "nope.mp4", check=False), "not found")
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    out = tmp_path / "out.mp4"
    assert_clean_failure(effmpeg("-a", "rescale", "-i", text, "--size", "0.5", "-o", out, check=False), "cannot read")
    assert_clean_failure(effmpeg("-a", "slice", "-i", shared(CLIP), "--start", "99", "-o", out, check=False),
                         "past the end")
    assert_clean_failure(effmpeg("-a", "gen-vid", "-i", shared(CLIP), "-o", out, check=False), "folder")
    assert_clean_failure(effmpeg("-a", "extract", "-i", tmp_path, check=False), "folder")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["notes.mp4"]
