"""tools.py alignments: every job on faces and alignments extracted from a real shared clip by the real CLI.

Two inputs: the 130-frame Jamie Oliver clip (one face per frame) and a 12-frame folder made from it in which
some frames have two faces (the clip beside its mirror image) and some none (blank frames).
"""
import hashlib
import json
import shutil

import cv2
import numpy as np
import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib.alignments import Alignments
from lib.faces import read_face_meta, read_face_png
from lib.smooth import frames_jitter
from lib.video import Source, list_images, read_frames

CLIP = "jamie_oliver/video_oliver_voxceleb_00086.mp4"
MULTI = ("clip_000005.png", "clip_000006.png", "clip_000009.png")
BLANK = ("clip_000003.png", "clip_000004.png", "clip_000008.png")


def tool(*args, check=True):
    return run_cli("tools.py", "alignments", *args, check=check)


def digest(folder):
    """Hashes of every file under ``folder``: to prove a failed job left everything as it was."""
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def clip(faces_of, tmp_path):
    """A private copy of the clip's extracted faces and alignments file."""
    faces, root = faces_of(CLIP), tmp_path / "clip"
    shutil.copytree(faces, root / "faces")
    shutil.copy(faces.parent / "alignments.json", root / "alignments.json")
    return root / "faces", root / "alignments.json"


@pytest.fixture(scope="module")
def multi_master(tmp_path_factory):
    """Frames with 0, 1 or 2 faces, extracted once by the real CLI."""
    root = tmp_path_factory.mktemp("multi")
    frames = root / "frames"
    frames.mkdir()
    images = [img for i, img in read_frames(shared(CLIP)) if i < 12]
    blank = np.full_like(images[0], 40)
    for i, img in enumerate(images):
        name = f"clip_{i:06d}.png"
        pair = [blank, blank] if name in BLANK else [img, cv2.flip(images[i + 1], 1) if name in MULTI else blank]
        cv2.imwrite(str(frames / name), np.hstack(pair))
    run_cli("faceswap.py", "extract", "-i", frames, "-o", root / "faces", "-p", root / "alignments.json")
    return root


@pytest.fixture
def multi(multi_master, tmp_path):
    root = tmp_path / "multi"
    for name in ("frames", "faces"):
        shutil.copytree(multi_master / name, root / name)
    shutil.copy(multi_master / "alignments.json", root / "alignments.json")
    return root / "frames", root / "faces", root / "alignments.json"


def test_multi_fixture_has_the_faces_it_was_built_with(multi):
    _, faces, path = multi
    al = Alignments.load(path)
    assert [len(al.frames[n]) for n in MULTI] == [2, 2, 2] and all(al.frames[n] == [] for n in BLANK)
    assert len(list_images(faces)) == al.face_count() == 12


# ---------------------------------------------------------------------------------------------- stats / export
def test_stats_reports_the_counts_of_the_file(clip):
    _, path = clip
    al = Alignments.load(path)
    out = tool("-j", "stats", "-p", path).stdout
    lines = dict(line.split("  ", 1) for line in out.splitlines() if "  " in line)
    assert int(lines["faces"].strip()) == al.face_count()
    assert int(lines["frames in file"].strip()) == len(al) == 130
    assert int(lines["frames with a face"].strip()) == len(al.frames_with_faces())
    assert "components" in lines["masks"]


def test_export_writes_plain_json_with_the_same_faces(clip, tmp_path):
    _, path = clip
    out = tmp_path / "plain.json"
    tool("-j", "export", "-p", path, "-o", out)
    doc = json.loads(out.read_text())
    al = Alignments.load(path)
    assert set(doc["frames"]) == set(al.frames)
    name = al.frames_with_faces()[7]
    exported = doc["frames"][name][0]
    assert np.allclose(exported["landmarks"], al.frames[name][0].landmarks, atol=0.01)
    assert exported["box"] == [int(v) for v in al.frames[name][0].box] and len(exported["identity"]) == 128
    assert "masks" not in exported


