"""The train and swap jobs called in-process, as the service and the GUI call them: progress, previews,
cancel, save/snapshot requests, and a swap workspace that resumes, notices changed inputs and seeds a model."""
import json
import logging
import math
import shutil

import cv2
import pytest
from conftest import shared

from lib.jobs import Cancel, JobCancelled
from lib.jobs import swap as swap_job
from lib.jobs import train as train_job
from lib.model import store
from lib.video import probe, run_ffmpeg

AOC = "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4"
HILL = "katie_hill/video_katiehill_hdtf_WDA_000.mp4"
TINY = dict(trainer="lightweight", option=["width=0.125", "dense=64"], batch_size=2)


def tiny_train(faces_of, model, **kw):
    return train_job.TrainParams(input_A=faces_of(AOC, 4), input_B=faces_of(HILL, 4), model_dir=model,
                                 **{**TINY, **kw})


@pytest.mark.slow
def test_train_job_reports_losses_speed_and_a_live_preview(faces_of, tmp_path):
    model = tmp_path / "model"
    seen = []
    result = train_job.run(tiny_train(faces_of, model, iterations=4, save_interval=2, preview_interval=1),
                           progress=seen.append)
    steps = [p for p in seen if p.loss_a is not None]
    assert steps and all(p.stage == "train" and p.unit == "it" and p.total == 4 for p in steps)
    last = steps[-1]
    assert last.done == 4 and last.iteration == 4 and math.isfinite(last.loss_a) and math.isfinite(last.loss_b)
    assert last.egs > 0 and last.eta == 0
    assert last.preview == str(model / "preview.png")
    image = cv2.imread(last.preview)
    assert image is not None and image.shape[0] > 64          # the A/B grid, rows of faces under a header
    assert "saved at iteration 4" in last.message
    assert result["iterations"] == 4 and result["done"] == 4 and result["reason"] == "finished"
    assert result["preview"] == last.preview and not result["stopped"]
    meta = store.read_meta(model)
    assert meta["iterations"] == 4 and [h[0] for h in meta["history"]] == [2, 4]


@pytest.mark.slow
def test_snapshot_on_request_and_cancel_saves_where_it_stopped(faces_of, tmp_path):
    model = tmp_path / "model"
    cancel, control = Cancel(), train_job.TrainControl()
    asked = {}

    def on_progress(p):
        if p.iteration and p.loss_a is not None:
            if "snapshot" not in asked:
                asked["snapshot"] = p.iteration
                control.request_snapshot()
            elif p.iteration >= asked["snapshot"] + 2 and not cancel.is_set():
                asked["cancel"] = p.iteration
                cancel.set("stop button")
    with pytest.raises(JobCancelled) as caught:
        train_job.run(tiny_train(faces_of, model, iterations=100000, save_interval=100000), progress=on_progress,
                      cancel=cancel, control=control)
    result = caught.value.result
    assert result["stopped"] and result["reason"] == "stop button"
    # The request is taken at the step after it was made, the cancel likewise; both saved.
    assert [p.name for p in store.list_snapshots(model)] == [f"model_{asked['snapshot'] + 1}.npz"]
    assert result["iterations"] == asked["cancel"] + 1 < 100
    assert store.read_meta(model)["iterations"] == result["iterations"]


# ---------------------------------------------------------------------------------------------- swap
def test_workspace_state_that_is_not_ours_means_redo_with_a_warning(tmp_path, caplog):
    (tmp_path / "state.json").write_text("[1, 2]")
    with caplog.at_level(logging.WARNING):
        assert swap_job.Workspace(tmp_path).state == {}
    assert "redoing the extractions" in caplog.text
    good = {"input": {"kind": "file", "sha256": "0" * 64, "every_n": 1}, "done": True}
    (tmp_path / "state.json").write_text(json.dumps({"version": swap_job.STATE_VERSION, "extract_a": good,
                                                     "extract_b": {"input": "junk", "done": 1}}))
    assert swap_job.Workspace(tmp_path).state == {"extract_a": good}
    (tmp_path / "state.json").write_bytes(b"\xff\xfe not json")
    assert swap_job.Workspace(tmp_path).state == {}


