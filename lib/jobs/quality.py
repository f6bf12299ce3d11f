"""The quality benchmark job: how good a swap gets per hour of training, and what the measurement itself misses.

For each model variant (plugin x batch size, with the training options given) and each pair of videos
(A, B), it trains one swap workspace with the swap job in steps of training time (the ``checkpoints``, e.g.
5m 15m 30m 60m, counted by the model's own ``train_seconds``), and at each checkpoint converts both
directions (A's video with B's face, B's video with A's face) and runs the evaluate job on each: identity
retrieval and distances, pose and expression error, landmark jitter, colour flicker, background and the
face's sharpness ratio. With ``enhance`` (a time), each side's face enhancer (lib/jobs/enhance.py) is also
trained that much more at each checkpoint and both directions are measured again with ``-S enhance``
(directions ``a2b+enhance`` and ``b2a+enhance``; the enhancers' own training seconds are recorded). With
``rebuild``, each video is also converted with its own person's decoder (convert --rebuild: directions ``a2a``
and ``b2b``, evaluated with that person as the target): the model's floor, what a swap by it cannot beat.

The figures have floors: the pose estimator and the landmark tracker are noisy, more so on a soft face. So
each original video is also evaluated against two copies of itself: a plain re-encode (what convert's
writer does to every frame) and a half-resolution copy (a face with half the detail). What a swap scores
there is the best it can score, not the swap's fault.

Writes ``quality.json`` (settings, machine, floors, every checkpoint's figures), ``quality.png`` (each
figure against training minutes, floors as dashed lines) and ``quality.html`` (both, with the table),
updated after every checkpoint so a long run that is stopped keeps what it measured.
"""
from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import logging
import math
import os
import platform
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from lib.convert import DETAIL, check_detail
from lib.errors import FaceswapError
from lib.jobs import Cancel, Progress, ProgressFn
from lib.report import json_safe

log = logging.getLogger(__name__)

FORMAT = "faceswap-quality"
VERSION = 1
CHECKPOINTS = ["5m", "15m", "30m", "60m"]
# Default pairs from ../shared/data/faces: two pairs of 512x512 HDTF addresses, each measured both ways.
DEFAULT_PAIRS = [("alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4", "katie_hill/video_katiehill_hdtf_WDA_000.mp4"),
                 ("bob_menendez/video_menendez_hdtf_WDA_000.mp4", "ed_markey/video_markey_hdtf_WDA_000.mp4")]
DEFAULT_DISTRACTORS = ["jerry_seinfeld", "mindy_kaling"]        # photo folders of two other people
SHARED = Path(os.environ.get("FACESWAP_SHARED", Path(__file__).resolve().parents[3] / "shared")) / "data" / "faces"
UNTRAINED = 10 ** 9        # "up to this many iterations": the time budget decides
FLOORS = ("reencode", "halfres")

# The figures taken from each evaluate report: name -> (path in its summary, label, better when lower).
FIGURES = {
    "retrieval": (("identity", "retrieval"), "identity retrieval (share nearest to the target)", False),
    "distance_target": (("identity", "distance", "B"), "distance to the target", True),
    "distance_source": (("identity", "distance", "A"), "distance to the original person", False),
    "pose": (("pose", "angle"), "pose error (degrees)", True),
    "pose_tracking": (("pose", "tracking"), "pose error less its constant offset (degrees)", True),
    "follow_yaw": (("pose", "follow_yaw"), "yaw followed (swap's turn / head's turn)", False),
    "expression": (("expression", "all"), "expression error (IOD)", True),
    "jitter": (("stability", "landmark_jitter", "swapped"), "landmark jitter (IOD)", True),
    "flicker": (("stability", "colour_flicker", "ratio"), "colour flicker (ratio to original)", True),
    "sharpness": (("sharpness", "ratio"), "sharpness (swapped / original)", False),
    "background": (("background", "ssim"), "background SSIM", False),
}
FLOORED = ("pose", "pose_tracking", "jitter", "sharpness")