# ---------------------------------------------------------------------------------------------- draw / extract
def test_draw_marks_boxes_and_landmarks_on_every_frame(clip, tmp_path):
    _, path = clip
    out = tmp_path / "drawn"
    tool("-j", "draw", "-p", path, "-i", shared(CLIP), "-o", out)
    drawn = list_images(out)
    assert len(drawn) == 130
    al = Alignments.load(path)
    frame0 = next(read_frames(shared(CLIP)))[1]
    image = cv2.imread(str(drawn[0]))
    x, y = np.round(al.frames[Source(shared(CLIP)).names()[0]][0].landmarks[30]).astype(int)
    b, g, r = image[y, x].astype(int)
    assert r > 180 and g < 90 and b < 90          # a red landmark dot where the nose tip is
    assert np.abs(image[y, x].astype(int) - frame0[y, x]).sum() > 100


def test_extract_job_cuts_the_same_faces_as_extract_without_detecting(clip, tmp_path):
    faces, path = clip
    out = tmp_path / "again"
    tool("-j", "extract", "-p", path, "-i", shared(CLIP), "-o", out)
    original = {p.name: p for p in list_images(faces)}
    again = list_images(out)
    assert [p.name for p in again] == [p.name for p in list_images(faces)]
    for new in again[::40]:
        image, meta = read_face_png(new)
        old_image, old_meta = read_face_png(original[new.name])
        assert set(meta) == set(old_meta)
        for key in ("source", "frame", "frame_index", "face_index", "size", "centering", "identity"):
            assert meta[key] == old_meta[key], key
        assert np.abs(image.astype(int) - old_image).mean() < 2.0


# ---------------------------------------------------------------------------------------------- remove-faces
def test_remove_faces_drops_the_deleted_crops_and_keeps_a_backup(clip):
    faces, path = clip
    before = path.read_bytes()
    deleted = list_images(faces)[10:15]
    for face in deleted:
        face.unlink()
    tool("-j", "remove-faces", "-p", path, "-f", faces)
    al = Alignments.load(path)
    gone = {read_face_meta_name(p) for p in deleted}
    assert al.face_count() == 125
    assert all(al.frames[name] == [] for name in gone)
    assert (path.parent / (path.name + ".bak")).read_bytes() == before
    out = tool("-j", "remove-faces", "-p", path, "-f", faces).stdout   # a second run has nothing to do
    assert "nothing to remove" in out


def read_face_meta_name(face_png_name):
    """Frame name of a deleted face: extract names faces <frame stem>_<face index>.png."""
    return face_png_name.name.rsplit("_", 1)[0] + ".png"


def test_remove_faces_renumbers_the_faces_left_in_a_frame(multi):
    _, faces, path = multi
    al = Alignments.load(path)
    keep_box = al.frames["clip_000005.png"][1].box.copy()
    (faces / "clip_000005_0.png").unlink()
    tool("-j", "remove-faces", "-p", path, "-f", faces)
    al = Alignments.load(path)
    assert len(al.frames["clip_000005.png"]) == 1
    assert (al.frames["clip_000005.png"][0].box == keep_box).all()
    assert not (faces / "clip_000005_1.png").exists()
    assert read_face_meta(faces / "clip_000005_0.png")["face_index"] == 0
    # the renumbered folder and the file agree: nothing left over, nothing more to remove
    assert "does not hold: 0" in tool("-j", "leftover-faces", "-p", path, "-f", faces).stdout


# ---------------------------------------------------------------------------------------------- finding jobs
def test_leftover_faces_lists_and_moves_faces_the_file_does_not_hold(clip, multi, tmp_path):
    faces, path = clip
    stranger = multi[1] / "clip_000000_0.png"      # a face of other frames
    shutil.copy(stranger, faces / stranger.name)
    out = tool("-j", "leftover-faces", "-p", path, "-f", faces).stdout
    assert "does not hold: 1" in out and stranger.name in out
    tool("-j", "leftover-faces", "-p", path, "-f", faces, "--move-to", tmp_path / "left")
    assert not (faces / stranger.name).exists() and (tmp_path / "left" / stranger.name).exists()
    assert len(list_images(faces)) == 130


