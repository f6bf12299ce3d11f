"""`faceswap.py extract` end to end: the real CLI on a built-in sample clip and on ../shared/data/faces."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHARED, assert_clean_failure, run_cli, shared

from lib.alignments import Alignments
from lib.faces import MEAN_FACE, read_face_meta, read_face_png, transform_points
from lib.sample import sample_clip

META_KEYS = {"source", "frame", "frame_index", "face_index", "size", "centering", "landmarks", "matrix",
             "identity", "detector", "score", "version"}
TALKING_HEADS = sorted(p.relative_to(SHARED).as_posix() for p in SHARED.glob("*/video_*.mp4")) if SHARED.exists() \
    else ["barack_obama/video_obama_short.mp4"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return sample_clip(tmp_path_factory.mktemp("clip") / "astronaut.mp4", "astronaut", seconds=2, fps=25)


@pytest.fixture(scope="module")
def clip_run(clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    proc = run_cli("faceswap.py", "extract", "-i", clip, "-o", out / "faces")
    return clip, out / "faces", proc


def test_extract_writes_one_face_per_frame_with_metadata_and_alignments(clip_run):
    clip, faces_dir, proc = clip_run
    alignments_path = clip.with_name("astronaut_alignments.json")           # default: beside the input
    alignments = Alignments.load(alignments_path)
    assert len(alignments) == 50 and all(len(faces) == 1 for faces in alignments.frames.values())
    files = sorted(faces_dir.glob("*.png"))
    assert [f.name for f in files] == [f"astronaut_{i:06d}_0.png" for i in range(50)]
    image, meta = read_face_png(files[10])
    assert image.shape == (256, 256, 3) and set(meta) == META_KEYS
    assert meta["source"] == "astronaut.mp4" and meta["frame"] == "astronaut_000010.png"
    assert meta["frame_index"] == 10 and meta["centering"] == "face" and meta["detector"] == "yunet"
    face = alignments.frames["astronaut_000010.png"][0]
    assert np.allclose(meta["landmarks"], face.landmarks, atol=0.01)
    assert np.allclose(meta["matrix"], face.matrix, atol=1e-6)
    assert len(meta["identity"]) == 128 and face.identity.shape == (128,)
    assert set(face.masks) == {"components", "extended"}
    assert face.masks["extended"].shape == (128, 128)
    inside, more = face.masks["components"] > 0, face.masks["extended"] > 0
    assert np.count_nonzero(inside & ~more) < 0.01 * inside.sum() and more.sum() > 1.1 * inside.sum()
    # the landmarks are frame pixels: the face really is there in the frame
    box = face.box
    assert (face.landmarks.min(0) > box[:2] - box[2:]).all() and (face.landmarks.max(0) < box[:2] + 2 * box[2:]).all()
    assert "50 frames, 50 faces written, 0 frames with no face" in proc.stdout


def test_size_centering_and_no_faces_options(clip, tmp_path):
    run_cli("faceswap.py", "extract", "-i", clip, "-o", tmp_path / "faces", "-p", tmp_path / "a.json",
            "--size", 128, "--centering", "head", "-n", 10, "-M", "components")
    files = sorted((tmp_path / "faces").glob("*.png"))
    assert len(files) == 5
    image, meta = read_face_png(files[0])
    assert image.shape == (128, 128, 3) and meta["centering"] == "head" and meta["size"] == 128
    alignments = Alignments.load(tmp_path / "a.json")
    assert list(alignments.frames) == [f"astronaut_{i:06d}.png" for i in range(0, 50, 10)]
    assert set(alignments.frames["astronaut_000000.png"][0].masks) == {"components"}
    run_cli("faceswap.py", "extract", "-i", clip, "-o", tmp_path / "none", "-p", tmp_path / "b.json", "-n", 25,
            "--no-faces")
    assert not (tmp_path / "none").exists() and Alignments.load(tmp_path / "b.json").face_count() == 2


@pytest.mark.slow
def test_skip_existing_resumes_and_keeps_a_backup(clip, tmp_path):
    out, path = tmp_path / "faces", tmp_path / "a.json"
    run_cli("faceswap.py", "extract", "-i", clip, "-o", out, "-p", path, "-n", 2)
    first = path.read_bytes()
    proc = run_cli("faceswap.py", "extract", "-i", clip, "-o", out, "-p", path, "--skip-existing")
    assert "25 frames" in proc.stdout                       # only the frames not done before
    assert len(Alignments.load(path)) == 50 and len(list(out.glob("*.png"))) == 50
    assert Path(str(path) + ".bak").read_bytes() == first
    assert list(Alignments.load(path).frames) == [f"astronaut_{i:06d}.png" for i in range(50)]


def test_batch_mode_writes_a_folder_and_an_alignments_file_per_input(clip, tmp_path):
    other = sample_clip(tmp_path / "hopper.mp4", "hopper", seconds=1, fps=10)
    (tmp_path / "al").mkdir()
    proc = run_cli("faceswap.py", "extract", "-i", clip, other, "-o", tmp_path / "out", "-p", tmp_path / "al",
                   "-n", 5)
    assert len(list((tmp_path / "out" / "astronaut").glob("*.png"))) == 10
    assert len(list((tmp_path / "out" / "hopper").glob("*.png"))) == 2
    assert Alignments.load(tmp_path / "al" / "astronaut_alignments.json").face_count() == 10
    assert Alignments.load(tmp_path / "al" / "hopper_alignments.json").face_count() == 2
    assert "2 inputs, 12 frames, 12 faces written" in proc.stdout


# ------------------------------------------------------------------------------------ real talking heads
@pytest.fixture(scope="module")
def talking_heads(tmp_path_factory):
    """Every talking-head video of ../shared/data/faces, every 5th frame, in one batch-mode call."""
    shared()
    out = tmp_path_factory.mktemp("heads")
    (out / "al").mkdir()
    videos = [SHARED / rel for rel in TALKING_HEADS]
    run_cli("faceswap.py", "extract", "-i", *videos, "-o", out / "faces", "-p", out / "al", "-n", 5)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("relpath", TALKING_HEADS)
def test_talking_head_video_has_one_face_in_98_percent_of_frames(talking_heads, relpath):
    stem = Path(relpath).stem
    alignments = Alignments.load(talking_heads / "al" / f"{stem}_alignments.json")
    one = sum(len(faces) == 1 for faces in alignments.frames.values())
    assert len(alignments) >= 20 and one >= 0.98 * len(alignments), (one, len(alignments))
    files = list((talking_heads / "faces" / stem).glob("*.png"))
    assert len(files) == alignments.face_count()
    meta = read_face_meta(files[0])
    # the crop really is aligned: the face's inner landmarks sit on the mean face in template space
    face = alignments.frames[meta["frame"]][meta["face_index"]]
    residual = np.linalg.norm(transform_points(face.landmarks, face.matrix)[17:] - MEAN_FACE[17:], axis=1)
    assert residual.mean() < 0.1, residual.mean()


def _photos(person, count=3):
    folder = shared(person)
    return sorted(p for p in folder.glob("photo_*.jpg") if "lfwgray" not in p.name)[:count]


@pytest.mark.parametrize("wanted, kept", [("barack_obama", True), ("jerry_seinfeld", False)])
def test_filter_keeps_the_persons_faces_and_rejects_with_another_persons_photos(tmp_path, wanted, kept):
    video = shared("barack_obama", "video_obama_short.mp4")
    proc = run_cli("faceswap.py", "extract", "-i", video, "-o", tmp_path / "faces", "-p", tmp_path / "a.json",
                   "-n", 10, "-f", *_photos(wanted), check=kept)
    if kept:
        assert Alignments.load(tmp_path / "a.json").face_count() == 21
        assert "0 faces dropped" in proc.stdout
    else:
        assert_clean_failure(proc, "no face that passed the identity filter")
        assert not (tmp_path / "a.json").exists() and not list(tmp_path.glob("faces/*.png"))


def test_nfilter_drops_the_person_in_the_photos(tmp_path):
    people = tmp_path / "frames"
    people.mkdir()
    _two_people_folder(people, count=4)
    proc = run_cli("faceswap.py", "extract", "-i", people, "-o", tmp_path / "faces", "-p", tmp_path / "a.json",
                   "--nfilter", *_photos("barack_obama"))
    metas = [read_face_meta(p) for p in (tmp_path / "faces").glob("*.png")]
    assert len(metas) == 4 and "8 faces dropped" in proc.stdout        # Obama's 4 + 4, Katie Hill's 4 kept
    assert all(_nose_x(meta) > 640 for meta in metas if meta["frame"].startswith("both"))   # only the right person


def _nose_x(meta):
    return meta["landmarks"][30][0]


def _frames(relpath, count, step=7):
    out = []
    from lib.video import Source
    for frame in Source(shared(relpath)).frames():
        if frame.index % step == 0:
            out.append(cv2.resize(frame.image, (640, 360)) if frame.image.shape[1] > 640 else frame.image.copy())
        if len(out) == count:
            break
    return out


def _two_people_folder(folder, count=6):
    """``count`` frames of Obama alone and ``count`` frames of Obama (left) beside Katie Hill (right)."""
    obama = _frames("barack_obama/video_obama_short.mp4", count * 2)
    other = _frames("katie_hill/video_katiehill_hdtf_WDA_000.mp4", count)
    for i in range(count):
        cv2.imwrite(str(folder / f"alone_{i}.png"), obama[i])
        right = cv2.resize(other[i], (360, 360))
        left = obama[count + i][:, 140:500]
        cv2.imwrite(str(folder / f"both_{i}.png"), np.hstack([np.zeros((360, 280, 3), np.uint8), left, right,
                                                               np.zeros((360, 280, 3), np.uint8)]))


@pytest.mark.slow
def test_automatic_identity_keeps_only_the_main_person(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    _two_people_folder(folder)
    run_cli("faceswap.py", "extract", "-i", folder, "-o", tmp_path / "off", "-p", tmp_path / "off.json",
            "--identity", "off")
    assert Alignments.load(tmp_path / "off.json").face_count() == 18          # both people found
    proc = run_cli("faceswap.py", "extract", "-i", folder, "-o", tmp_path / "auto", "-p", tmp_path / "auto.json")
    alignments = Alignments.load(tmp_path / "auto.json")
    assert alignments.face_count() == 12 and "6 faces dropped" in proc.stdout
    assert all(len(faces) == 1 for faces in alignments.frames.values())
    for path in (tmp_path / "auto").glob("*.png"):
        meta = read_face_meta(path)
        assert meta["face_index"] == 0 and path.name.endswith("_0.png")
        if meta["frame"].startswith("both"):
            assert _nose_x(meta) < 640                                        # Obama, on the left


# ------------------------------------------------------------------------------------ bad input
def _bad_inputs(tmp_path, clip):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 100)
    long_clip = sample_clip(tmp_path / "long.mp4", "hopper", seconds=4, fps=25, size=(320, 180))
    (tmp_path / "truncated.mp4").write_bytes(long_clip.read_bytes()[: long_clip.stat().st_size // 2])
    (tmp_path / "no_images").mkdir()
    (tmp_path / "no_images" / "readme.txt").write_text("nothing here")
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (300, 400, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "noface.png"), cv2.GaussianBlur(noise, (0, 0), 4))
    return {"missing": (tmp_path / "missing.mp4", "not found"),
            "zero-byte": (tmp_path / "empty.mp4", "empty"),
            "text": (tmp_path / "text.mp4", "cannot read video"),
            "truncated": (tmp_path / "truncated.mp4", "truncated"),
            "no-images": (tmp_path / "no_images", "no images"),
            "no-face": (tmp_path / "noface.png", "no face"),
            "not-an-image": (_write(tmp_path / "broken.jpg", b"\xff\xd8 not a jpeg"), "not an image")}


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.slow
def test_bad_inputs_fail_with_one_line_and_never_clobber_alignments(clip, tmp_path):
    existing = tmp_path / "keep.json"
    run_cli("faceswap.py", "extract", "-i", clip, "-o", tmp_path / "good", "-p", existing, "-n", 25)
    before = existing.read_bytes()
    for name, (path, words) in _bad_inputs(tmp_path, clip).items():
        proc = run_cli("faceswap.py", "extract", "-i", path, "-o", tmp_path / name, "-p", existing, check=False)
        assert_clean_failure(proc, words)
        assert existing.read_bytes() == before, name
        assert not Path(str(existing) + ".bak").exists(), name


def test_unreadable_image_in_a_folder_is_skipped_with_a_warning(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for photo in _photos("barack_obama", 2):
        shutil.copy(photo, folder)
    _write(folder / "zz_broken.jpg", b"not an image")
    proc = run_cli("faceswap.py", "extract", "-i", folder, "-o", tmp_path / "faces", "-p", tmp_path / "a.json")
    assert "2 frames, 2 faces written" in proc.stdout
    assert "skipped 1 unreadable image(s): zz_broken.jpg" in proc.stderr


def test_corrupt_alignments_with_skip_existing_fails_clearly_and_is_left_alone(clip, tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"format": "faceswap-alignments", "version": 1, "frames": {"x.png": [{"box": 3}]}}')
    before = path.read_bytes()
    proc = run_cli("faceswap.py", "extract", "-i", clip, "-o", tmp_path / "faces", "-p", path, "--skip-existing",
                   check=False)
    assert_clean_failure(proc, "corrupt", str(path))
    assert path.read_bytes() == before


def test_bad_options_fail_clearly(clip, tmp_path):
    proc = run_cli("faceswap.py", "extract", "-i", clip, clip, "-o", tmp_path, check=False)
    assert_clean_failure(proc, "same name")
    proc = run_cli("faceswap.py", "extract", "-i", clip, "-o", tmp_path, "-p", tmp_path / "no" / "a.json", check=False)
    assert_clean_failure(proc, "does not exist")
    proc = run_cli("faceswap.py", "extract", "-i", clip, "-o", tmp_path, "-f", tmp_path / "nobody.jpg", check=False)
    assert_clean_failure(proc, "not found")
    shutil.copy(clip, tmp_path / "other.mp4")
    proc = run_cli("faceswap.py", "extract", "-i", clip, tmp_path / "other.mp4", "-o", tmp_path,
                   "-p", tmp_path / "a.json", check=False)
    assert_clean_failure(proc, "folder for the alignments")


@pytest.mark.slow
def test_interrupted_run_keeps_its_work_and_skip_existing_finishes_it(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    video = tmp_path / "talk.mp4"
    shutil.copy(shared("barack_obama", "video_obama_short.mp4"), video)
    out = tmp_path / "faces"
    proc = subprocess.Popen([sys.executable, "faceswap.py", "extract", "-i", video, "-o", out],
                            cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while len(list(out.glob("*.png"))) < 10 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    partial = Alignments.load(tmp_path / "talk_alignments.json")
    assert 10 <= len(partial) < 208 and len(list(out.glob("*.png"))) == partial.face_count()
    done = run_cli("faceswap.py", "extract", "-i", video, "-o", out, "--skip-existing")
    assert f"{208 - len(partial)} frames" in done.stdout
    final = Alignments.load(tmp_path / "talk_alignments.json")
    assert len(final) == 208 and final.face_count() == 208 == len(list(out.glob("*.png")))


def test_automatic_identity_in_a_tracked_video_drops_the_second_person(tmp_path):
    from lib.video import VideoWriter
    obama = _frames("barack_obama/video_obama_short.mp4", 45, step=1)
    other = _frames("katie_hill/video_katiehill_hdtf_WDA_000.mp4", 15, step=1)
    video = tmp_path / "two.mp4"
    with VideoWriter(video, 25, (960, 360), preset="ultrafast") as writer:
        for i, frame in enumerate(obama):
            right = cv2.resize(other[i - 15], (320, 360)) if 15 <= i < 30 else np.zeros((360, 320, 3), np.uint8)
            writer.write(np.hstack([frame, right]))          # Katie Hill joins for frames 15-29
    proc = run_cli("faceswap.py", "extract", "-i", video, "-o", tmp_path / "faces", "-p", tmp_path / "a.json")
    alignments = Alignments.load(tmp_path / "a.json")
    import re
    dropped = int(re.search(r"(\d+) faces dropped", proc.stdout).group(1))
    assert 12 <= dropped <= 15, proc.stdout      # a face that appears is found at the next keyframe (<= 8 frames)
    assert alignments.face_count() == 45 and all(len(f) == 1 for f in alignments.frames.values())
    assert all(face.landmarks[:, 0].max() < 640 for faces in alignments.frames.values() for face in faces)