@dataclass
class QualityParams:
    """What to measure; ``tools.py bench --quality`` and ``scripts/bench_quality.py`` build it from their flags."""
    output: str = "bench_quality"
    pairs: list = field(default_factory=list)         # [(video A, video B)]; empty: DEFAULT_PAIRS from ../shared
    checkpoints: list[str] = field(default_factory=lambda: list(CHECKPOINTS))   # training time at each evaluation
    models: list[str] = field(default_factory=lambda: ["original"])
    batch_sizes: list[int] = field(default_factory=lambda: [16])
    option: list[str] = field(default_factory=list)   # -O KEY=VALUE for new models
    learning_rate: Optional[float] = None
    lr_schedule: Optional[str] = None
    loss: Optional[str] = None                        # train's --loss (None: its default)
    warmup: Optional[int] = None
    from_model: Optional[str] = None
    freeze: list[str] = field(default_factory=list)
    frames: Optional[int] = None                      # use the first N frames of each video (None: all)
    eval_every: int = 1                               # evaluate every Nth frame
    distractors: Optional[list[str]] = None           # photo folders of other people; None: DEFAULT_DISTRACTORS
    detector: str = "dlib-hog"                        # evaluate's face detector
    floors: bool = True
    label: str = ""                                   # a name for this run in the results
    keep_videos: bool = False                         # keep the swapped videos of every checkpoint
    enhance: Optional[str] = None                     # train each side's face enhancer this much more per checkpoint
    detail: float = DETAIL                            # convert's --detail
    rebuild: bool = False                             # also measure A -> A and B -> B at each checkpoint


# ---------------------------------------------------------------------------------------------- inputs
def checkpoint_seconds(checkpoints) -> list[float]:
    """The checkpoints in seconds, rising; one clear error for a bad or unordered list."""
    from lib import duration
    seconds = [duration.parse(text, "--checkpoints") for text in checkpoints]
    if not seconds:
        raise FaceswapError("--checkpoints: give at least one training time, e.g. 5m 15m 30m")
    if any(b <= a for a, b in zip(seconds, seconds[1:])):
        raise FaceswapError(f"--checkpoints {' '.join(map(str, checkpoints))}: give rising training times, "
                            f"e.g. 5m 15m 30m 60m")
    return seconds


def _pairs(params: QualityParams) -> list[tuple[Path, Path]]:
    if params.pairs:
        pairs = [(Path(a), Path(b)) for a, b in params.pairs]
    else:
        if not SHARED.is_dir():
            raise FaceswapError(f"no --pair given and the default pairs' folder {SHARED} is not there: give "
                                f"--pair A.mp4 B.mp4")
        pairs = [(SHARED / a, SHARED / b) for a, b in DEFAULT_PAIRS]
    for a, b in pairs:
        for video in (a, b):
            if not video.is_file():
                raise FaceswapError(f"video not found: {video}")
        if a.resolve() == b.resolve():
            raise FaceswapError(f"--pair {a} {b}: give two different videos")
    return pairs


def _distractors(params: QualityParams) -> list[Path]:
    if params.distractors is not None:
        folders = [Path(d) for d in params.distractors]
    else:
        folders = [SHARED / name for name in DEFAULT_DISTRACTORS if (SHARED / name).is_dir()]
    for folder in folders:
        if not folder.is_dir():
            raise FaceswapError(f"distractor folder not found: {folder}")
    return folders


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60] or "x"