def test_missing_frames_lists_and_moves_frames_without_an_entry(multi, tmp_path):
    frames, _, path = multi
    shutil.copy(frames / "clip_000000.png", frames / "clip_000012.png")   # a frame added after extract
    al = Alignments.load(path)
    del al.frames["clip_000002.png"]
    al.save(path)
    out = tool("-j", "missing-frames", "-p", path, "-i", frames).stdout
    assert "clip_000012.png" in out and "clip_000002.png" in out
    tool("-j", "missing-frames", "-p", path, "-i", frames, "--move-to", tmp_path / "missing")
    assert sorted(p.name for p in (tmp_path / "missing").iterdir()) == ["clip_000002.png", "clip_000012.png"]
    assert len(list_images(frames)) == 11


def test_no_faces_moves_the_frames_with_no_face(multi, tmp_path):
    frames, _, path = multi
    out = tool("-j", "no-faces", "-p", path, "-i", frames, "--move-to", tmp_path / "empty").stdout
    assert "no face in alignments.json: 3" in out
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == sorted(BLANK)
    assert not any((frames / name).exists() for name in BLANK)


def test_multi_faces_moves_frames_or_their_faces(multi, tmp_path):
    frames, faces, path = multi
    out = tool("-j", "multi-faces", "-p", path).stdout
    assert all(name in out for name in MULTI)
    tool("-j", "multi-faces", "-p", path, "-f", faces, "--move-to", tmp_path / "pick")
    moved = sorted(p.name for p in (tmp_path / "pick").iterdir())
    assert moved == sorted(f"{n[:-4]}_{i}.png" for n in MULTI for i in (0, 1))
    tool("-j", "multi-faces", "-p", path, "-i", frames, "--move-to", tmp_path / "frames2")
    assert sorted(p.name for p in (tmp_path / "frames2").iterdir()) == sorted(MULTI)


# ---------------------------------------------------------------------------------------------- merge / rename
def test_merge_joins_two_halves_back_into_the_whole(clip, tmp_path):
    _, path = clip
    whole = Alignments.load(path)
    names = list(whole.frames)
    first, second = Alignments.load(path), Alignments.load(path)
    first.frames = {n: whole.frames[n] for n in names[:70]}
    second.frames = {n: whole.frames[n] for n in names[60:]}
    first.save(tmp_path / "a.json")
    second.save(tmp_path / "b.json")
    tool("-j", "merge", "-p", tmp_path / "a.json", "--other", tmp_path / "b.json")
    merged = Alignments.load(tmp_path / "a.json")
    assert list(merged.frames) == names and merged.face_count() == whole.face_count()   # overlap not doubled
    assert (tmp_path / "a.json.bak").exists()
    assert len(Alignments.load(tmp_path / "a.json.bak")) == 70


def test_rename_changes_frame_names_in_file_and_faces(clip):
    faces, path = clip
    tool("-j", "rename", "-p", path, "-f", faces, "--stem", "talk", "--offset", "1")
    al = Alignments.load(path)
    assert list(al.frames)[:2] == ["talk_000001.png", "talk_000002.png"]
    meta = read_face_meta(faces / "talk_000001_0.png")
    assert meta["frame"] == "talk_000001.png" and meta["frame_index"] == 1
    # the renamed faces still match the renamed file: deleting one is seen by remove-faces
    (faces / "talk_000005_0.png").unlink()
    tool("-j", "remove-faces", "-p", path, "-f", faces)
    assert Alignments.load(path).frames["talk_000005.png"] == []


def test_rename_takes_the_names_of_a_new_frames_folder(clip, tmp_path):
    _, path = clip
    run_cli("tools.py", "effmpeg", "-a", "extract", "-i", shared(CLIP), "-o", tmp_path / "frames", "--format", "jpg")
    renamed = tmp_path / "frames_renamed"
    renamed.mkdir()
    for i, frame in enumerate(list_images(tmp_path / "frames")):
        frame.rename(renamed / f"shot_{i + 1:06d}.jpg")
    tool("-j", "rename", "-p", path, "-i", renamed)
    assert list(Alignments.load(path).frames)[0] == "shot_000001.jpg"
    tool("-j", "draw", "-p", path, "-i", renamed, "-o", tmp_path / "drawn")   # the file now fits the folder
    assert len(list_images(tmp_path / "drawn")) == 130


