"""tools.py mask: masks regenerated into an alignments file or written for a faces folder, and the preview sheet."""
import shutil

import cv2
import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib.alignments import Alignments
from lib.faces import crop_matrix, read_face_meta, transform_points
from lib.video import list_images

CLIP = "jamie_oliver/video_oliver_voxceleb_00086.mp4"


def mask(*args, check=True):
    return run_cli("tools.py", "mask", *args, check=check)


@pytest.fixture
def clip(faces_of, tmp_path):
    faces = faces_of(CLIP, 10)
    shutil.copy(faces.parent / "alignments.json", tmp_path / "alignments.json")
    return faces, tmp_path / "alignments.json"


def test_masks_are_regenerated_into_the_alignments_file(clip):
    _, path = clip
    al = Alignments.load(path)
    for faces in al.frames.values():
        for face in faces:
            face.masks = {}
    al.save(path)
    mask("-p", path, "-M", "components")
    al = Alignments.load(path)
    face = al.frames[al.frames_with_faces()[3]][0]
    assert list(face.masks) == ["components"]
    m = face.masks["components"]
    size = al.mask["size"]
    assert m.shape == (size, size)
    nose = transform_points(face.landmarks, crop_matrix(face.matrix, size, al.mask["centering"]))[30].round().astype(int)
    assert m[nose[1], nose[0]] == 255 and m[0, 0] == 0 and 0.2 < (m > 0).mean() < 0.8
    assert Alignments.load(path.with_name(path.name + ".bak")).frames[al.frames_with_faces()[3]][0].masks == {}


def test_faces_folder_masks_are_written_as_grey_pngs(clip, tmp_path):
    faces, _ = clip
    out = tmp_path / "masks"
    mask("-f", faces, "-o", out)
    files = list_images(faces)
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2 * len(files)
    first = files[0]
    meta = read_face_meta(first)
    grey = cv2.imread(str(out / f"{first.stem}_extended.png"), cv2.IMREAD_UNCHANGED)
    small = cv2.imread(str(out / f"{first.stem}_components.png"), cv2.IMREAD_UNCHANGED)
    assert grey.shape == (meta["size"], meta["size"])
    assert (small > 0).sum() < (grey > 0).sum()           # extended reaches up to the forehead


def test_preview_sheet_shows_samples_beside_each_mask(clip, tmp_path):
    faces, path = clip
    sheet = tmp_path / "preview.png"
    mask("-f", faces, "--preview", sheet, "--samples", "4")
    image = cv2.imread(str(sheet))
    assert image.shape == (28 + 4 * 160, 3 * 160, 3)
    face_cell, masked_cell = image[28:188, :160].astype(int), image[28:188, 160:320].astype(int)
    assert masked_cell[:20, :20].mean() < 0.5 * face_cell[:20, :20].mean() + 1     # dimmed outside the mask
    sheet2 = tmp_path / "from_frames.png"
    mask("-p", path, "-i", shared(CLIP), "--preview", sheet2, "--samples", "2", "-M", "extended")
    assert cv2.imread(str(sheet2)).shape == (28 + 2 * 160, 2 * 160, 3)


def test_bad_input_is_one_clear_line_and_changes_nothing(clip, tmp_path):
    faces, path = clip
    before = path.read_bytes()
    assert_clean_failure(mask(check=False), "either")
    assert_clean_failure(mask("-p", path, "-f", faces, check=False), "either")
    assert_clean_failure(mask("-p", path, "--preview", tmp_path / "p.png", check=False), "-i")
    assert_clean_failure(mask("-p", tmp_path / "none.json", check=False), "not found")
    assert_clean_failure(mask("-f", faces, check=False), "-o")
    assert path.read_bytes() == before and not (tmp_path / "p.png").exists()
    corrupt = tmp_path / "bad.json"
    corrupt.write_text('{"format": "faceswap-alignments", "version": 1, "frames": {"a.png": [{"box": [1]}]}}')
    assert_clean_failure(mask("-p", corrupt, check=False), "corrupt")
    assert not corrupt.with_name("bad.json.bak").exists()
