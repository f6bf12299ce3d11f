"""Tools that need a trained model: preview of convert settings, and the seed workflow
extract -> delete face PNGs -> alignments -j remove-faces -> convert swaps only the faces left.

A tiny lightweight model (width 0.25, 4 steps) is trained once for the module: its faces are noise, which
is all these tests need (they check where pixels change, not how good the swap looks).
"""
import shutil

import cv2
import numpy as np
import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib.alignments import Alignments
from lib.video import Source, list_images, read_frames, read_image

JAMIE = "jamie_oliver/video_oliver_voxceleb_00086.mp4"
CHRISTIE = "chris_christie/video_christie_voxceleb_00015.mp4"


@pytest.fixture(scope="module")
def model(faces_of, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "model"
    run_cli("faceswap.py", "train", "-A", faces_of(JAMIE), "-B", faces_of(CHRISTIE, 5), "-m", out, "-t", "lightweight",
            "-O", "width=0.25", "-O", "dense=64", "-i", "2", "-b", "4")
    return out


def preview(*args, check=True):
    return run_cli("tools.py", "preview", *args, check=check)


@pytest.mark.slow
def test_preview_grid_shows_each_setting_on_sample_faces(model, faces_of, tmp_path):
    grid = tmp_path / "grid.png"
    preview("-i", shared(JAMIE), "-p", faces_of(JAMIE).parent / "alignments.json", "-m", model, "-o", grid,
            "--samples", "3", "-M", "components", "none", "-c", "avg-color", "none", "--mask-blur", "4", "0")
    image = cv2.imread(str(grid)).astype(int)
    columns = ["original", "base", "mask none", "blur 0", "color none"]
    assert image.shape == (36 + 3 * 200, len(columns) * 200, 3)
    cells = {name: image[36:236, i * 200:(i + 1) * 200] for i, name in enumerate(columns)}
    centre, corner = (slice(90, 110), slice(90, 110)), (slice(0, 15), slice(0, 15))
    for name in columns[1:]:
        assert np.abs(cells[name][centre] - cells["original"][centre]).mean() > 10, name   # the face was swapped
        assert np.abs(cells[name][corner] - cells["original"][corner]).mean() < 2, name    # the background kept
    changed = {name: (np.abs(cells[name] - cells["original"]).sum(2) > 30).mean() for name in columns[1:]}
    assert changed["mask none"] > 1.2 * changed["base"]          # no mask replaces the whole square crop
    assert np.abs(cells["color none"] - cells["base"])[centre].mean() > 3


@pytest.mark.slow
def test_preview_compares_detail_values_and_the_band_sharpens_the_face(model, faces_of, tmp_path):
    grid = tmp_path / "grid.png"
    preview("-i", shared(JAMIE), "-p", faces_of(JAMIE).parent / "alignments.json", "-m", model, "-o", grid,
            "--samples", "2", "--detail", "0", "1")
    image = cv2.imread(str(grid))
    assert image.shape == (36 + 2 * 200, 3 * 200, 3)            # original, base (detail 0), detail 1.0
    centre = (slice(236 + 70, 236 + 130), slice(None), slice(None))
    cells = [cv2.cvtColor(image[centre][:, i * 200:(i + 1) * 200], cv2.COLOR_BGR2GRAY) for i in range(3)]
    fine = [cv2.Laplacian(cell, cv2.CV_32F)[:, 70:130] for cell in cells]
    # the finest band of the face is the frame's again (this tiny model's own face is noise)
    assert np.abs(fine[2] - fine[0]).mean() < 0.7 * np.abs(fine[1] - fine[0]).mean()


@pytest.mark.slow
def test_preview_detects_faces_when_there_is_no_alignments_file(model, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i, image in read_frames(shared(JAMIE)):
        if i % 30 == 0:
            cv2.imwrite(str(frames / f"f_{i:06d}.png"), image)
    grid = tmp_path / "grid.png"
    preview("-i", frames, "-m", model, "-o", grid, "--samples", "2")
    image = cv2.imread(str(grid))
    assert image.shape[0] == 36 + 2 * 200 and image.shape[1] >= 6 * 200   # every mask and colour plugin shown


@pytest.mark.slow
def test_preview_bad_input_is_one_clear_line_and_writes_nothing(model, tmp_path):
    grid = tmp_path / "grid.png"
    assert_clean_failure(preview("-i", shared(JAMIE), "-m", tmp_path / "none", "-o", grid, check=False))
    assert_clean_failure(preview("-i", shared(JAMIE), "-m", model, "-o", tmp_path / "g.jpg", check=False), ".png")
    assert_clean_failure(preview("-i", shared(JAMIE), "-m", model, "-o", grid, "-M", "predicted", check=False),
                         "predicted")
    assert_clean_failure(preview("-i", tmp_path / "missing.mp4", "-m", model, "-o", grid, check=False), "not found")
    assert_clean_failure(preview("-i", shared(JAMIE), "-m", model, "-o", grid, "--detail", "0.5", "2", check=False),
                         "--detail")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_seed_workflow_convert_swaps_only_the_faces_left_after_remove_faces(model, faces_of, tmp_path):
    faces = tmp_path / "faces"
    shutil.copytree(faces_of(JAMIE), faces)
    alignments = tmp_path / "alignments.json"
    shutil.copy(faces_of(JAMIE).parent / "alignments.json", alignments)
    names = Source(shared(JAMIE)).names()
    removed = names[40:50]
    for name in removed:                                     # the user deletes these crops
        (faces / f"{name[:-4]}_0.png").unlink()
    run_cli("tools.py", "alignments", "-j", "remove-faces", "-p", alignments, "-f", faces)
    assert all(Alignments.load(alignments).frames[n] == [] for n in removed)
    out = tmp_path / "converted"
    run_cli("faceswap.py", "convert", "-i", shared(JAMIE), "-p", alignments, "-m", model, "-o", out, "-k",
            "--no-label")
    written = {p.name: p for p in list_images(out)}
    assert len(written) == 130
    al = Alignments.load(alignments)
    for index, frame in read_frames(shared(JAMIE)):
        result = read_image(written[names[index]]).astype(int)
        diff = np.abs(result - frame).sum(2)
        if names[index] in removed:
            assert diff.max() == 0, names[index]                 # no face left: the frame is untouched
        elif index % 10 == 0:
            x, y, w, h = al.frames[names[index]][0].box
            assert diff[y + h // 3:y + 2 * h // 3, x + w // 3:x + 2 * w // 3].mean() > 10, names[index]
