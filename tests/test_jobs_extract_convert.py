"""The extract and convert jobs called in-process, as the service and the GUI call them (no argv): progress
reports, cancelling, and the single-frame renderer of the GUI's convert tuner."""
import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli, shared
from lib.alignments import Alignments
from lib.errors import FaceswapError
from lib.faces import face_filename
from lib.jobs import Cancel, JobCancelled, params_from_args
from lib.jobs.convert import ConvertParams, FrameRenderer
from lib.jobs.convert import run as convert
from lib.jobs.extract import ExtractParams
from lib.jobs.extract import run as extract
from lib.video import probe, read_frames

JAMIE = "jamie_oliver/video_oliver_voxceleb_00086.mp4"           # 130 frames, 224x224, one face
CHRISTIE = "chris_christie/video_christie_voxceleb_00015.mp4"
FRAMES = 130


class Recorder:
    """A progress callback that keeps every report; ``stop_at`` sets the cancel flag from inside it."""

    def __init__(self, cancel: Cancel | None = None, stop_at: int | None = None):
        self.calls, self.cancel, self.stop_at = [], cancel, stop_at

    def __call__(self, progress):
        self.calls.append(progress)
        if self.stop_at is not None and progress.done >= self.stop_at:
            self.cancel.set("test")

    def stage(self, name):
        return [p for p in self.calls if p.stage == name]


def _check_reports(calls, total):
    assert calls and all(p.total == total and p.unit == "frames" for p in calls)
    done = [p.done for p in calls]
    assert done == sorted(done) and done[0] == 0 and done[-1] == total
    assert len(set(done)) >= 2


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """(work folder, extract result, progress recorder) of one in-process extract of the Jamie Oliver clip."""
    work = tmp_path_factory.mktemp("jobs")
    recorder = Recorder()
    result = extract(ExtractParams(input=[str(shared(JAMIE))], output=str(work / "faces"),
                                   alignments=str(work / "jamie_alignments.json")), progress=recorder)
    return work, result, recorder


@pytest.fixture(scope="module")
def model(extracted):
    """A tiny model trained a few steps on the extracted faces (A) and Chris Christie's (B)."""
    work, _, _ = extracted
    extract(ExtractParams(input=str(shared(CHRISTIE)), output=str(work / "faces_b"),
                          alignments=str(work / "christie_alignments.json"), every_n=5))
    run_cli("faceswap.py", "train", "-A", work / "faces", "-B", work / "faces_b", "-m", work / "model",
            "-t", "lightweight", "-O", "width=0.25", "-O", "dense=64", "-i", 2, "-b", 4)
    return work / "model"


@pytest.mark.parametrize("command, required", [("extract", ["-i", "v.mp4", "-o", "faces"]),
                                               ("convert", ["-i", "v.mp4", "-o", "out.mp4", "-m", "model"])])
def test_params_are_the_cli_options_by_dest_name_with_the_same_defaults(command, required):
    """Every CLI option reaches the job: the CLI builds its params from the parsed args, other callers by keyword."""
    import importlib
    module = importlib.import_module(f"scripts.{command}")
    cls = ExtractParams if command == "extract" else ConvertParams
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    args = parser.parse_args(required)
    assert {action.dest for action in parser._actions} - {"help"} == {f.name for f in dataclasses.fields(cls)}
    keyword = {"input": args.input, "output": args.output, **({"model_dir": args.model_dir} if command == "convert"
                                                              else {})}
    assert params_from_args(cls, args) == cls(**keyword)


# ---------------------------------------------------------------------------------------------- extract
def test_extract_job_reports_each_frame_and_returns_a_summary(extracted):
    work, result, recorder = extracted
    name = Path(JAMIE).name
    calls = recorder.stage(f"extract {name}")
    assert calls == recorder.calls                              # one input, one stage
    _check_reports(calls, FRAMES)
    assert name in calls[-1].message and "130 frames" in calls[-1].message
    (one,) = result["inputs"]
    faces = sorted((work / "faces").glob("*.png"))
    assert result["frames"] == one["frames"] == FRAMES
    assert result["written"] == one["written"] == len(faces) >= 0.95 * FRAMES
    assert one["alignments"] == str(work / "jamie_alignments.json") and one["output"] == str(work / "faces")
    assert Alignments.load(work / "jamie_alignments.json").face_count() == len(faces)


def test_cancelled_extract_keeps_whole_files_and_resumes(tmp_path):
    cancel = Cancel()
    recorder = Recorder(cancel, stop_at=20)
    params = ExtractParams(input=[str(shared(JAMIE))], output=str(tmp_path / "faces"),
                           alignments=str(tmp_path / "a.json"))
    with pytest.raises(JobCancelled):
        extract(params, progress=recorder, cancel=cancel)
    alignments = Alignments.load(tmp_path / "a.json")            # whole and valid: the frames done so far
    done = len(alignments.frames)
    assert 20 <= done < FRAMES
    listed = {face_filename(name, i) for name, faces in alignments.frames.items() for i in range(len(faces))}
    assert {p.name for p in (tmp_path / "faces").iterdir()} == listed      # no temp or half-written file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "faces"]
    params.skip_existing = True
    again = extract(params)
    assert again["frames"] == FRAMES - done
    assert len(Alignments.load(tmp_path / "a.json").frames) == FRAMES


