"""The learned mask: labels stored with the faces, the mask net trained on them, masks used by convert and train.

The clip with an occluder is made here from a shared clip (scripts/bench_mask.py draws a microphone or a hand
across the face in each frame, so the label of every face is known exactly)."""
import base64

import cv2
import numpy as np
import pytest

from lib import registry
from lib.alignments import Alignments, Face
from lib.errors import FaceswapError
from lib.faces import (MEAN_FACE, crop_matrix, encode_face_png, face_masks, read_face_meta, read_face_png,
                       store_face_masks, transform_points)
from lib.masks import extended
from lib.model import data
from scripts.bench_mask import compare, crops, occluded_clip, split
from tests.conftest import assert_clean_failure, run_cli, shared

CLIP = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"


@pytest.fixture(scope="module")
def faces_dir(faces_of):
    return faces_of(CLIP, 25)


def _label(path) -> np.ndarray:
    """A label for a face PNG: its extended landmark mask with a dark bar painted across the mouth."""
    image, meta = read_face_png(path)
    size = image.shape[0]
    points = transform_points(np.asarray(meta["landmarks"]), crop_matrix(np.asarray(meta["matrix"]), size, "face"))
    label = extended(points, size)
    label[int(points[62, 1]) - 10:int(points[62, 1]) + 10] = 0
    return label


