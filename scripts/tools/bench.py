"""Measure speed: extract fps (720p), train EG/s and GFLOP/s per model and batch size, convert fps (720p).

One command over the three areas' benchmark functions (scripts/bench_extract.py, bench_train.py,
bench_convert.py). Every measurement runs in a child process of its own, so its peak RSS is that stage's
alone. Warm-up (model loading, graph building) is never timed; each figure is the median of --repeats runs.
Without --video a 720p clip of a built-in sample portrait is generated, so the figures need no download.
Prints a table and writes the figures with machine info (CPU, cores, GPU, library versions) to --json.

With --quality it measures how good a swap gets per hour of training instead (scripts/bench_quality.py).

Example:
  python tools.py bench --quick                         # end to end in a few minutes
  python tools.py bench --quality --checkpoints 5m 15m 30m 60m   # swap quality against training time
  python tools.py bench -t original lightweight -b 16 64 --video clip_720p.mp4 --json bench.json
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lib.cli import positive_int
from lib.errors import FaceswapError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
FORMAT = "faceswap-bench"
VERSION = 1
STAGES = ("extract", "train", "convert")
QUICK = {"models": ["lightweight", "original"], "batch_sizes": [16], "steps": 3, "repeats": 3, "frames": 150}
FULL = {"batch_sizes": [16, 64], "steps": 10, "repeats": 3, "frames": 500}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lib import registry
    parser.add_argument("--quick", action="store_true",
                        help=f"a short run (models {' '.join(QUICK['models'])}, batch {QUICK['batch_sizes'][0]}, "
                             f"{QUICK['steps']} steps, {QUICK['frames']} frames, {QUICK['repeats']} repeats): "
                             f"minutes, not hours")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES),
                        help="what to measure (default: all three)")
    parser.add_argument("--video", metavar="VIDEO",
                        help="video for extract and convert (default: a generated 720p clip of a sample portrait)")
    parser.add_argument("--frames", type=positive_int, metavar="N",
                        help=f"use the first N frames of the video (default: {FULL['frames']}, --quick "
                             f"{QUICK['frames']})")
    parser.add_argument("-t", "--models", nargs="+", metavar="MODEL",
                        help="model plugins to train (default: every registered model; --quick: "
                             f"{' '.join(QUICK['models'])})")
    parser.add_argument("-b", "--batch-sizes", nargs="+", type=positive_int, metavar="B",
                        help=f"training batch sizes (default: {' '.join(map(str, FULL['batch_sizes']))}; --quick: "
                             f"{QUICK['batch_sizes'][0]})")
    parser.add_argument("--steps", type=positive_int,
                        help=f"timed training steps per repeat (default: {FULL['steps']}; --quick {QUICK['steps']})")
    parser.add_argument("--repeats", type=positive_int,
                        help="runs of each measurement; the median is reported (default: 3)")
    parser.add_argument("--convert-model", default="original", metavar="MODEL",
                        help="model plugin of the (untrained) model that convert runs, when no --model-dir "
                             "(default: original)")
    parser.add_argument("-m", "--model-dir", metavar="DIR", help="a trained model folder for the convert benchmark")
    parser.add_argument("--convert-batch", type=positive_int, default=16, metavar="B",
                        help="convert's prediction batch size (default: 16)")
    parser.add_argument("--detector", default="dlib-hog", choices=registry.names("extract.detect"),
                        help="extract detector (default: dlib-hog)")
    parser.add_argument("--json", default="bench.json", metavar="FILE",
                        help="where to write the results (default: bench.json)")
    parser.add_argument("--quality", action="store_true",
                        help="measure swap quality against training time instead of speed (-t, -b, --frames and "
                             "--detector apply; results in --out, see the options below)")
    from scripts import bench_quality
    bench_quality.add_arguments(parser.add_argument_group("quality benchmark (--quality)"))


# ---------------------------------------------------------------------------------------------- children
def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _child(stage: str, params: dict) -> dict:
    """One measurement, in this (child) process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(ROOT))
    if stage == "info":
        return _machine_info()
    if stage == "train":
        from scripts import bench_train
        result = bench_train.measure(params["model"], params["batch_size"], params["steps"], params.get("policy"),
                                     params.get("settings"))
        if params.get("data"):
            result.update(bench_train.measure_data(params["data"], params["model"], params["batch_size"]))
        return result
    if stage == "convert":
        from scripts import bench_convert
        return bench_convert.measure(params["video"], params["model_dir"], None, params["batch_size"],
                                     work_dir=params.get("work_dir"))
    if stage == "model":
        from scripts import bench_convert
        bench_convert.untrained_model(params["model_dir"], params["model"])
        return {"model_dir": params["model_dir"]}
    raise ValueError(f"unknown stage {stage}")


def run_child(stage: str, params: dict, timeout: int = 3600) -> dict:
    """Run :func:`_child` in a fresh Python (``scripts/bench_train.py`` uses it too); its result plus the child's
    own peak RSS (VmHWM, MB)."""
    cmd = [sys.executable, "-m", "scripts.tools.bench", "--child", stage, json.dumps(params)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise FaceswapError(f"benchmark stage {stage} ran over {timeout} s: try --quick or fewer models") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-1:] or [f"exit {proc.returncode}"]
        raise FaceswapError(f"benchmark stage {stage} failed: {tail[0]}")
    return json.loads(lines[-1][len("RESULT "):])


