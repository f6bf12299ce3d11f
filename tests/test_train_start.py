"""Training by the clock, with a learning-rate schedule, from a trained model (--from, --freeze) and pretraining
on many people, on real faces with a tiny model: the train and swap jobs in-process, the CLI for its errors."""
import numpy as np
import pytest
from conftest import assert_clean_failure, run_cli

from lib.errors import FaceswapError
from lib.jobs import swap as swap_job
from lib.jobs import train as train_job
from lib.model import store, transfer
from lib.model.trainer import Schedule

AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"
TINY = dict(trainer="lightweight", option=["width=0.125", "dense=64"], batch_size=2, save_interval=1000)


def params(faces_of, model, **kw):
    return train_job.TrainParams(input_A=faces_of(AOC, 4), input_B=faces_of(HILL, 4), model_dir=model,
                                 **{**TINY, **kw})


def resume(faces_of, model, **kw):
    """The params that continue ``model`` (its plugin and settings are its own)."""
    return params(faces_of, model, trainer=None, option=[], **kw)


def part_weights(model_dir) -> dict[str, list[np.ndarray]]:
    network = store.load_model(model_dir, policy="float32").network
    return {name: [np.asarray(v.numpy()) for v in variables] for name, variables in transfer.parts(network).items()}


@pytest.mark.slow
def test_time_budget_stops_and_saves_and_iterations_stop_first_when_fewer(faces_of, tmp_path):
    model = tmp_path / "model"
    timed = train_job.run(params(faces_of, model, iterations=100000, time="4s"))
    assert timed["reason"] == "time is up (4s)" and not timed["stopped"]
    assert 0 < timed["done"] < 100000 and 4.0 <= timed["seconds"] < 30
    meta = store.read_meta(model)
    assert meta["iterations"] == timed["iterations"] and meta["train_seconds"] >= 4.0
    counted = train_job.run(resume(faces_of, model, iterations=2, time="1h"))      # -i comes first
    assert counted["reason"] == "finished" and counted["done"] == 2
    assert store.read_meta(model)["train_seconds"] == pytest.approx(meta["train_seconds"] + counted["seconds"],
                                                                   abs=0.11)


@pytest.mark.slow
def test_schedule_is_saved_and_a_resumed_model_continues_it(faces_of, tmp_path):
    model = tmp_path / "model"
    expected = Schedule(5e-5, "cosine", warmup=2, steps=10, floor=0.1)
    first = train_job.run(params(faces_of, model, iterations=3, lr_schedule="cosine:10", warmup=2))
    assert first["learning_rate"] == pytest.approx(expected(2), rel=1e-5)   # the third step: iteration 2
    meta = store.read_meta(model)
    assert meta["lr_schedule"] == "cosine:10:0.1" and meta["warmup"] == 2
    second = train_job.run(resume(faces_of, model, iterations=6))           # no schedule given: the saved one
    assert second["learning_rate"] == pytest.approx(expected(8), rel=1e-5)
    assert store.read_meta(model)["lr_schedule"] == "cosine:10:0.1"
    flat = train_job.run(resume(faces_of, model, iterations=1, lr_schedule="flat", warmup=0))
    assert flat["learning_rate"] == pytest.approx(5e-5, rel=1e-5) and store.read_meta(model)["lr_schedule"] == "flat"


@pytest.mark.slow
def test_from_copies_the_trained_weights_and_freeze_keeps_the_encoder_unchanged(faces_of, tmp_path):
    source, model = tmp_path / "source", tmp_path / "model"
    train_job.run(params(faces_of, source, iterations=3))
    before = part_weights(source)
    result = train_job.run(resume(faces_of, model, iterations=3, from_model=source, freeze=["encoder"]))
    assert result["iterations"] == 3                     # a new model: its own count from 0
    meta = store.read_meta(model)
    assert meta["plugin"] == "lightweight" and meta["settings"]["dense"] == 64     # the source's architecture
    after = part_weights(model)
    assert all(np.array_equal(a, b) for a, b in zip(before["encoder"], after["encoder"]))
    for side in ("decoder_a", "decoder_b"):
        assert any(not np.array_equal(a, b) for a, b in zip(before[side], after[side]))
        assert all(a.shape == b.shape for a, b in zip(before[side], after[side]))
    unfrozen = train_job.run(resume(faces_of, model, iterations=1))    # resumed without --freeze: all train
    assert unfrozen["done"] == 1
    assert any(not np.array_equal(a, b) for a, b in zip(after["encoder"], part_weights(model)["encoder"]))


def test_copy_takes_what_fits_by_part_place_and_shape():
    from lib.model.network import build_network
    source = build_network("lightweight", {"width": 0.125, "dense": 64})
    target = build_network("lightweight", {"width": 0.125, "dense": 48})     # another bottleneck
    mark = [np.full(v.shape, 0.5, np.float32) for v in source.weights]
    for var, value in zip(source.weights, mark):
        var.assign(value)
    summary = transfer.copy_fitting(source, target)
    parts = transfer.parts(target)
    assert summary["parts"]["decoder_a"] == summary["parts"]["decoder_b"] == [8, 8]
    copied, of = summary["parts"]["encoder"]
    assert 0 < copied < of                               # the convolutions, not the dense layers around 48 units
    for var in parts["encoder"]:
        same = bool(np.all(var.numpy() == 0.5))
        assert same == (48 not in var.shape)
    assert transfer.describe(summary).startswith("encoder ")
    with pytest.raises(FaceswapError, match="its parts are encoder, decoder_a, decoder_b"):
        transfer.frozen_variables(target, ["decoder"])


