"""tools.py sort: each key on real faces extracted from two shared clips, checking where each face lands."""
import shutil

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from conftest import assert_clean_failure, run_cli, shared
from lib.faces import encode_face_png, face_size_px, read_face_meta, read_face_png
from lib.metrics import head_pose
from lib.video import list_images, read_frames

JAMIE = "jamie_oliver/video_oliver_voxceleb_00086.mp4"
CHRISTIE = "chris_christie/video_christie_voxceleb_00015.mp4"
BECKHAM = "david_beckham/video_beckham_voxceleb_00098.mp4"


def sort(*args, check=True):
    return run_cli("tools.py", "sort", *args, check=check)


def who(name: str) -> str:
    return "jamie" if "oliver" in name else "christie" if "christie" in name else "beckham"


@pytest.fixture
def people(faces_of, tmp_path):
    """13 faces of Jamie Oliver and 18 of Chris Christie in one folder."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for clip in (JAMIE, CHRISTIE):
        for face in list_images(faces_of(clip, 10)):
            shutil.copy(face, folder / face.name)
    return folder


def sorted_names(folder):
    return [p.name.split("_", 1)[1] for p in sorted(folder.glob("*.png"))]


def test_identity_groups_separate_the_two_people(people, tmp_path):
    out = tmp_path / "groups"
    sort("-i", people, "-o", out, "-s", "identity", "--group")
    groups = sorted(p for p in out.iterdir() if p.is_dir())
    assert [len(list(g.iterdir())) for g in groups] == [18, 13]          # biggest group first
    for group in groups:
        assert len({who(p.name) for p in group.iterdir()}) == 1
    assert len(list_images(people)) == 31                                 # copied, not moved


def test_identity_with_reference_photos_puts_that_person_first(faces_of, people, tmp_path):
    for face in list_images(faces_of(BECKHAM, 25)):
        shutil.copy(face, people / face.name)
    photo = shared("david_beckham", "photo_lfwgray_David_Beckham_0001.jpg")   # a photo: detected on the fly
    out = tmp_path / "ranked"
    sort("-i", people, "-o", out, "-s", "identity", "--ref", photo)
    ranked = [who(n) for n in sorted_names(out)]
    count = ranked.count("beckham")
    assert count >= 9 and ranked[:count] == ["beckham"] * count


def test_remove_outliers_moves_the_other_person_out(people, faces_of, tmp_path):
    folder = tmp_path / "mostly_jamie"
    folder.mkdir()
    for face in list_images(faces_of(JAMIE, 10)):
        shutil.copy(face, folder / face.name)
    intruders = [p for p in list_images(people) if who(p.name) == "christie"][:3]
    for face in intruders:
        shutil.copy(face, folder / face.name)
    out, odd = tmp_path / "kept", tmp_path / "odd"
    sort("-i", folder, "-o", out, "-s", "blur", "--remove-outliers", "--outliers-dir", odd, "--move")
    assert sorted(p.name for p in odd.iterdir()) == sorted(p.name for p in intruders)
    assert len(list(out.glob("*.png"))) == 13 and not list(folder.iterdir())      # --move emptied the input


def _variant(src, dst, change):
    """A copy of a face PNG with its pixels changed and its metadata kept."""
    image, meta = read_face_png(src)
    dst.write_bytes(encode_face_png(change(image), meta))


def test_blur_puts_blurred_faces_last(faces_of, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    faces = list_images(faces_of(JAMIE, 10))
    for i, face in enumerate(faces):
        if i % 4 == 0:
            _variant(face, folder / face.name, lambda img: cv2.GaussianBlur(img, (0, 0), 3))
        else:
            shutil.copy(face, folder / face.name)
    blurred = {f.name for i, f in enumerate(faces) if i % 4 == 0}
    sort("-i", folder, "-o", tmp_path / "out", "-s", "blur")
    assert set(sorted_names(tmp_path / "out")[-len(blurred):]) == blurred


def test_brightness_puts_darkened_faces_last_and_groups_in_bins(faces_of, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    faces = list_images(faces_of(JAMIE, 10))
    dark = {f.name for f in faces[::3]}
    for face in faces:
        if face.name in dark:
            _variant(face, folder / face.name, lambda img: (img * 0.4).astype(np.uint8))
        else:
            shutil.copy(face, folder / face.name)
    sort("-i", folder, "-o", tmp_path / "out", "-s", "brightness")
    assert set(sorted_names(tmp_path / "out")[-len(dark):]) == dark
    sort("-i", folder, "-o", tmp_path / "bins", "-s", "brightness", "--group", "--bins", "3")
    bins = sorted(p for p in (tmp_path / "bins").iterdir())
    assert bins[-1].name.startswith("02_") and {p.name for p in bins[-1].iterdir()} == dark   # darkest third


def test_size_orders_by_face_size_in_the_frame(people, tmp_path):
    sort("-i", people, "-o", tmp_path / "out", "-s", "size")
    sizes = [face_size_px(np.asarray(read_face_meta(people / n)["matrix"])) for n in sorted_names(tmp_path / "out")]
    assert sizes == sorted(sizes, reverse=True)


def test_yaw_sorts_mirrored_faces_to_the_other_side(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, image in read_frames(shared(JAMIE)):
        if i % 20 == 0:
            cv2.imwrite(str(frames / f"orig_{i:06d}.png"), image)
            cv2.imwrite(str(frames / f"flip_{i:06d}.png"), cv2.flip(image, 1))
    run_cli("faceswap.py", "extract", "-i", frames, "-o", tmp_path / "faces", "-p", tmp_path / "al.json")
    sort("-i", tmp_path / "faces", "-o", tmp_path / "out", "-s", "yaw")
    names = sorted_names(tmp_path / "out")
    half = len(names) // 2
    assert len(names) == 14
    # Jamie looks to one side; his mirror image to the other: the two sets do not mix
    assert len({n.split("_")[0] for n in names[:half]}) == 1 and len({n.split("_")[0] for n in names[half:]}) == 1


def test_pitch_agrees_with_head_pose_from_frame_landmarks(people, tmp_path):
    sort("-i", people, "-o", tmp_path / "out", "-s", "pitch")
    names = sorted_names(tmp_path / "out")
    pitch = [head_pose(np.asarray(read_face_meta(people / n)["landmarks"]), (224, 224))[1] for n in names]
    assert spearmanr(range(len(pitch)), pitch).statistic > 0.8


def test_histogram_groups_colour_changed_faces_apart(faces_of, tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    faces = list_images(faces_of(JAMIE, 10))
    tinted = {f.name for f in faces[::2]}
    for face in faces:
        if face.name in tinted:
            _variant(face, folder / face.name, lambda img: cv2.applyColorMap(img, cv2.COLORMAP_OCEAN))
        else:
            shutil.copy(face, folder / face.name)
    sort("-i", folder, "-o", tmp_path / "out", "-s", "histogram", "--group")
    groups = [{p.name for p in g.iterdir()} for g in sorted((tmp_path / "out").iterdir())]
    assert len(groups) == 2 and tinted in groups
    sort("-i", folder, "-o", tmp_path / "chain", "-s", "histogram")
    chain = [n in tinted for n in sorted_names(tmp_path / "chain")]
    assert sum(a != b for a, b in zip(chain, chain[1:])) == 1              # one switch between the two kinds


def test_bad_input_is_one_clear_line_and_moves_nothing(people, tmp_path):
    before = sorted(p.name for p in people.iterdir())
    assert_clean_failure(sort("-i", tmp_path / "nope", check=False), "not found")
    assert_clean_failure(sort("-i", people, "-o", people, check=False), "input folder")
    plain = tmp_path / "photos"
    plain.mkdir()
    shutil.copy(shared("david_beckham", "photo_ghost_beckham.jpg"), plain / "a.png")
    assert_clean_failure(sort("-i", plain, "-s", "blur", check=False), "metadata")
    assert_clean_failure(sort("-i", people, "-s", "blur", "--ref", plain / "a.png", "--move", check=False), "--ref")
    assert sorted(p.name for p in people.iterdir()) == before
