"""Unit tests of the training pieces on synthetic data: blocks, losses, the model file, the face sampler."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from lib.errors import FaceswapError
from lib.faces import MEAN_FACE, align_matrix, write_face_png
from lib.model import data, losses, store


# ------------------------------------------------------------------------------------------------ blocks
def test_pixel_shuffle_moves_channels_into_space():
    import keras
    from lib.model.blocks import pixel_shuffle
    inp = keras.Input((1, 1, 4))
    model = keras.Model(inp, pixel_shuffle(inp))
    out = np.asarray(model(np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4)))
    assert out.shape == (1, 2, 2, 1)
    assert out[0, :, :, 0].tolist() == [[0, 1], [2, 3]]


def test_downscale_halves_upscale_doubles_residual_keeps_shape():
    import keras
    from lib.model.blocks import downscale, residual, upscale
    inp = keras.Input((32, 32, 8))
    assert tuple(downscale(inp, 16).shape[1:]) == (16, 16, 16)
    assert tuple(upscale(inp, 4).shape[1:]) == (64, 64, 4)
    assert tuple(residual(inp).shape[1:]) == (32, 32, 8)


# ------------------------------------------------------------------------------------------------ losses
def _images(seed=0, size=64):
    rng = np.random.default_rng(seed)
    return rng.random((2, size, size, 3), dtype=np.float32)


def test_pixel_losses_have_their_textbook_values():
    a = np.zeros((1, 8, 8, 3), np.float32)
    b = np.full((1, 8, 8, 3), 0.5, np.float32)
    assert float(losses.mae(a, b)) == pytest.approx(0.5)
    assert float(losses.mse(a, b)) == pytest.approx(0.25)
    assert float(losses.logcosh(a, b)) == pytest.approx(np.log(np.cosh(0.5)), rel=1e-5)


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
def test_every_loss_is_zero_for_identical_faces_and_grows_with_noise(name):
    fn = losses.LOSSES[name]
    clean = _images()
    slight = np.clip(clean + np.random.default_rng(1).normal(0, 0.05, clean.shape), 0, 1).astype(np.float32)
    heavy = np.clip(clean + np.random.default_rng(1).normal(0, 0.3, clean.shape), 0, 1).astype(np.float32)
    assert float(fn(clean, clean)) == pytest.approx(0, abs=1e-4)
    assert 0 < float(fn(slight, clean)) < float(fn(heavy, clean))


def test_gradient_loss_ignores_a_brightness_offset():
    img = _images()[:, :, :, :] * 0.5
    assert float(losses.gradient(img + 0.2, img)) == pytest.approx(0, abs=1e-6)
    assert float(losses.mae(img + 0.2, img)) == pytest.approx(0.2, rel=1e-4)


def test_weighted_sum_adds_the_weighted_terms():
    a, b = _images(0), _images(1)
    combined = losses.weighted_sum("mae:2, mse:0.5")(a, b)
    assert float(combined) == pytest.approx(2 * float(losses.mae(a, b)) + 0.5 * float(losses.mse(a, b)), rel=1e-5)
    with pytest.raises(FaceswapError, match="unknown loss 'l3'"):
        losses.parse("l3")
    with pytest.raises(FaceswapError, match="not a number"):
        losses.parse("mae:x")


def test_penalized_mask_ignores_the_background_and_eyes_weigh_more():
    target = _images(0)
    masks = np.zeros((2, 64, 64, 3), np.float32)
    masks[:, 16:48, 16:48, 0] = 1            # face
    masks[:, 20:26, 20:44, 1] = 1            # eyes
    background_off = target.copy()
    background_off[:, :8] = 0                # differs outside the face only
    assert float(losses.side_loss(losses.mae, background_off, target, masks, True, 1, 1)) == 0
    assert float(losses.side_loss(losses.mae, background_off, target, masks, False, 1, 1)) > 0
    eyes_off = target.copy()
    eyes_off[:, 20:26, 20:44] = 0
    plain = float(losses.side_loss(losses.mae, eyes_off, target, masks, True, 1, 1))
    assert float(losses.side_loss(losses.mae, eyes_off, target, masks, True, 3, 1)) > 2 * plain


# ------------------------------------------------------------------------------------------------ model file
def _save(folder, iterations, value=0.0, optimizer=True):
    weights = [np.full((64, 32), value, np.float32), np.full((32,), value, np.float32)]
    meta = {"plugin": "original", "settings": {}, "iterations": iterations, "input_size": 64, "output_size": 64}
    return store.save(folder, meta, weights, [np.full((64, 32), value, np.float32)] if optimizer else None)


def test_each_save_keeps_the_previous_as_backup_and_snapshots_are_kept(tmp_path):
    _save(tmp_path, 10, 1.0)
    _save(tmp_path, 20, 2.0)
    store.snapshot(tmp_path)
    _save(tmp_path, 30, 3.0)
    assert store.read_meta(tmp_path)["iterations"] == 30
    backup = store.read_file(tmp_path / "model.npz.bak")
    assert backup[0]["iterations"] == 20 and backup[1][0][0, 0] == 2.0
    assert [p.name for p in store.list_snapshots(tmp_path)] == ["model_20.npz"]
    store.restore(tmp_path)
    assert store.read_meta(tmp_path)["iterations"] == 20
    store.restore(tmp_path, tmp_path / "snapshots" / "model_20.npz")
    assert store.read_file(tmp_path / "model.npz")[1][1][0] == 2.0
    assert not list(tmp_path.glob(".model*")), "no temp files left behind"


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "other-npz"])
def test_a_damaged_model_file_is_one_clear_error(tmp_path, damage):
    path = _save(tmp_path, 5)
    raw = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a model at all" * 100)
    elif damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        np.savez(path, x=np.zeros(3))
    with pytest.raises(FaceswapError, match="corrupt") as err:
        store.load_model(tmp_path)
    assert "tools.py model -j restore" in str(err.value)


def test_missing_model_folder_and_folder_without_model_are_clear_errors(tmp_path):
    with pytest.raises(FaceswapError, match="model folder not found"):
        store.load_model(tmp_path / "nope")
    with pytest.raises(FaceswapError, match="holds no faceswap model"):
        store.load_model(tmp_path)


SAVER = """
import sys, numpy as np
sys.path.insert(0, {root!r})
from lib.model import store
i = 0
while True:
    i += 1
    w = [np.full((512, 1024), i, np.float32) for _ in range(8)]
    store.save({folder!r}, {{"plugin": "original", "settings": {{}}, "iterations": i, "input_size": 64,
                "output_size": 64}}, w, w)
    print(i, flush=True)