def _machine_info() -> dict:
    """CPU, cores, memory, GPUs (as TensorFlow sees them) and library versions."""
    import cv2
    import dlib
    import keras
    import numpy
    import tensorflow as tf
    from lib.machine import cpu_name
    cpu = cpu_name()
    memory_gb = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    gpus = []
    for device in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(device)
        gpus.append(details.get("device_name", device.name))
    from lib.model.network import default_precision
    return {"cpu": cpu, "cores": os.cpu_count(),
            "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "memory_gb": memory_gb, "gpus": gpus, "os": platform.platform(),
            "default_precision": default_precision(),
            "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                         "keras": keras.__version__, "dlib": dlib.__version__, "opencv": cv2.__version__,
                         "numpy": numpy.__version__}}


# ---------------------------------------------------------------------------------------------- stages
def _prepare_video(video: str | None, frames: int, work: Path) -> tuple[Path, str]:
    """The 720p benchmark clip: the user's ``video`` cut to ``frames``, or a generated one."""
    from lib.video import probe, run_ffmpeg
    if video:
        video = Path(video)
        info = probe(video)
        if info.frame_count <= frames:
            return video, f"{video.name}"
        out = work / f"bench_{frames}{video.suffix or '.mp4'}"
        seconds = f"{frames / info.fps_float:.3f}"      # cut the sound too, or the file looks truncated
        run_ffmpeg(["-i", video, "-t", seconds, "-frames:v", frames, "-c:v", "libx264", "-crf", "18",
                    "-preset", "veryfast", "-c:a", "aac", out], f"cutting {video} to {frames} frames")
        return out, f"{video.name} (first {frames} frames)"
    from lib.sample import sample_clip
    out = work / "sample_720p.mp4"
    log.info("generating a %d-frame 720p sample clip", frames)
    sample_clip(out, who="astronaut", seconds=frames / 25, fps=25, size=(1280, 720))
    return out, "generated 720p sample clip (astronaut)"


def _bench_extract(video: Path, repeats: int, detector: str) -> dict:
    sys.path.insert(0, str(ROOT))
    from scripts import bench_extract
    result = bench_extract.measure(str(video), repeat=repeats, detector=detector)
    return {"fps": result["fps"], "runs": result["fps_runs"], "peak_rss_mb": result["peak_rss_mb"],
            "frames": result["frames"], "faces": result["faces"], "load_s": result.get("load_s"),
            "detector": detector}


def _bench_train(model: str, batch: int, steps: int, repeats: int) -> dict:
    runs = [run_child("train", {"model": model, "batch_size": batch, "steps": steps}) for _ in range(repeats)]
    egs = [r["egs"] for r in runs]
    gflops = [r["gflops"] for r in runs]
    return {"model": model, "batch_size": batch, "steps": steps, "precision": runs[0]["precision"],
            "params_m": runs[0]["params_m"], "egs": statistics.median(egs), "runs": egs,
            "gflops": statistics.median(gflops), "step_gflop": runs[0]["step_gflop"],
            "peak_rss_mb": max(max(r["peak_rss_mb"], r.get("_vm_hwm_mb", 0)) for r in runs)}


def _bench_convert(video: Path, model_dir: Path, batch: int, repeats: int, work: Path) -> dict:
    runs = [run_child("convert", {"video": str(video), "model_dir": str(model_dir), "batch_size": batch,
                               "work_dir": str(work)}) for _ in range(repeats)]
    fps = [r["fps"] for r in runs]
    return {"fps": statistics.median(fps), "runs": fps, "model": runs[0]["model"], "batch_size": batch,
            "frames": runs[0]["frames"], "faces": runs[0]["faces"], "size": runs[0]["size"],
            "peak_rss_mb": max(r["rss_peak_mb"] for r in runs),
            "rss_start_mb": runs[0]["rss_start_mb"], "rss_end_mb": runs[0]["rss_end_mb"]}