def test_inputs_are_fingerprinted_by_content_not_by_name_or_time(tmp_path):
    video = tmp_path / "a.mp4"
    video.write_bytes(b"some video bytes")
    moved = tmp_path / "elsewhere.mp4"
    shutil.copy(video, moved)
    assert swap_job.fingerprint(video) == swap_job.fingerprint(moved)
    moved.write_bytes(b"other video bytes")
    assert swap_job.fingerprint(video) != swap_job.fingerprint(moved)
    assert swap_job.fingerprint(video, 2) != swap_job.fingerprint(video)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "1.jpg").write_bytes(b"one")
    before = swap_job.fingerprint(photos)
    (photos / "1.jpg").write_bytes(b"two")
    assert swap_job.fingerprint(photos) != before and before["kind"] == "folder"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Short real clips: A, B, and another clip of B (other frames: other content)."""
    folder = tmp_path_factory.mktemp("clips")
    out = {}
    for name, rel, start in (("a", AOC, 0), ("b", HILL, 0), ("b2", HILL, 2)):
        run_ffmpeg(["-ss", start, "-i", shared(rel), "-frames:v", 30, "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a", "aac", "-shortest", folder / f"{name}.mp4"], "trimming a test clip")
        out[name] = folder / f"{name}.mp4"
    return out


@pytest.mark.slow
def test_swap_job_resumes_notices_a_changed_input_and_seeds_a_new_workspace(clips, tmp_path):
    ws, out = tmp_path / "ws", tmp_path / "swapped.mp4"
    tiny = dict(trainer="lightweight", option=["width=0.25", "dense=64"], batch_size=8, workspace=str(ws))
    stages = []

    def params(b, iterations, **kw):
        return swap_job.SwapParams(input_a=str(clips["a"]), input_b=str(b), output=str(out), iterations=iterations,
                                   **{**tiny, **kw})

    first = swap_job.run(params(clips["b"], 2), progress=lambda p: stages.append(p.stage))
    assert first["extracted"] == {"a": True, "b": True} and first["iterations"] == first["trained"] == 2
    assert list(dict.fromkeys(stages)) == ["extract A", "extract B", "train", "convert"]
    assert probe(out).frame_count == probe(clips["a"]).frame_count

    moved = tmp_path / "same_b.mp4"                       # the same video under another name: not extracted again
    shutil.copy(clips["b"], moved)
    second = swap_job.run(params(moved, 3))
    assert second["extracted"] == {"a": False, "b": False}
    assert second["iterations"] == 3 and second["trained"] == 1

    old_faces = sorted(p.name for p in (ws / "faces_b").iterdir())
    third = swap_job.run(params(clips["b2"], 3))          # new content for B: cleared and extracted again
    assert third["extracted"] == {"a": False, "b": True} and third["trained"] == 0
    new_faces = sorted(p.name for p in (ws / "faces_b").iterdir())
    assert new_faces and not set(new_faces) & set(old_faces)
    state = json.loads((ws / "state.json").read_text())
    assert state["extract_b"]["input"] == swap_job.fingerprint(clips["b2"]) and state["extract_b"]["done"]

    seeded = tmp_path / "seeded"                          # a new workspace's model starts from a trained one
    shutil.copytree(ws, seeded, ignore=shutil.ignore_patterns("model"))
    fourth = swap_job.run(params(clips["b2"], 4, workspace=str(seeded), model_seed=str(ws / "model"),
                                 trainer="original"))
    assert fourth["extracted"] == {"a": False, "b": False}
    assert fourth["iterations"] == 4 and fourth["trained"] == 1
    assert store.read_meta(seeded / "model")["plugin"] == "lightweight"