# ---------------------------------------------------------------------------------------------- spatial
def test_spatial_smoothing_lowers_landmark_jitter(clip):
    _, path = clip
    before = Alignments.load(path)
    out = tool("-j", "spatial", "-p", path, "--strength", "2").stdout
    after = Alignments.load(path)
    jitter_before = frames_jitter(list(before.frames.values()))
    jitter_after = frames_jitter(list(after.frames.values()))
    assert jitter_after < 0.6 * jitter_before, (jitter_before, jitter_after)
    assert "jitter" in out and (path.parent / (path.name + ".bak")).exists()
    name = after.frames_with_faces()[50]
    moved = np.abs(after.frames[name][0].landmarks - before.frames[name][0].landmarks).max()
    assert 0 < moved < 10          # smoothed, not replaced


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_one_clear_line_and_leaves_files_untouched(clip, multi, tmp_path):
    faces, path = clip
    frames, other_faces, other_path = multi
    before = digest(tmp_path)
    assert_clean_failure(tool("-j", "stats", "-p", tmp_path / "nope.json", check=False), "not found")
    assert_clean_failure(tool("-j", "remove-faces", "-p", path, check=False), "-f")
    # wrong input for the job: faces of another source, frames of another source, a video's frames to move
    assert_clean_failure(tool("-j", "remove-faces", "-p", path, "-f", other_faces, check=False), "wrong")
    assert_clean_failure(tool("-j", "draw", "-p", path, "-i", frames, "-o", tmp_path / "d", check=False),
                         "not what the alignments file describes")
    assert_clean_failure(tool("-j", "no-faces", "-p", other_path, "-i", shared(CLIP), "--move-to", tmp_path / "m",
                              check=False))
    assert_clean_failure(tool("-j", "remove-faces", "-p", path, "-f", frames, check=False), "metadata")
    assert_clean_failure(tool("-j", "merge", "-p", path, "--other", path, check=False), "same file")
    assert digest(tmp_path) == before
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_bytes(path.read_bytes()[:5000])
    snapshot = digest(tmp_path)
    for job in ("stats", "spatial", "export"):
        assert_clean_failure(tool("-j", job, "-p", corrupt, check=False), "corrupt")
    assert_clean_failure(tool("-j", "remove-faces", "-p", corrupt, "-f", faces, check=False), "corrupt")
    assert digest(tmp_path) == snapshot


def test_rename_by_offset_moves_faces_onto_each_others_names_safely(clip):
    faces, path = clip
    old = {p.name: hashlib.sha256(read_face_png(p)[0].tobytes()).hexdigest() for p in list_images(faces)}
    tool("-j", "rename", "-p", path, "-f", faces, "--offset", "1")
    stem = "video_oliver_voxceleb_00086"
    assert list(Alignments.load(path).frames)[0] == f"{stem}_000001.png"
    files = list_images(faces)
    assert len(files) == 130 and not list(faces.glob(".*"))
    for i in (0, 64, 129):
        image = read_face_png(faces / f"{stem}_{i + 1:06d}_0.png")[0]
        assert hashlib.sha256(image.tobytes()).hexdigest() == old[f"{stem}_{i:06d}_0.png"]


def test_remove_faces_reads_a_folder_renamed_and_grouped_by_sort(clip, tmp_path):
    faces, path = clip
    sorted_dir = tmp_path / "by_blur"
    run_cli("tools.py", "sort", "-i", faces, "-o", sorted_dir, "-s", "blur", "--group", "--bins", "3", "--move")
    worst = sorted(p for p in sorted_dir.iterdir())[-1]            # the blurriest third: the user deletes it
    doomed = {read_face_meta(p)["frame"] for p in worst.iterdir()}
    shutil.rmtree(worst)
    tool("-j", "remove-faces", "-p", path, "-f", sorted_dir)
    al = Alignments.load(path)
    assert al.face_count() == 130 - len(doomed) and all(al.frames[n] == [] for n in doomed)