# ---------------------------------------------------------------------------------------------- output
def table(results: dict) -> str:
    """The figures as a plain-text table."""
    rows = [("stage", "what", "median", "runs", "peak RSS")]
    extract = results.get("extract")
    if extract:
        if "error" in extract:
            rows.append(("extract", results["video"]["label"][:38], "failed", extract["error"][:60], ""))
        else:
            rows.append(("extract", f"{results['video']['size']} {extract['frames']} frames {extract['detector']}",
                         f"{extract['fps']:.1f} fps", " ".join(f"{v:.1f}" for v in extract["runs"]),
                         f"{extract['peak_rss_mb']:.0f} MB"))
    for item in results.get("train", []):
        what = f"{item['model']} b{item['batch_size']}"
        if "error" in item:
            rows.append(("train", what, "failed", item["error"][:60], ""))
            continue
        rows.append(("train", f"{what} {item['precision']} {item['params_m']}M",
                     f"{item['egs']:.1f} EG/s {item['gflops']:.0f} GFLOP/s",
                     " ".join(f"{v:.1f}" for v in item["runs"]), f"{item['peak_rss_mb']:.0f} MB"))
    convert = results.get("convert")
    if convert:
        if "error" in convert:
            rows.append(("convert", results.get("convert_model", ""), "failed", convert["error"][:60], ""))
        else:
            rows.append(("convert", f"{convert['size']} {convert['frames']} frames {convert['model']} "
                                    f"b{convert['batch_size']}", f"{convert['fps']:.1f} fps",
                         " ".join(f"{v:.1f}" for v in convert["runs"]), f"{convert['peak_rss_mb']:.0f} MB"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    machine = results["machine"]
    gpu = ", ".join(machine["gpus"]) or "no GPU"
    lines.append(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, {gpu}; "
                 f"python {machine['versions']['python']}, TF {machine['versions']['tensorflow']}, keras "
                 f"{machine['versions']['keras']}, dlib {machine['versions']['dlib']}, OpenCV "
                 f"{machine['versions']['opencv']}")
    lines.append(f"median of {results['settings']['repeats']} runs each, warm-up excluded; "
                 f"total {results['total_s']:.0f} s")
    return "\n".join(lines)


def _settings(args) -> dict:
    base = QUICK if args.quick else FULL
    return {"quick": args.quick, "stages": list(args.stages),
            "frames": args.frames or base["frames"], "steps": args.steps or base["steps"],
            "repeats": args.repeats or base["repeats"],
            "batch_sizes": args.batch_sizes or base["batch_sizes"],
            "models": args.models or base.get("models"), "convert_model": args.convert_model,
            "convert_batch": args.convert_batch, "detector": args.detector}


def run(args) -> int:
    if args.quality:
        from scripts import bench_quality
        return bench_quality.run(args)
    from lib import registry
    from lib.fileio import atomic_write_bytes
    started = time.perf_counter()
    settings = _settings(args)
    models = settings["models"] or registry.names("train.model")
    settings["models"] = models
    for model in models + ([args.convert_model] if "convert" in args.stages and not args.model_dir else []):
        registry.get("train.model", model)
    json_path = Path(args.json)
    if not json_path.parent.is_dir():
        raise FaceswapError(f"cannot write {json_path}: folder {json_path.parent} does not exist")
    if args.model_dir and not Path(args.model_dir).is_dir():
        raise FaceswapError(f"model folder not found: {args.model_dir}")

    results: dict = {"format": FORMAT, "version": VERSION, "settings": settings}
    log.info("reading machine info")
    results["machine"] = run_child("info", {})
    results["machine"].pop("_vm_hwm_mb", None)
    failed = False
    with tempfile.TemporaryDirectory(prefix="faceswap_bench_") as tmp:
        work = Path(tmp)
        if "extract" in args.stages or "convert" in args.stages:
            from lib.video import probe
            video, label = _prepare_video(args.video, settings["frames"], work)
            info = probe(video)
            results["video"] = {"label": label, "size": f"{info.width}x{info.height}", "frames": info.frame_count}
        if "extract" in args.stages:
            log.info("extract: %d runs on %s", settings["repeats"], label)
            try:
                results["extract"] = _bench_extract(video, settings["repeats"], args.detector)
            except (FaceswapError, RuntimeError) as err:
                results["extract"], failed = {"error": str(err)}, True
        if "train" in args.stages:
            results["train"] = []
            for model in models:
                for batch in settings["batch_sizes"]:
                    log.info("train: %s batch %d, %d runs of %d steps", model, batch, settings["repeats"],
                             settings["steps"])
                    try:
                        results["train"].append(_bench_train(model, batch, settings["steps"], settings["repeats"]))
                    except FaceswapError as err:
                        results["train"].append({"model": model, "batch_size": batch, "error": str(err)})
                        failed = True
        if "convert" in args.stages:
            try:
                model_dir = Path(args.model_dir) if args.model_dir else work / "convert_model"
                if not args.model_dir:
                    log.info("convert: building an untrained '%s' model", args.convert_model)
                    run_child("model", {"model_dir": str(model_dir), "model": args.convert_model})
                log.info("convert: %d runs on %s", settings["repeats"], label)
                results["convert"] = _bench_convert(video, model_dir, args.convert_batch, settings["repeats"], work)
            except FaceswapError as err:
                results["convert"], failed = {"error": str(err)}, True
            results["convert_model"] = args.model_dir or args.convert_model
    results["total_s"] = round(time.perf_counter() - started, 1)
    atomic_write_bytes(json_path, json.dumps(results, indent=1).encode())
    print(table(results))
    log.info("results written to %s", json_path)
    if failed:
        raise FaceswapError(f"some benchmark stages failed (see the table and {json_path})")
    return 0


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--child":
    _result = _child(sys.argv[2], json.loads(sys.argv[3]))
    _result["_vm_hwm_mb"] = round(_vm_hwm_mb(), 1)
    print("RESULT " + json.dumps(_result), flush=True)