def test_extract_job_checks_what_argparse_checks_for_the_cli(tmp_path):
    for bad in ({"every_n": 0}, {"ref_threshold": 3.0}, {"identity": "maybe"}, {"size": -1}):
        with pytest.raises(FaceswapError):
            extract(ExtractParams(input=str(shared(JAMIE)), output=str(tmp_path / "f"), **bad))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- convert
@pytest.mark.slow
def test_convert_job_reports_each_frame(extracted, model, tmp_path):
    work, _, _ = extracted
    recorder = Recorder()
    out = tmp_path / "out.mp4"
    stats = convert(ConvertParams(input=str(shared(JAMIE)), output=str(out), model_dir=str(model),
                                  alignments=str(work / "jamie_alignments.json"), batch_size=4), progress=recorder)
    assert {p.stage for p in recorder.calls} == {"convert"}
    _check_reports(recorder.calls, FRAMES)
    assert stats["frames"] == stats["written"] == FRAMES and stats["output"] == out
    assert probe(out).frame_count == FRAMES


@pytest.mark.slow
def test_cancelled_convert_leaves_no_output_and_keeps_an_old_one(extracted, model, tmp_path):
    work, _, _ = extracted
    for target in (tmp_path / "new.mp4", tmp_path / "frames"):
        cancel = Cancel()
        recorder = Recorder(cancel, stop_at=10)
        with pytest.raises(JobCancelled):
            convert(ConvertParams(input=str(shared(JAMIE)), output=str(target), model_dir=str(model),
                                  alignments=str(work / "jamie_alignments.json"), batch_size=4),
                    progress=recorder, cancel=cancel)
        assert 10 <= recorder.calls[-1].done < FRAMES
        assert list(tmp_path.iterdir()) == []                                # no partial video, no temp file
    old = tmp_path / "old.mp4"
    old.write_bytes(b"previous result")
    cancel = Cancel()
    with pytest.raises(JobCancelled):
        convert(ConvertParams(input=str(shared(JAMIE)), output=str(old), model_dir=str(model),
                              alignments=str(work / "jamie_alignments.json")),
                progress=Recorder(cancel, stop_at=5), cancel=cancel)
    assert old.read_bytes() == b"previous result" and [p.name for p in tmp_path.iterdir()] == ["old.mp4"]


@pytest.mark.slow
def test_convert_filter_uses_the_reference_photos_identity(extracted, model, tmp_path):
    """-f with a face of another person swaps nothing; with a face of this person it swaps (lib.identity)."""
    work, _, _ = extracted
    other = sorted((work / "faces_b").glob("*.png"))[0]            # Chris Christie, embedding in its metadata
    same = sorted((work / "faces").glob("*.png"))[0]
    params = dict(input=str(shared(JAMIE)), model_dir=str(model), alignments=str(work / "jamie_alignments.json"),
                  frame_ranges=["0-4"])
    with pytest.raises(FaceswapError, match="no face was swapped"):
        convert(ConvertParams(output=str(tmp_path / "none"), filter=[str(other)], **params))
    stats = convert(ConvertParams(output=str(tmp_path / "some"), filter=[str(same)], **params))
    assert stats["swapped"] == 5 and len(list((tmp_path / "some").iterdir())) == 5


# ---------------------------------------------------------------------------------------------- one frame
@pytest.mark.slow
def test_frame_renderer_renders_what_convert_writes_and_rerenders_fast(extracted, model, tmp_path):
    work, _, _ = extracted
    alignments = work / "jamie_alignments.json"
    renderer = FrameRenderer(model, shared(JAMIE), alignments)
    base = {"no_label": True}
    original, swapped = renderer.render(60, base)
    frame = next(image for index, image in read_frames(shared(JAMIE)) if index == 60)
    assert np.array_equal(original, frame)
    x, y, w, h = (int(v) for v in renderer.faces(60)[0].box)
    inside = np.abs(swapped[y:y + h, x:x + w].astype(int) - original[y:y + h, x:x + w]).mean()
    outside = swapped.astype(int) - original
    outside[max(0, y - h // 2):y + 2 * h, max(0, x - w // 2):x + 2 * w] = 0
    assert inside > 10 and np.abs(outside).max() == 0, inside           # only the face area changed

    timings, renders = [], {}
    for change in ({"mask_type": "none"}, {"mask_blur": 0.0}, {"mask_erode": -5.0},
                   {"color_adjustment": "none"}, {"scaling": "sharpen"}, {}):
        start = time.perf_counter()
        renders[str(change)] = renderer.render(60, {**base, **change})[1]
        timings.append(time.perf_counter() - start)
    for change, image in renders.items():
        if change != "{}":
            assert np.abs(image.astype(int) - renders["{}"]).mean() > 0.05, change
    assert np.array_equal(renders["{}"], swapped)
    assert max(timings) < 1.0, timings                                  # model and frame are reused

    # The same frame through the convert job (images writer, PNG): what the renderer showed, to rounding.
    convert(ConvertParams(input=str(shared(JAMIE)), output=str(tmp_path / "frames"), model_dir=str(model),
                          alignments=str(alignments), frame_ranges=["60"], no_label=True))
    from lib.video import read_image
    (written,) = (tmp_path / "frames").iterdir()
    assert np.abs(read_image(written).astype(int) - swapped).mean() < 0.5
