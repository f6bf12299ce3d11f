"""The per-person face enhancer: its net and degradations (units), that it learns a person's detail from real
faces, and the whole path on real faces with a tiny swap model: tools.py enhance, convert -S enhance, errors."""
import cv2
import numpy as np
import pytest
from conftest import assert_clean_failure, run_cli

from lib.errors import FaceswapError
from lib.jobs import enhance as enhance_job
from lib.jobs import train as train_job
from lib.model import enhancer as enh
from lib.model import store

AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"
TINY = dict(trainer="lightweight", option=["width=0.125", "dense=64"], batch_size=2, save_interval=1000)


def test_a_new_enhancer_is_the_bilinear_upscale_and_keeps_the_size_it_was_made_for():
    net = enh.Enhancer.new(32, {"scale": 2, "width": 8, "depth": 3})
    faces = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    out = net(faces)
    assert out.shape == (3, 64, 64, 3) and out.dtype == np.float32
    # the detail branch starts at zero, so training starts from a plain (bilinear) upscale, not from noise
    bilinear = np.stack([cv2.resize(f, (64, 64), interpolation=cv2.INTER_LINEAR) for f in faces])
    assert np.abs(out[:, 2:-2, 2:-2] - bilinear[:, 2:-2, 2:-2]).max() < 0.02
    with pytest.raises(FaceswapError, match="takes 32 px faces"):
        net(np.zeros((1, 64, 64, 3), np.float32))


@pytest.mark.parametrize("settings", [{"scale": 5}, {"width": 2}, {"depth": 40}])
def test_bad_settings_are_refused(settings):
    with pytest.raises(FaceswapError, match="face enhancer settings"):
        enh.Enhancer.new(64, settings)


def test_degrade_makes_a_small_soft_copy_and_scale_follows_face_size():
    face = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    small = enh.degrade(face, 4, np.random.default_rng(2))
    assert small.shape == (32, 32, 3) and small.dtype == np.float32 and 0 <= small.min() <= small.max() <= 1
    assert enh.choose_scale(250, 64) == 4 and enh.choose_scale(130, 64) == 2 and enh.choose_scale(190, 64) == 3
    assert enh.choose_scale(1000, 64) == 4 and enh.choose_scale(40, 64) == 2


def _sharpness(images) -> float:
    return float(np.mean([cv2.Laplacian(cv2.cvtColor(np.asarray(i * 255, np.uint8), cv2.COLOR_BGR2GRAY),
                                        cv2.CV_32F).var() for i in images]))


@pytest.mark.slow
def test_it_learns_a_persons_detail_beating_a_plain_upscale_on_faces_it_never_saw(faces_of):
    from lib.model.data import load_faces
    faces = load_faces(faces_of(HILL, 4), "B", 128, 128, min_faces=10).images
    train, held = faces[::2], faces[1::2][:12]
    net = enh.Enhancer.new(32, {"scale": 4, "width": 16, "depth": 4})
    # 150 steps left it only 1.1-1.6x as sharp as a cubic upscale, depending on the CPU's float paths; after
    # 300 it was 1.78-1.90x over four seeds, a wide margin over the 1.2x bar below
    losses = net.train(enh.Pairs(train), iterations=300, batch_size=8, learning_rate=1e-3, seed=0)
    assert np.mean(losses[-15:]) < np.mean(losses[:15])
    rng = np.random.default_rng(5)
    small = np.stack([enh.degrade(face, 4, rng) for face in held])
    target = held.astype(np.float32) / 255
    plain = np.stack([cv2.resize(f, (128, 128), interpolation=cv2.INTER_CUBIC) for f in small]).clip(0, 1)
    learned = net(small)
    assert np.abs(learned - target).mean() < np.abs(plain - target).mean()
    assert _sharpness(learned) > 1.2 * _sharpness(plain)


@pytest.fixture(scope="module")
def swap_model(faces_of, tmp_path_factory):
    model = tmp_path_factory.mktemp("enh") / "model"
    train_job.run(train_job.TrainParams(input_A=faces_of(AOC, 4), input_B=faces_of(HILL, 4), model_dir=model,
                                        iterations=3, **TINY))
    return model