def test_masks_are_stored_in_the_face_png_without_touching_its_pixels(tmp_path, faces_dir):
    source = sorted(faces_dir.glob("*.png"))[0]
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes())
    before, meta = read_face_png(path)
    label = _label(path)
    store_face_masks(path, {"label": label})
    after, meta2 = read_face_png(path)
    assert np.array_equal(before, after) and meta2["landmarks"] == meta["landmarks"]
    assert np.array_equal(face_masks(meta2)["label"], label)
    assert face_masks(meta2, 64)["label"].shape == (64, 64)
    store_face_masks(path, {"label": None, "learned": label // 2})
    assert set(face_masks(read_face_meta(path))) == {"learned"}


def test_a_stored_mask_that_is_not_a_small_png_is_refused(tmp_path, faces_dir):
    image, meta = read_face_png(sorted(faces_dir.glob("*.png"))[0])
    meta.pop("version")
    for bad in ("not base64!", base64.b64encode(b"GIF89a" + b"\0" * 40).decode()):
        path = tmp_path / "bad.png"
        path.write_bytes(encode_face_png(image, dict(meta, masks={"label": bad})))
        with pytest.raises(FaceswapError, match="metadata of face"):
            read_face_meta(path)
    huge = cv2.imencode(".png", np.zeros((2000, 8), np.uint8))[1].tobytes()
    path.write_bytes(encode_face_png(image, dict(meta, masks={"label": base64.b64encode(huge).decode()})))
    with pytest.raises(FaceswapError, match="at most 1024 px"):
        read_face_meta(path)


def test_labels_are_imported_from_pngs_named_like_the_faces(tmp_path, faces_dir):
    faces = tmp_path / "faces"
    faces.mkdir()
    files = sorted(faces_dir.glob("*.png"))[:3]
    for path in files:
        (faces / path.name).write_bytes(path.read_bytes())
    labels = tmp_path / "labels"
    labels.mkdir()
    for path in files[:2]:
        cv2.imwrite(str(labels / path.name), cv2.resize(_label(path), (100, 100)))   # any size, scaled to the face
    proc = run_cli("tools.py", "mask", "-f", faces, "--import", labels)
    assert "stored 2 label(s)" in proc.stdout
    stored = [face_masks(read_face_meta(faces / p.name)).get("label") for p in files]
    assert stored[2] is None and all(m.shape == (256, 256) and set(np.unique(m)) <= {0, 255} for m in stored[:2])
    cv2.imwrite(str(labels / "nobody.png"), np.zeros((8, 8), np.uint8))
    assert_clean_failure(run_cli("tools.py", "mask", "-f", faces, "--import", labels, check=False), "name no face")
    assert_clean_failure(run_cli("tools.py", "mask", "-f", faces, "--train", check=False), "--mask-model")
    assert_clean_failure(run_cli("tools.py", "mask", "--mask-model", tmp_path / "m", check=False), "-f FACES_FOLDER")
    assert_clean_failure(run_cli("tools.py", "mask", "-f", faces, "--mask-model", tmp_path / "m", check=False),
                         "no learned mask model")


def test_convert_mask_learned_reads_the_stored_mask_into_the_crop():
    rng = np.random.default_rng(0)
    frame_points = MEAN_FACE * 100 + 200 + rng.normal(0, 0.5, MEAN_FACE.shape)
    face = Face(np.array([180, 180, 140, 140]), frame_points.astype(np.float32))
    stored = np.zeros((128, 128), np.uint8)
    stored[:, :64] = 255                                      # the left half of the mask space
    face.masks = {"learned": stored}
    face.mask_space = {"size": 128, "centering": "face"}
    plugin = registry.get("convert.mask", "learned")
    mat = crop_matrix(face.matrix, 256, "face")                # convert's crop: same centering, twice the size
    out = plugin(transform_points(frame_points, mat), 256, None, face=face, matrix=mat)
    assert out.shape == (256, 256) and out.dtype == np.float32
    assert out[:-2, :120].min() > 0.99 and out[:, 136:].max() < 0.01
    head = crop_matrix(face.matrix, 256, "head")               # a head-centred model: the mask shrinks to its place
    out = plugin(None, 256, None, face=face, matrix=head)
    assert 0.2 < out.mean() < 0.4
    with pytest.raises(FaceswapError, match="tools.py mask -p"):
        plugin(None, 256, None, face=Face(face.box, face.landmarks), matrix=mat)


def test_convert_blends_only_where_the_learned_mask_of_the_alignments_file_says(tmp_path):
    """An alignments file (head-centred mask space) whose learned mask keeps the subject's right half of the face
    (the image's left): convert's loader keeps that mask, and -M learned replaces only that half."""
    from lib.alignments import source_entry
    from lib.convert import Blender, BlendSettings
    from lib.extractor import Extractor
    from lib.jobs.convert import load_faces
    from lib.video import Source
    photo = shared("barack_obama", "photo_fr_obama.jpg")
    source = Source(photo)
    frame = source.frame(0).image
    face = Extractor(masks=(), identity=False).faces(frame)[0]
    half = np.zeros((128, 128), np.uint8)
    half[:, :64] = 255
    face.masks = {"learned": half, "extended": half}
    alignments = Alignments(source_entry(source), {"size": 128, "centering": "head"})
    alignments.frames[source.names()[0]] = [face]
    alignments.save(tmp_path / "alignments.json")
    faces, _ = load_faces(source, str(tmp_path / "alignments.json"))
    loaded = faces[0][0]
    assert set(loaded.masks) == {"learned"} and loaded.mask_space == {"size": 128, "centering": "head"}
    swapped = frame.copy()
    Blender(BlendSettings(mask="learned", mask_blur=0, mask_erode=0, color="none"), 64).blend_face(
        swapped, loaded, np.zeros((64, 64, 3), np.float32))
    changed = (swapped != frame).any(-1)
    centre = face.landmarks[27:36].mean(0)
    assert changed[:, :int(centre[0]) - 10].sum() > 5000 and changed[:, int(centre[0]) + 10:].sum() == 0


def test_training_samples_use_the_learned_mask_as_the_loss_mask(tmp_path, faces_dir):
    folder = tmp_path / "faces"
    folder.mkdir()
    for path in sorted(faces_dir.glob("*.png"))[:4]:
        (folder / path.name).write_bytes(path.read_bytes())
    faces = data.load_faces(folder, "A", 64, 64, min_faces=1)
    assert faces.learned is None
    with pytest.raises(FaceswapError, match="tools.py mask -f"):
        data.Sampler(faces, data.Augment(mask_type="learned"))
    for path in folder.glob("*.png"):
        half = np.zeros((256, 256), np.uint8)
        half[:, :128] = 255
        store_face_masks(path, {"learned": half})
    faces = data.load_faces(folder, "A", 64, 64, min_faces=1)
    assert faces.learned.shape == (4, 64, 64)
    _, _, masks = data.Sampler(faces, data.Augment(mask_type="learned"), seed=1).sample(0, augment=False)
    assert masks[:, :30, 0].min() == 255 and masks[:, 34:, 0].max() == 0
    assert masks[..., 1].any() and masks[..., 2].any()            # eyes and mouth still from the landmarks


@pytest.mark.slow
def test_the_mask_model_saves_and_loads_as_a_model_folder(tmp_path):
    from lib.model.mask_net import MaskModel
    model = MaskModel.new({"size": 32, "width": 4})
    faces = [np.full((48, 48, 3), 128, np.uint8)] * 2
    priors = [np.full((48, 48), 255, np.uint8)] * 2
    losses = model.train(faces, priors, priors, 3, batch_size=2, seed=0)
    assert len(losses) == 3 and all(np.isfinite(losses))
    model.save(tmp_path / "m")
    again = MaskModel.load(tmp_path / "m")
    assert again.iterations == 3 and again.settings == {"size": 32, "width": 4}
    assert np.array_equal(again.predict(faces, priors)[0], model.predict(faces, priors)[0])
    with pytest.raises(FaceswapError, match="no learned mask model"):
        MaskModel.load(tmp_path / "nothing")


@pytest.mark.slow
def test_the_learned_mask_leaves_a_microphone_in_front_of_the_face_visible():
    """Trained on 8 labelled faces of a clip with a microphone crossing the face, scored on 12 others."""
    faces = crops(occluded_clip(shared(CLIP), "mic", every=5))
    train, held = split(faces, 8, 12)
    res = compare(train, held, iterations=300, size=64, width=8)
    assert res["iou"]["learned"] > res["iou"]["extended"] + 0.03 and res["iou"]["learned"] > res["iou"]["components"]
    assert res["occluder_visible"]["learned"] > 0.6 > 0.2 > res["occluder_visible"]["extended"]


@pytest.mark.slow
def test_learned_masks_flow_from_labels_to_the_alignments_file(tmp_path, faces_dir):
    """tools.py mask: import labels, train, mask the faces folder, then draw the masks into the alignments file."""
    faces = tmp_path / "faces"
    faces.mkdir()
    files = sorted(faces_dir.glob("*.png"))
    for path in files:
        (faces / path.name).write_bytes(path.read_bytes())
    labels = tmp_path / "labels"
    labels.mkdir()
    for path in files[:3]:
        cv2.imwrite(str(labels / path.name), _label(path))
    model = tmp_path / "mask_model"
    run_cli("tools.py", "mask", "-f", faces, "--import", labels, "--train", "--mask-model", model, "--iterations", "20")
    assert (model / "model.npz").is_file()
    assert all("learned" in face_masks(read_face_meta(p)) for p in faces.glob("*.png"))
    alignments = faces_dir.parent / "alignments.json"
    copy = tmp_path / "alignments.json"
    copy.write_bytes(alignments.read_bytes())
    proc = run_cli("tools.py", "mask", "-p", copy, "-i", shared(CLIP), "--mask-model", model)
    assert "convert with -M learned" in proc.stdout
    stored = Alignments.load(copy)
    masks = [face.masks["learned"] for faces_ in stored.frames.values() for face in faces_]
    assert masks and all(m.shape == (128, 128) for m in masks)
