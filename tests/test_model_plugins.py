"""Every model plugin builds, trains on real extracted faces, saves, reloads and continues where it stopped.

Models are shrunk with their ``width``/``dense`` (or size/dims) settings so each trains in seconds; the
architecture code that runs is the same as at full size.
"""
import numpy as np
import pytest

from lib import registry
from lib.model import data, store, trainer
from lib.model.network import build_network, default_precision

AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"
TINY = {"width": 0.125, "dense": 64}
SETTINGS = {
    "dfl-sae": {"size": 64, "ae_dims": 64, "e_dims": 8, "d_dims": 8},
    "dfl-sae-liae": {"size": 64, "ae_dims": 32, "e_dims": 8, "d_dims": 8, "variant": "liae"},
    "lightweight-128": {**TINY, "output_size": 128},
}
CASES = registry.names("train.model") + ["dfl-sae-liae", "lightweight-128"]


def batches(faces, network, seed):
    aug = data.Augment(network.input_size, network.output_size)
    out = {}
    for side in "ab":
        sampler = data.Sampler(faces[side], aug, seed=seed)
        out[side] = sampler.batch([0, len(faces[side]) // 2])
    return out["a"], out["b"]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_plugin_trains_saves_reloads_and_continues_with_same_loss(case, faces_of, tmp_path):
    plugin = case.replace("-liae", "").replace("-128", "")
    policy = default_precision()
    network = build_network(plugin, SETTINGS.get(case, TINY), policy)
    sizes = dict(input_size=network.input_size, output_size=network.output_size)
    faces = {"a": data.load_faces(faces_of(AOC, 4), "A", **sizes), "b": data.load_faces(faces_of(HILL, 4), "B", **sizes)}
    train_batch, eval_batch = batches(faces, network, 1), batches(faces, network, 2)

    opts = trainer.Options(batch_size=2, learning_rate=1e-4)
    session = trainer.Session(network, opts, policy)
    first = session.step(*train_batch)
    for _ in range(2):
        last = session.step(*train_batch)
    assert all(np.isfinite(first + last))
    assert sum(last) < sum(first), "three steps on the same batch should lower its loss"
    meta = {"plugin": plugin, "settings": network.settings, "iterations": 3, "input_size": network.input_size,
            "output_size": network.output_size, "learns_mask": network.learns_mask, "centering": "face"}
    store.save(tmp_path, meta, session.weights(), session.optimizer_state())
    before = session.evaluate(*eval_batch)

    model = store.load_model(tmp_path, plugin, policy)
    assert (model.name, model.iterations, model.settings) == (plugin, 3, network.settings)
    resumed = trainer.Session(model.network, opts, policy, optimizer_state=model.optimizer_state)
    np.testing.assert_allclose(resumed.evaluate(*eval_batch), before, rtol=1e-4)
    # one more step from the restored optimizer state lands where the uninterrupted run does
    session.step(*train_batch), resumed.step(*train_batch)
    np.testing.assert_allclose(resumed.evaluate(*eval_batch), session.evaluate(*eval_batch), rtol=2e-3)

    faces_in = eval_batch[0][0].astype(np.float32) / 255
    swapped, masks = model.predict(faces_in, "a2b", batch_size=1)
    assert swapped.shape == (2, model.output_size, model.output_size, 3) and swapped.dtype == np.float32
    assert model.output_size == SETTINGS.get(case, {}).get("output_size", network.output_size)
    assert 0 <= swapped.min() and swapped.max() <= 1
    assert (masks is not None) == model.learns_mask
    if masks is not None:
        assert masks.shape == (2, model.output_size, model.output_size, 1)
    rebuilt, _ = model.predict(faces_in, "a2a")
    assert not np.allclose(rebuilt, swapped), "A's and B's decoders must differ"


def test_loading_a_model_into_another_plugin_is_a_clear_error(tmp_path):
    network = build_network("lightweight", TINY, "float32")
    meta = {"plugin": "lightweight", "settings": network.settings, "iterations": 1, "input_size": 64,
            "output_size": 64}
    store.save(tmp_path, meta, [w.numpy() for w in network.weights])
    with pytest.raises(Exception, match="trained with 'lightweight', not 'original'"):
        store.load_model(tmp_path, "original")


def test_lightweight_output_size_is_64_or_128_and_an_older_model_loads_as_64(tmp_path):
    with pytest.raises(Exception, match="output_size=96 must be 64 or 128"):
        build_network("lightweight", {**TINY, "output_size": 96})
    network = build_network("lightweight", TINY, "float32")
    old = {k: v for k, v in network.settings.items() if k != "output_size"}      # saved before the setting
    store.save(tmp_path, {"plugin": "lightweight", "settings": old, "iterations": 1, "input_size": 64,
                          "output_size": 64}, [w.numpy() for w in network.weights])
    assert store.load_model(tmp_path, "lightweight").output_size == 64


@pytest.mark.slow
def test_mixed_float16_training_uses_loss_scaling_and_restores_its_state(tmp_path):
    """The GPU precision path (float16 with a loss-scale optimizer), run on the CPU with a tiny model."""
    network = build_network("lightweight", TINY, "mixed_float16")
    session = trainer.Session(network, trainer.Options(batch_size=2), "mixed_float16")
    assert type(session.optimizer).__name__ == "LossScaleOptimizer"
    rng = np.random.default_rng(0)
    batch = tuple(rng.integers(0, 256, (2, 64, 64, 3), np.uint8) for _ in range(3))
    losses = [session.step(batch, batch) for _ in range(3)]
    assert np.isfinite(losses).all() and sum(losses[-1]) < sum(losses[0])
    state = session.optimizer_state()
    resumed = trainer.Session(build_network("lightweight", TINY, "mixed_float16"), trainer.Options(batch_size=2),
                              "mixed_float16", optimizer_state=state)
    assert int(resumed._inner.iterations.numpy()) == 3


def test_a_model_trained_on_the_crop_centre_still_takes_and_returns_whole_crops(tmp_path):
    network = build_network("dfaker", TINY, "float32")   # 64 in, 128 out, learns a mask
    meta = {"plugin": "dfaker", "settings": network.settings, "iterations": 1, "input_size": 64, "output_size": 128,
            "learns_mask": True, "coverage": 0.75}
    store.save(tmp_path, meta, [w.numpy() for w in network.weights])
    model = store.load_model(tmp_path, policy="float32")
    faces = np.random.default_rng(0).random((2, 64, 64, 3), dtype=np.float32)
    out, masks = model.predict(faces)
    assert out.shape == (2, 128, 128, 3) and masks.shape == (2, 128, 128, 1)
    import cv2
    border = cv2.resize(faces[0], (128, 128), interpolation=cv2.INTER_CUBIC)[:8]
    np.testing.assert_allclose(out[0, :8], np.clip(border, 0, 1), atol=1e-5)   # outside the centre: the input
    assert masks[:, :8].max() == 0 and masks[:, 40:88, 40:88].min() > 0         # the mask only where it drew
