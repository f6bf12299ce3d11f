"""Issue 11 on the jobs: extract and convert never overwrite their input, refuse alignments of other footage,
clean up after a run that was killed or failed, and count only the faces they really swap."""
import json
import os
import shutil

import numpy as np
import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib.alignments import Alignments
from lib.fileio import atomic_path
from lib.model import data
from lib.video import probe, run_ffmpeg

CLIP = "jamie_oliver/video_oliver_voxceleb_00086.mp4"              # 224x224, 130 frames
AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"        # 512x512, 200 frames
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"               # 512x512, 200 frames too
DEAD_PID = 2 ** 22 + 12345                                          # above pid_max: no such process


def extract(*args, check=True):
    return run_cli("faceswap.py", "extract", *args, check=check)


def _stale_temp(folder, name, suffix, is_dir=False):
    """A temp file (or folder) as a run that was killed -9 leaves it: named by fileio, its process gone."""
    path = folder / f".{name}.{DEAD_PID}-k1ll3d{suffix}"
    path.mkdir() if is_dir else path.write_bytes(b"")
    os.utime(path, (0, 0))
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny real model (untrained weights are enough to swap something)."""
    from lib.model import store
    from lib.model.network import build_network
    folder = tmp_path_factory.mktemp("model")
    network = build_network("lightweight", {"width": 0.125, "dense": 64}, "float32")
    store.save(folder, {"plugin": "lightweight", "settings": network.settings, "iterations": 1,
                        "input_size": network.input_size, "output_size": network.output_size},
               [w.numpy() for w in network.weights])
    return folder


# ---------------------------------------------------------------------------------------------- 2. input overwritten
def test_extract_never_writes_its_alignments_over_the_input_video(tmp_path):
    video = tmp_path / "clip.mp4"
    shutil.copy(shared(CLIP), video)
    before = video.read_bytes()
    proc = extract("-i", video, "-p", video, "-o", tmp_path / "faces", check=False)
    assert_clean_failure(proc, "would overwrite the input")
    assert video.read_bytes() == before and not (tmp_path / "clip.mp4.bak").exists()
    photo = tmp_path / "keep.jpg"
    photo.write_bytes(b"\xff\xd8 a photo")
    assert_clean_failure(extract("-i", video, "-p", photo, "-o", tmp_path / "faces", check=False),
                         "not an alignments file")
    assert photo.read_bytes() == b"\xff\xd8 a photo" and not (tmp_path / "faces").exists()


def test_extract_refuses_to_write_faces_into_the_folder_of_images_it_reads(faces_of, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("photo_deepface_img1.jpg", "photo_deepface_img2.jpg"):
        shutil.copy(shared("angelina_jolie", name), photos)
    before = sorted(p.name for p in photos.iterdir())
    assert_clean_failure(extract("-i", photos, "-o", photos, check=False), "is the input folder")
    assert sorted(p.name for p in photos.iterdir()) == before
    # faces extracted before (by an older faceswap) among the photos are not taken for new photos
    faces = sorted(faces_of(CLIP, 10).iterdir())[:2]
    for face in faces:
        shutil.copy(face, photos)
    proc = extract("-i", photos, "-o", tmp_path / "faces", "-p", tmp_path / "a.json")
    assert "skipped 2 unreadable image(s)" in proc.stderr
    assert not set(Alignments.load(tmp_path / "a.json").frames) & {f.name for f in faces}


# ---------------------------------------------------------------------------------------------- 3. stale data
def test_skip_existing_refuses_the_alignments_of_another_video_of_the_same_name(tmp_path):
    one, other = tmp_path / "one" / "clip.mp4", tmp_path / "other" / "clip.mp4"
    one.parent.mkdir(), other.parent.mkdir()
    run_ffmpeg(["-i", shared(AOC), "-frames:v", 20, "-c:v", "libx264", "-preset", "ultrafast", "-an", one], "trim")
    run_ffmpeg(["-i", shared(HILL), "-frames:v", 20, "-c:v", "libx264", "-preset", "ultrafast", "-an", other], "trim")
    alignments = tmp_path / "clip_alignments.json"
    extract("-i", one, "-p", alignments, "-o", tmp_path / "faces1", "--every-n", 10)
    before = alignments.read_bytes()
    proc = extract("-i", other, "-p", alignments, "-o", tmp_path / "faces2", "--skip-existing", check=False)
    assert_clean_failure(proc, "--skip-existing", "bytes differ", "run without --skip-existing")
    assert alignments.read_bytes() == before


@pytest.mark.slow
def test_convert_refuses_alignments_of_footage_of_another_size_or_name(faces_of, tmp_path, model):
    video = tmp_path / "clip.mp4"
    shutil.copy(shared(CLIP), video)
    alignments = tmp_path / "clip_alignments.json"
    shutil.copy(faces_of(CLIP, 10).parent / "alignments.json", alignments)
    doc = json.loads(alignments.read_text())
    doc["source"].update(width=1280, height=720, path=str(video))     # same name and frame count
    alignments.write_text(json.dumps(doc))
    out = tmp_path / "out.mp4"
    proc = run_cli("faceswap.py", "convert", "-i", video, "-m", model, "-o", out, check=False)
    assert_clean_failure(proc, "1280x720", "224x224", "width, height differ")
    assert not out.exists()
    doc["source"].update(width=224, height=224, path="/elsewhere/another.mp4")
    alignments.write_text(json.dumps(doc))
    proc = run_cli("faceswap.py", "convert", "-i", video, "-m", model, "-o", out, check=False)
    assert_clean_failure(proc, "another.mp4", "name", "--trust-alignments")
    run_cli("faceswap.py", "convert", "-i", video, "-m", model, "-o", out, "--trust-alignments")
    assert probe(out).frame_count == 130


# ---------------------------------------------------------------------------------------------- 4. silent wrong output
@pytest.mark.slow
def test_faces_outside_their_frame_are_not_counted_as_swapped(faces_of, tmp_path, model):
    alignments = Alignments.load(faces_of(CLIP, 10).parent / "alignments.json")
    for faces in alignments.frames.values():
        for face in faces:
            face.set_landmarks(face.landmarks + 5000)        # valid numbers, but far outside the 224 px frame
            face.box = face.box + [5000, 5000, 0, 0]
    path = alignments.save(tmp_path / "far.json")
    proc = run_cli("faceswap.py", "convert", "-i", shared(CLIP), "-p", path, "-m", model, "-o",
                   tmp_path / "out.mp4")
    assert "swapped 0 faces in 0 of 130 frames" in proc.stderr, proc.stderr
    assert "13 face(s) of the alignments file lie outside their frame" in proc.stderr


@pytest.mark.slow
def test_a_model_whose_outputs_overflow_is_refused_before_convert_writes_a_frame(tmp_path):
    from lib.model import store
    from lib.model.network import build_network
    network = build_network("lightweight", {"width": 0.125, "dense": 64}, "float32")
    signs = np.random.default_rng(0)
    huge = [(signs.choice([-1, 1], w.shape) * 1e30).astype(np.float32) for w in network.weights]   # inf - inf
    store.save(tmp_path / "model", {"plugin": "lightweight", "settings": network.settings, "iterations": 1,
                                    "input_size": network.input_size, "output_size": network.output_size}, huge)
    out = tmp_path / "out.mp4"
    proc = run_cli("faceswap.py", "convert", "-i", shared(CLIP), "-m", tmp_path / "model", "-o", out, check=False)
    assert_clean_failure(proc, "NaN/inf faces")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------------------------------------- 6. leftovers
def test_temp_pngs_of_a_killed_extract_are_cleaned_by_the_next_and_never_block_training(tmp_path):
    video, faces = shared(CLIP), tmp_path / "faces"
    extract("-i", video, "-o", faces, "-p", tmp_path / "a.json", "--every-n", 5)
    stale = [_stale_temp(faces, f"video_oliver_voxceleb_00086_0000{i}5_0.png", ".png") for i in range(3)]
    legacy = faces / ".old_0.png.x7d2kq.png"            # an older faceswap's temp name: only hidden
    legacy.write_bytes(b"")
    assert len(data.check_folder(faces, "A")) == 26     # hidden temps are never taken for faces
    extract("-i", video, "-o", faces, "-p", tmp_path / "a.json", "--every-n", 5)
    assert not any(p.exists() for p in stale) and legacy.exists()
    assert len(data.check_folder(faces, "A")) == 26


@pytest.mark.slow
def test_temp_video_and_frames_of_a_killed_convert_are_cleaned_by_the_next(tmp_path, model):
    out = tmp_path / "out"
    out.mkdir()
    video = _stale_temp(out, "swapped.mp4", ".mp4")
    frames = _stale_temp(out, "frames", "", is_dir=True)
    (frames / "clip_000001.png").write_bytes(b"half a frame")
    os.utime(frames, (0, 0))
    with atomic_path(out / "mine.mp4") as live:         # a live process's temp is never touched
        live.write_bytes(b"")
        run_cli("faceswap.py", "convert", "-i", shared(CLIP), "-m", model, "-o", out / "swapped.mp4", "-R", "0-3",
                "--no-smooth")
        assert live.exists()
    assert not video.exists() and not frames.exists()
    assert sorted(p.name for p in out.iterdir()) == ["mine.mp4", "swapped.mp4"]


# ---------------------------------------------------------------------------------------------- 8. smaller
def test_a_failed_image_extract_leaves_no_empty_output_folders(tmp_path):
    photo = tmp_path / "not_a_photo.jpg"
    photo.write_bytes(b"\xff\xd8 nothing")
    proc = extract("-i", photo, "-o", tmp_path / "out" / "faces", "-p", tmp_path / "a.json", check=False)
    assert_clean_failure(proc, "not_a_photo.jpg")
    assert not (tmp_path / "out").exists()
    blank = tmp_path / "blank.png"
    import cv2
    cv2.imwrite(str(blank), np.full((64, 64, 3), 90, np.uint8))
    assert_clean_failure(extract("-i", blank, "-o", tmp_path / "out2" / "faces", "-p", tmp_path / "b.json",
                                 check=False), "no face")
    assert not (tmp_path / "out2").exists()