"""


@pytest.mark.slow
def test_sigkill_at_random_moments_of_saving_always_leaves_a_loadable_model(tmp_path):
    """Ten processes saving 32 MB models in a loop are SIGKILLed at random moments; the file always loads
    and its weights match its own iteration count (never half of one save and half of another)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rng = np.random.default_rng(7)
    for kill in range(10):
        proc = subprocess.Popen([sys.executable, "-c", SAVER.format(root=root, folder=str(tmp_path))],
                                stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()                      # at least one save done
        time.sleep(rng.uniform(0, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        meta, weights, optimizer = store.read_file(tmp_path / "model.npz")
        assert all((w == meta["iterations"]).all() for w in weights + optimizer), f"kill {kill}: mixed save"
    assert store.read_file(tmp_path / "model.npz.bak")[0]["iterations"] >= 1


# ------------------------------------------------------------------------------------------------ face data
def _fake_faces(folder, count, size=128, plain=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        landmarks = MEAN_FACE * 100 + 60 + rng.normal(0, 1, MEAN_FACE.shape)
        image = rng.integers(0, 255, (size, size, 3), np.uint8)
        if plain:
            import cv2
            cv2.imwrite(str(folder / f"img_{i}.png"), image)
        else:
            write_face_png(folder / f"f_{i}.png", image, {"landmarks": landmarks.tolist(), "size": size,
                                                         "matrix": align_matrix(landmarks).tolist(),
                                                         "centering": "face"})
    return folder


def test_sampler_makes_warped_inputs_targets_and_masks_of_the_model_sizes(tmp_path):
    faces = data.load_faces(_fake_faces(tmp_path / "f", 30), "A", 64, 128)
    for warp_to_landmarks in (False, True):
        sampler = data.Sampler(faces, data.Augment(64, 128, warp_to_landmarks=warp_to_landmarks), seed=0)
        warped, target, masks = sampler.batch([0, 1, 2])
        assert warped.shape == (3, 64, 64, 3) and target.shape == (3, 128, 128, 3) and masks.shape == (3, 128, 128, 3)
        assert warped.dtype == np.uint8
        face, eyes, mouth = (masks[..., i] > 0 for i in range(3))
        assert 0.2 < face.mean() < 0.9 and eyes.any() and mouth.any()
        assert (eyes & ~face).mean() < 0.01 and mouth.mean() < eyes.mean()
    plain = sampler.batch([0], augment=False)
    assert np.array_equal(plain[1], sampler.batch([0], augment=False)[1]), "no augmentation -> same sample"


def test_feeder_delivers_batches_from_background_threads(tmp_path):
    faces = data.load_faces(_fake_faces(tmp_path / "f", 30), "A", 64, 64)
    feeder = data.Feeder(faces, data.Augment(), batch_size=4, workers=2, seed=1)
    try:
        for _ in range(3):
            warped, target, masks = feeder.next()
            assert warped.shape == (4, 64, 64, 3)
    finally:
        feeder.close()


@pytest.mark.parametrize("case,message", [
    ("missing", "not found"), ("few", "needs at least 25"), ("plain", "not a face extracted by faceswap"),
    ("small", "are 64 px but this model needs at least"),
])
def test_unusable_face_folders_are_clear_errors(tmp_path, case, message):
    folder = {"missing": lambda: tmp_path / "none", "few": lambda: _fake_faces(tmp_path / "f", 5),
              "plain": lambda: _fake_faces(tmp_path / "f", 30, plain=True),
              "small": lambda: _fake_faces(tmp_path / "f", 30, size=64)}[case]()
    with pytest.raises(FaceswapError, match=message):
        data.load_faces(folder, "A", 128, 128)


def test_model_meta_is_plain_json_readable_without_tensorflow(tmp_path):
    _save(tmp_path, 7)
    with np.load(tmp_path / "model.npz", allow_pickle=False) as archive:
        meta = json.loads(bytes(archive["meta"]))
    assert meta["format"] == "faceswap-model" and meta["iterations"] == 7 and meta["weights"] == [[64, 32], [32]]