@pytest.mark.slow
def test_pretrain_mixes_many_people_from_sub_folders(faces_of, tmp_path):
    people = tmp_path / "people"
    people.mkdir()
    for name, video in (("aoc", AOC), ("hill", HILL)):
        (people / name).symlink_to(faces_of(video, 4), target_is_directory=True)
    result = train_job.run(train_job.TrainParams(input_A=people, input_B=None, model_dir=tmp_path / "base",
                                                 pretrain=True, iterations=2, **TINY))
    assert result["iterations"] == 2
    assert store.read_meta(tmp_path / "base")["pretrained"] is True
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FaceswapError, match="holds no face PNGs"):
        train_job.run(train_job.TrainParams(input_A=empty, input_B=None, model_dir=tmp_path / "m2", pretrain=True,
                                            **TINY))


@pytest.mark.slow
@pytest.mark.parametrize("extra, words", [
    (["--time", "30x"], ["--time 30x", "1h30m"]),
    (["--lr-schedule", "sine"], ["--lr-schedule sine", "cosine"]),
    (["--warmup", "-5"], ["--warmup"]),
    (["--from", "nowhere"], ["model folder not found", "nowhere"]),
    (["--lr-schedule", "cosine", "--time", "5m"], ["cosine:20000"]),
])
def test_bad_budget_schedule_or_source_is_one_error_line(faces_of, tmp_path, extra, words):
    proc = run_cli("faceswap.py", "train", "-A", faces_of(AOC, 4), "-B", faces_of(HILL, 4), "-m", tmp_path / "m",
                   *extra, check=False)
    assert_clean_failure(proc, *words)
    assert not (tmp_path / "m" / "model.npz").exists()


def test_train_without_b_needs_pretrain(faces_of, tmp_path):
    proc = run_cli("faceswap.py", "train", "-A", faces_of(AOC, 4), "-m", tmp_path / "m", check=False)
    assert_clean_failure(proc, "-B", "--pretrain")


def test_freezing_an_unknown_part_lists_the_parts(faces_of, tmp_path):
    with pytest.raises(FaceswapError, match="no such part; its parts are encoder, decoder_a, decoder_b"):
        train_job.run(params(faces_of, tmp_path / "m", iterations=1, freeze=["inter_a"]))


@pytest.mark.slow
def test_swap_trains_for_its_time_from_a_trained_model_then_converts(faces_of, tmp_path):
    from conftest import clip

    from lib.video import probe
    clips = {name: clip(rel, tmp_path / f"{name}.mp4") for name, rel in (("a", AOC), ("b", HILL))}
    source = tmp_path / "source"
    train_job.run(params(faces_of, source, iterations=2))
    out = tmp_path / "swapped.mp4"
    result = swap_job.run(swap_job.SwapParams(input_a=str(clips["a"]), input_b=str(clips["b"]), output=str(out),
                                              iterations=100000, time="5s", from_model=str(source),
                                              freeze=["encoder"], batch_size=2, workspace=str(tmp_path / "ws")))
    assert result["train"]["reason"] == "time is up (5s)" and result["trained"] > 0
    assert probe(out).frame_count == 30
    meta = store.read_meta(result["model_dir"])
    assert meta["plugin"] == "lightweight" and meta["iterations"] == result["iterations"] == result["trained"]
    kept = part_weights(source)["encoder"]
    assert all(np.array_equal(a, b) for a, b in zip(kept, part_weights(result["model_dir"])["encoder"]))


@pytest.mark.slow
def test_train_cli_stops_when_its_time_is_up(faces_of, tmp_path):
    proc = run_cli("faceswap.py", "train", "-A", faces_of(AOC, 4), "-B", faces_of(HILL, 4), "-m", tmp_path / "m",
                   "-t", "lightweight", "-O", "width=0.125", "-O", "dense=64", "-b", "2", "--time", "6s")
    assert "time is up (6s): saved" in proc.stderr
    meta = store.read_meta(tmp_path / "m")
    assert meta["iterations"] > 0 and meta["train_seconds"] >= 6


@pytest.mark.slow
def test_a_seed_repeats_a_new_model_and_its_training(faces_of, tmp_path):
    """--seed fixes a new model's starting weights as well as the augmentation, so two runs end nearly alike
    (training on several CPU threads is not bit-exact); another seed starts elsewhere."""
    runs = {}
    for name, seed in (("one", 7), ("again", 7), ("other", 8)):
        train_job.run(params(faces_of, tmp_path / name, iterations=2, seed=seed))
        runs[name] = np.concatenate([w.ravel() for part in part_weights(tmp_path / name).values() for w in part])
    same = np.abs(runs["one"] - runs["again"]).mean()
    other = np.abs(runs["one"] - runs["other"]).mean()
    assert same < other / 100