@pytest.mark.slow
def test_enhance_trains_saves_continues_and_convert_uses_it(faces_of, swap_model, tmp_path):
    result = enhance_job.run(enhance_job.EnhanceParams(model_dir=str(swap_model), input=str(faces_of(HILL, 4)),
                                                       iterations=4, batch_size=2, seed=0))
    assert result["steps"] == 4 and result["iterations"] == 4 and result["input_size"] == 64
    assert result["scale"] in (3, 4)          # the 512 px clips' faces are ~200-250 px
    meta = store.read_meta(enh.folder(swap_model, "b"))
    assert meta["plugin"] == enh.PLUGIN and meta["iterations"] == 4 and meta["output_size"] == result["output_size"]
    again = enhance_job.run(enhance_job.EnhanceParams(model_dir=str(swap_model), input=str(faces_of(HILL, 4)),
                                                      iterations=2, batch_size=2, model_share=0.5))
    assert again["iterations"] == 6 and again["scale"] == result["scale"]
    assert store.load_model(swap_model).iterations == 3       # the swap model itself is untouched

    out = tmp_path / "enhanced.mp4"
    video = faces_of(AOC, 4).parent
    proc = run_cli("faceswap.py", "convert", "-i", f"../shared/data/faces/{AOC}", "-o", out, "-m", swap_model,
                   "-p", video / "alignments.json", "-S", "enhance", "--frame-ranges", "0-9", "--no-label",
                   check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.is_file() and out.stat().st_size > 1000
    # the tuner and tools.py preview render through FrameRenderer: the enhancer changes the face there too
    from conftest import shared

    from lib.jobs.convert import FrameRenderer
    renderer = FrameRenderer(swap_model, shared(AOC), str(video / "alignments.json"))
    original, enhanced = renderer.render(0, {"scaling": "enhance"})
    plain = renderer.render(0, {"scaling": "none"})[1]
    assert enhanced.shape == original.shape and np.abs(enhanced.astype(int) - plain).max() > 0


@pytest.mark.slow
def test_convert_without_an_enhancer_and_enhance_on_a_wrong_folder_are_one_error_line(faces_of, swap_model,
                                                                                      tmp_path):
    video = faces_of(AOC, 4).parent
    proc = run_cli("faceswap.py", "convert", "-i", f"../shared/data/faces/{AOC}", "-o", tmp_path / "x.mp4",
                   "-m", swap_model, "-p", video / "alignments.json", "-S", "enhance", "--swap-model",
                   check=False)
    assert_clean_failure(proc, "no face enhancer for side A", "tools.py enhance")
    proc = run_cli("tools.py", "enhance", "-m", tmp_path / "nothing", "-i", faces_of(HILL, 4), check=False)
    assert_clean_failure(proc, "model folder not found")
    proc = run_cli("tools.py", "enhance", "-m", swap_model, "-i", tmp_path, check=False)
    assert_clean_failure(proc, "face PNG")


def test_the_cli_options_are_the_job_fields_with_the_same_defaults():
    import argparse
    import dataclasses

    from lib.jobs import params_from_args
    from scripts.tools import enhance as cli
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["-m", "model", "-i", "faces"])
    fields = {f.name for f in dataclasses.fields(enhance_job.EnhanceParams)}
    assert {action.dest for action in parser._actions} - {"help"} == fields
    assert params_from_args(enhance_job.EnhanceParams, args) == enhance_job.EnhanceParams(model_dir="model",
                                                                                          input="faces")


def test_training_batches_are_float32_pairs_of_the_right_sizes():
    rng = np.random.default_rng(3)
    faces = rng.integers(0, 256, (5, 96, 96, 3), dtype=np.uint8)
    rebuilt = rng.random((5, 32, 32, 3)).astype(np.float32)
    for pairs in (enh.Pairs(faces), enh.Pairs(faces, rebuilt, 0.5)):
        for _ in range(6):          # flips, colour shifts and degradations are drawn at random
            small, big = pairs.batch(4, 3, rng)
            assert small.shape == (4, 32, 32, 3) and big.shape == (4, 96, 96, 3)
            assert small.dtype == big.dtype == np.float32
            assert 0 <= small.min() and small.max() <= 1 and 0 <= big.min() and big.max() <= 1
    flat = np.full((5, 32, 32, 3), 0.5, np.float32)     # a rebuild with no detail: each channel one value
    for share, uses_model in ((0.0, False), (1.0, True)):
        small, _ = enh.Pairs(faces, flat, share).batch(8, 3, rng)
        spread = small.reshape(8, -1, 3).std(axis=1).max()
        assert (spread < 1e-4) == uses_model, f"model_share {share}: the inputs are not what it says"
    with pytest.raises(FaceswapError, match="--model-share must be from 0 to 1"):
        enhance_job.run(enhance_job.EnhanceParams(model_dir="nowhere", input="faces", model_share=1.5))


@pytest.mark.slow
def test_swap_with_enhance_trains_bs_enhancer_after_the_model_and_converts_with_it(tmp_path):
    from conftest import clip

    from lib.jobs import swap as swap_job
    from lib.model.trainer import Schedule
    from lib.video import probe
    clips = {name: clip(rel, tmp_path / f"{name}.mp4") for name, rel in (("a", AOC), ("b", HILL))}
    out = tmp_path / "swapped.mp4"
    result = swap_job.run(swap_job.SwapParams(input_a=str(clips["a"]), input_b=str(clips["b"]), output=str(out),
                                              iterations=2, batch_size=2, option=["width=0.125", "dense=64"],
                                              enhance="3s", workspace=str(tmp_path / "ws")))
    assert probe(out).frame_count == 30 and result["enhance"]["steps"] > 0
    assert store.exists(enh.folder(result["model_dir"], "b")) and not store.exists(enh.folder(result["model_dir"], "a"))
    # swap's own defaults for a new model: lightweight, 2e-4, warmed up over 100 steps
    meta = store.read_meta(result["model_dir"])
    assert meta["plugin"] == swap_job.MODEL == "lightweight" and meta["warmup"] == swap_job.WARMUP == 100
    assert result["train"]["learning_rate"] == pytest.approx(Schedule(2e-4, "flat", 100)(1), rel=1e-5)