def _variants(params: QualityParams) -> list[dict]:
    """One training setup per model x batch size: a name and the swap options it trains with."""
    extra = " ".join(filter(None, [" ".join(f"-O {o}" for o in params.option),
                                   f"lr {params.learning_rate:g}" if params.learning_rate else "",
                                   f"{params.lr_schedule}" if params.lr_schedule else "",
                                   f"loss {params.loss}" if params.loss else "",
                                   f"warmup {params.warmup}" if params.warmup else "",
                                   f"from {Path(params.from_model).name}" if params.from_model else "",
                                   f"freeze {'+'.join(params.freeze)}" if params.freeze else ""]))
    out = []
    for model in params.models:
        for batch in params.batch_sizes:
            name = f"{model} b{batch}" + (f" {extra}" if extra else "")
            out.append({"name": name, "slug": _slug(f"{model}_b{batch}_{extra}"),
                        "trainer": model, "batch_size": batch})
    return out


def _copy_video(source: Path, target: Path, frames: int | None = None, half: bool = False) -> Path:
    """``source`` decoded and encoded again the way convert's writer encodes (H.264 CRF 18): its first
    ``frames`` frames, and with ``half`` each frame at half resolution and back (half the detail)."""
    import cv2
    from lib.video import Source, VideoWriter
    src = Source(source)
    if not src.is_video:
        raise FaceswapError(f"{source} is not a video: the quality benchmark compares videos")
    size = (src.info.width, src.info.height)
    with VideoWriter(target, src.fps, size) as writer:
        for frame in src.frames():
            if frames is not None and frame.index >= frames:
                break
            image = frame.image
            if half:
                small = cv2.resize(image, (max(1, size[0] // 2), max(1, size[1] // 2)), interpolation=cv2.INTER_AREA)
                image = cv2.resize(small, size, interpolation=cv2.INTER_CUBIC)
            writer.write(image)
    return target


def figures(summary: dict) -> dict:
    """The benchmark's figures from an evaluate summary (NaN where it has none), plus the share of frames
    whose output had no face."""
    out = {}
    for name, (path, _, _) in FIGURES.items():
        value = summary
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out[name] = float(value) if isinstance(value, (int, float)) and value is not None else float("nan")
    counts = summary.get("frames", {})
    evaluated = counts.get("evaluated") or 0
    out["no_face"] = counts.get("no_face_in_output", 0) / evaluated if evaluated else float("nan")
    return out


# ---------------------------------------------------------------------------------------------- the job
class _Run:
    """The state of one benchmark: results so far, where they are written, and how progress is told."""

    def __init__(self, params: QualityParams, progress, cancel: Cancel):
        self.params, self.progress, self.cancel = params, progress, cancel
        self.out = Path(params.output)
        self.work = self.out / "work"
        self.results: dict = {}

    def say(self, stage: str, message: str) -> None:
        log.info("%s: %s", stage, message)
        if self.progress is not None:
            self.progress(Progress(stage=stage, message=message))

    def forward(self, stage: str):
        if self.progress is None:
            return None
        return lambda p: self.progress(dataclasses.replace(p, stage=f"{stage}: {p.stage}"))

    def save(self) -> None:
        from lib.fileio import atomic_write_bytes
        atomic_write_bytes(self.out / "quality.json", json.dumps(json_safe(self.results), indent=1).encode())
        png = plot(self.results)
        atomic_write_bytes(self.out / "quality.png", png)
        atomic_write_bytes(self.out / "quality.html", page(self.results, png).encode())

    def evaluate(self, stage, original, swapped, ref_a, ref_b, alignments, name) -> dict:
        from lib.jobs import evaluate
        report = evaluate.run(evaluate.EvaluateParams(
            original=str(original), swapped=str(swapped), ref_a=[str(ref_a)], ref_b=[str(ref_b)],
            distractors=[str(d) for d in self.results["settings"]["distractors"]],
            alignments=str(alignments) if alignments else None, output=str(self.work / "reports" / name),
            every_n=self.params.eval_every, detector=self.params.detector), self.forward(stage), self.cancel)
        return figures(report["report"]["summary"])


def run(params: QualityParams, progress: ProgressFn | None = None, cancel: Cancel | None = None) -> dict:
    """Measure; returns the results written to ``quality.json`` (see :func:`table` for the figures)."""
    from lib.jobs import convert, swap
    from lib.model import store
    cancel = cancel if cancel is not None else Cancel()
    seconds = checkpoint_seconds(params.checkpoints)
    pairs, distractors, variants = _pairs(params), _distractors(params), _variants(params)
    if params.enhance:
        from lib import duration
        duration.parse(params.enhance, "--enhance")
    if params.loss:
        from lib.model import losses
        losses.parse(params.loss)
    check_detail(params.detail)
    if params.eval_every < 1 or (params.frames is not None and params.frames < 3):
        raise FaceswapError("--eval-every must be at least 1 and --frames at least 3")
    out = Path(params.output)
    if (out / "quality.json").exists() or (out / "work").exists():
        raise FaceswapError(f"{out} holds an earlier benchmark: give a new --out folder (its figures would mix)")
    try:
        (out / "work").mkdir(parents=True)
    except OSError as err:
        raise FaceswapError(f"cannot create {out}: {err.strerror}") from None
    bench = _Run(params, progress, cancel)
    started = time.perf_counter()
    bench.results = {"format": FORMAT, "version": VERSION, "label": params.label,
                     "settings": {**dataclasses.asdict(params), "checkpoint_seconds": seconds,
                                  "pairs": [[str(a), str(b)] for a, b in pairs],
                                  "distractors": [str(d) for d in distractors]},
                     "machine": _machine(), "floors": {}, "runs": []}

    clips = {}
    for a, b in pairs:                                  # the videos measured: cut to --frames when given
        for video in (a, b):
            if video not in clips:
                clips[video] = video if params.frames is None else _copy_video(
                    video, bench.work / f"clip_{len(clips)}_{_slug(video.stem)}.mp4", params.frames)

    for variant in variants:
        for a, b in pairs:
            cancel.check()
            pair = f"{_slug(a.stem)}__{_slug(b.stem)}"
            ws = bench.work / variant["slug"] / pair
            first = bench.work / variants[0]["slug"] / pair
            if ws != first and (first / swap.STATE).is_file():    # the faces are extracted once per pair
                shutil.copytree(first, ws, ignore=shutil.ignore_patterns("model", "*.mp4"))
            ws.mkdir(parents=True, exist_ok=True)
            entry = {"variant": variant["name"], "pair": [str(a), str(b)], "names": [_short(a), _short(b)],
                     "checkpoints": []}
            bench.results["runs"].append(entry)
            for target in seconds:
                cancel.check()
                stage = f"{variant['name']} {a.stem}<->{b.stem} @ {_minutes(target)}"
                place = swap.Workspace(ws)
                model = place.model
                meta = store.read_meta(model) if store.exists(model) else {"iterations": 0}
                left = target - float(meta.get("train_seconds", 0.0))
                train = left > 0.5         # else the model already trained that long (its last run overshot)
                bench.say(stage, f"training to {_minutes(target)} ({left:.0f} s more)" if train else
                          "already trained that long")
                swap.run(swap.SwapParams(
                    input_a=str(clips[a]), input_b=str(clips[b]), output=str(ws / "a2b.mp4"),
                    iterations=UNTRAINED if train else int(meta["iterations"]), time=f"{left:.1f}" if train else None,
                    trainer=variant["trainer"], option=list(params.option), batch_size=variant["batch_size"],
                    learning_rate=params.learning_rate, lr_schedule=params.lr_schedule, warmup=params.warmup,
                    loss=params.loss or swap.SwapParams.loss, from_model=params.from_model,
                    freeze=list(params.freeze), workspace=str(ws), no_label=True, detail=params.detail),
                    bench.forward(stage), cancel)
                bench.say(stage, "converting B's video with A's face")
                convert.run(convert.ConvertParams(input=str(clips[b]), output=str(ws / "b2a.mp4"),
                                                  model_dir=str(model), alignments=str(place.alignments["b"]),
                                                  swap_model=True, no_label=True, detail=params.detail),
                            bench.forward(stage), cancel)
                meta = store.read_meta(model)
                point = {"target_seconds": target, "train_seconds": float(meta.get("train_seconds", 0.0)),
                         "iterations": int(meta["iterations"]), "egs": meta.get("last_egs"), "directions": {}}
                tag = f"{variant['slug']}_{pair}_{int(target)}"
                point["directions"]["a2b"] = bench.evaluate(stage, clips[a], ws / "a2b.mp4", ws / "faces_a",
                                                            ws / "faces_b", ws / "a_alignments.json", f"{tag}_a2b")
                point["directions"]["b2a"] = bench.evaluate(stage, clips[b], ws / "b2a.mp4", ws / "faces_b",
                                                            ws / "faces_a", ws / "b_alignments.json", f"{tag}_b2a")
                if params.rebuild:
                    _rebuilt(bench, stage, ws, clips[a], clips[b], tag, point)
                if params.enhance:
                    point["enhance_seconds"] = _enhanced(bench, stage, ws, clips[a], clips[b], tag, point)
                if params.keep_videos:
                    for direction in (("a2b", "b2a") + (("a2a", "b2b") if params.rebuild else ())
                                      + (("a2b+enhance", "b2a+enhance") if params.enhance else ())):
                        name = direction.replace("+", "_")
                        shutil.copyfile(ws / f"{name}.mp4", ws / f"{name}_{int(target)}s.mp4")
                entry["checkpoints"].append(point)
                bench.results["total_seconds"] = round(time.perf_counter() - started, 1)
                bench.save()
                bench.say(stage, _line(point))
            if params.floors:
                _floors(bench, clips, a, b, ws)
                bench.save()
    bench.results["total_seconds"] = round(time.perf_counter() - started, 1)
    bench.save()
    return bench.results


def _rebuilt(bench: _Run, stage: str, ws: Path, clip_a: Path, clip_b: Path, tag: str, point: dict) -> None:
    """Each video converted with its own person's decoder (A -> A, B -> B) and evaluated with that person as
    the target (and the other as "the original person"): what the model loses of a face with no change of
    person."""
    from lib.jobs import convert
    for side, original in (("a", clip_a), ("b", clip_b)):
        direction, other = f"{side}2{side}", "b" if side == "a" else "a"
        bench.say(stage, f"rebuilding {side.upper()}'s video with {side.upper()}'s own decoder")
        video = ws / f"{direction}.mp4"
        convert.run(convert.ConvertParams(input=str(original), output=str(video), model_dir=str(ws / "model"),
                                          alignments=str(ws / f"{side}_alignments.json"), swap_model=side == "b",
                                          rebuild=True, no_label=True, detail=bench.params.detail),
                    bench.forward(stage), bench.cancel)
        point["directions"][direction] = bench.evaluate(stage, original, video, ws / f"faces_{other}",
                                                        ws / f"faces_{side}", ws / f"{side}_alignments.json",
                                                        f"{tag}_{direction}")


def _enhanced(bench: _Run, stage: str, ws: Path, clip_a: Path, clip_b: Path, tag: str, point: dict) -> dict:
    """Train both sides' face enhancers ``enhance`` more, convert both directions with them and evaluate.
    Returns each enhancer's training seconds in all."""
    from lib.jobs import convert, enhance
    from lib.model import store
    from lib.model.enhancer import folder
    model, seconds = ws / "model", {}
    for side, direction, original, alignments in (("b", "a2b", clip_a, "a_alignments.json"),
                                                  ("a", "b2a", clip_b, "b_alignments.json")):
        faces, own = ws / f"faces_{side}", ws / f"faces_{direction[0]}"    # the enhancer's person; the original's
        bench.say(stage, f"face enhancer of {side.upper()}: {bench.params.enhance} more")
        enhance.run(enhance.EnhanceParams(model_dir=str(model), input=str(faces), side=side,
                                          time=bench.params.enhance), bench.forward(stage), bench.cancel)
        seconds[side] = float(store.read_meta(folder(model, side)).get("train_seconds") or 0.0)
        video = ws / f"{direction}_enhance.mp4"
        convert.run(convert.ConvertParams(input=str(original), output=str(video), model_dir=str(model),
                                          alignments=str(ws / alignments), swap_model=direction == "b2a",
                                          no_label=True, scaling="enhance", detail=bench.params.detail),
                    bench.forward(stage), bench.cancel)
        point["directions"][f"{direction}+enhance"] = bench.evaluate(stage, original, video, own, faces,
                                                                     ws / alignments, f"{tag}_{direction}_enhance")
    return seconds


def _floors(bench: _Run, clips: dict, a: Path, b: Path, ws: Path) -> None:
    """Each original against a plain re-encode and a half-resolution copy of itself (once per video)."""
    for video, own, other, alignments in ((a, "faces_a", "faces_b", "a_alignments.json"),
                                          (b, "faces_b", "faces_a", "b_alignments.json")):
        key = str(video)
        if key in bench.results["floors"]:
            continue
        floors = {}
        for kind in FLOORS:
            bench.cancel.check()
            stage = f"floor {video.stem} {kind}"
            bench.say(stage, "the original against a " + ("plain re-encode of itself" if kind == "reencode" else
                                                          "half-resolution copy of itself"))
            copy = _copy_video(clips[video], bench.work / f"floor_{_slug(video.stem)}_{kind}.mp4",
                               half=kind == "halfres")
            floors[kind] = bench.evaluate(stage, clips[video], copy, ws / own, ws / other, ws / alignments,
                                          f"floor_{_slug(video.stem)}_{kind}")
        bench.results["floors"][key] = floors


def _short(video: Path) -> str:
    """A video's name for tables and legends: its stem without a leading ``video_``, at most 28 characters."""
    stem = video.stem[6:] if video.stem.startswith("video_") else video.stem
    return stem[:28]


def _minutes(seconds: float) -> str:
    from lib import duration
    return duration.format(seconds)


def _line(point: dict) -> str:
    parts = [f"{point['iterations']} it, {point['train_seconds']:.0f} s"]
    for direction, figs in point["directions"].items():
        parts.append(f"{direction}: retrieval {_fmt(figs['retrieval'], '.0%')} sharpness "
                     f"{_fmt(figs['sharpness'], '.2f')} pose {_fmt(figs['pose'], '.1f')} jitter "
                     f"{_fmt(figs['jitter'], '.4f')}")
    return "; ".join(parts)


def _machine() -> dict:
    from lib.machine import cpu_name, load_average
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "load_at_start": load_average(),
            "python": platform.python_version()}


def _fmt(value, spec=".3f") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:{spec}}"


# ---------------------------------------------------------------------------------------------- output
def _series(results: dict):
    """(label, original video, [(checkpoint, its figures)]) for each run and direction."""
    for run_ in results["runs"]:
        a, b = run_["pair"]
        names = run_["names"]
        for direction, original, text in (("a2b", a, f"{names[0]}->{names[1]}"),
                                          ("b2a", b, f"{names[1]}->{names[0]}"),
                                          ("a2a", a, f"{names[0]} rebuilt"),
                                          ("b2b", b, f"{names[1]} rebuilt"),
                                          ("a2b+enhance", a, f"{names[0]}->{names[1]} +enhance"),
                                          ("b2a+enhance", b, f"{names[1]}->{names[0]} +enhance")):
            points = [(p, p["directions"][direction]) for p in run_["checkpoints"] if direction in p["directions"]]
            if points or direction in ("a2b", "b2a"):
                yield f"{run_['variant']}: {text}", original, points


def table(results: dict) -> str:
    """The figures as text: one row per run, direction and checkpoint, then the floors of each video."""
    head = ("run", "min", "iters", "ident", "d(tgt)", "d(orig)", "pose", "track", "follow", "expr", "jitter", "sharp",
            "bg SSIM", "no face")
    rows = [head]
    for label, _, points in _series(results):
        for point, figs in points:
            rows.append((label, f"{point['train_seconds'] / 60:.1f}", str(point["iterations"]),
                         _fmt(figs["retrieval"], ".0%"),
                         _fmt(figs["distance_target"]), _fmt(figs["distance_source"]), _fmt(figs["pose"], ".2f"),
                         _fmt(figs.get("pose_tracking"), ".2f"), _fmt(figs.get("follow_yaw"), ".2f"),
                         _fmt(figs["expression"]), _fmt(figs["jitter"], ".4f"), _fmt(figs["sharpness"], ".2f"),
                         _fmt(figs["background"], ".4f"), _fmt(figs["no_face"], ".0%")))
    lines = _columns(rows)
    if results.get("floors"):
        floor_rows = [("floor: original vs", "copy", "pose", "track", "jitter", "sharp")]
        for video, kinds in results["floors"].items():
            for kind, figs in kinds.items():
                floor_rows.append((_short(Path(video)), kind, _fmt(figs["pose"], ".2f"),
                                   _fmt(figs.get("pose_tracking"), ".2f"), _fmt(figs["jitter"], ".4f"),
                                   _fmt(figs["sharpness"], ".2f")))
        lines += [""] + _columns(floor_rows)
    machine = results.get("machine", {})
    lines.append(f"machine: {machine.get('cpu')}, {machine.get('cores')} cores, load at start "
                 f"{machine.get('load_at_start')}; total {results.get('total_seconds', 0):.0f} s")
    return "\n".join(lines)


def _columns(rows) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return lines


def plot(results: dict) -> bytes:
    """PNG: one panel per figure against training minutes, a line per run and direction; the floors of the
    original video as dashed (re-encode) and dotted (half resolution) lines in the same colour."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(FIGURES)
    cols = 3
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.2 * rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series = list(_series(results))
    longest = max([p["train_seconds"] / 60.0 for _, _, points in series for p, _ in points] or [1.0])
    for index, name in enumerate(names):
        ax = axes[index // cols][index % cols]
        measured = False
        for i, (label, original, points) in enumerate(series):
            colour = colours[i % len(colours)]
            if points:
                xs = [p["train_seconds"] / 60.0 for p, _ in points]
                ys = [np.nan if f.get(name) is None else f[name] for _, f in points]
                ax.plot(xs, ys, marker="o", markersize=3, color=colour, label=label)
                measured = measured or bool(np.isfinite(ys).any())
            floors = results.get("floors", {}).get(original, {})
            if name in FLOORED:
                for kind, style in (("reencode", "--"), ("halfres", ":")):
                    if kind in floors and floors[kind].get(name) is not None:
                        ax.axhline(floors[kind][name], color=colour, linestyle=style, linewidth=0.9)
        if not measured:
            ax.text(0.5, 0.5, "not measured (no face found in the output)", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, color="grey")
        ax.set_xlim(0, longest * 1.05)
        ax.set_title(FIGURES[name][1], fontsize=9)
        ax.set_xlabel("training minutes", fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for index in range(len(names), rows * cols):
        axes[index // cols][index % cols].axis("off")
    if series:
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.suptitle("Swap quality against training time (dashed: original vs re-encode, dotted: vs half resolution)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * len(series) / 2, 1, 0.97))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def page(results: dict, png: bytes) -> str:
    """quality.html: the plot (embedded) and the table; one self-contained file."""
    data = base64.b64encode(png).decode()
    title = "Quality benchmark" + (f": {results['label']}" if results.get("label") else "")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif'><h1>{html.escape(title)}</h1>"
            f"<img alt='figures against training time' src='data:image/png;base64,{data}'>"
            f"<pre>{html.escape(table(results))}</pre></body></html>\n")
