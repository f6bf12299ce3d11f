"""Benchmark convert: frames per second on a 720p video and memory, through the real convert pipeline.

    python -m scripts.bench_convert [--video V.mp4] [--model-dir DIR] [--frames N] [--batch-size B] [--detail D]

Without ``--video`` it uses the shared 720p Obama clip when present, else it makes a 720p moving clip of a
sample portrait (lib.sample). Without ``--model-dir`` it builds an untrained 'original' model (speed does not
depend on the weights' values). The alignments come from a real extract run before timing. Timing covers
decode -> predict -> blend -> encode of every frame after the model's warm-up; memory is this process's RSS
(extraction and model building run in child processes) sampled over the convert call, model load included.
Flat memory in video length shows as the same peak for --frames 200 and the full clip.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_720P = ROOT.parent / "shared" / "data" / "faces" / "barack_obama" / "video_obama_address_20s.mp4"


def _rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _RssSampler(threading.Thread):
    def __init__(self, every: float = 0.05):
        super().__init__(daemon=True)
        self.every, self.peak, self.samples = every, 0.0, []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            rss = _rss_mb()
            self.samples.append(rss)
            self.peak = max(self.peak, rss)
            time.sleep(self.every)


def untrained_model(model_dir, plugin: str = "original", settings: dict | None = None) -> Path:
    """Save a freshly initialised ``plugin`` model to ``model_dir`` (for speed measurements only)."""
    from lib.model import store
    from lib.model.network import build_network, default_precision
    net = build_network(plugin, settings or {}, default_precision())
    meta = {"plugin": plugin, "settings": net.settings, "iterations": 0, "input_size": net.input_size,
            "output_size": net.output_size, "centering": getattr(net, "centering", "face"),
            "learns_mask": bool(net.learns_mask)}
    store.save(model_dir, meta, [w.numpy() for w in net.weights], keep_backup=False)
    return Path(model_dir)


def _sample_720p(folder: Path, seconds: int) -> Path:
    from lib.sample import sample_clip
    path = folder / "sample_720p.mp4"
    sample_clip(path, who="astronaut", seconds=seconds, fps=25, size=(1280, 720))
    return path


def _trim(video: Path, frames: int, folder: Path) -> Path:
    from lib.video import probe, run_ffmpeg
    out = folder / f"bench_{frames}{video.suffix}"
    seconds = frames / float(probe(video).fps)
    run_ffmpeg(["-i", video, "-t", f"{seconds:.4f}", "-c:v", "libx264", "-crf", "18", "-preset", "veryfast",
                "-c:a", "aac", out], f"trimming {video}")
    return out


def _in_child(fn, *args):
    """``fn(*args)`` in a fresh Python process (spawned), so its memory is not counted in this one's RSS."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_quiet, fn, *args).result()


def _quiet(fn, *args):
    """Run ``fn`` with stderr silenced (TensorFlow's start-up lines); its errors come back as exceptions."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    return fn(*args)


def _extract(video: str, faces: str, alignments: str) -> int:
    from lib.jobs.extract import ExtractParams, run
    return run(ExtractParams(input=[video], output=faces, alignments=alignments))["frames"]


def measure(video=None, model_dir=None, frames: int | None = None, batch_size: int = 16, writer: str = "ffmpeg",
            options: dict | None = None, work_dir=None) -> dict:
    """Convert ``video`` once and return {fps, frames, seconds, size, rss_start_mb, rss_peak_mb, rss_end_mb ...}.

    ``options`` are more convert options by their ConvertParams names (``{"mask_type": "components"}``).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from lib.jobs.convert import ConvertParams, run
    from lib.video import probe
    tmp = tempfile.TemporaryDirectory(prefix="bench_convert_", dir=work_dir)
    folder = Path(tmp.name)
    try:
        if video is None:
            video = SHARED_720P if SHARED_720P.exists() else _sample_720p(folder, 8)
        video = Path(video)
        if frames:
            video = _trim(video, frames, folder)
        info = probe(video)
        alignments = folder / "bench_alignments.json"
        # Extract and build the model in child processes, so this process's memory is convert's alone.
        _in_child(_extract, str(video), str(folder / "faces"), str(alignments))
        if model_dir is None:
            model_dir = _in_child(untrained_model, str(folder / "model"))
        out = folder / ("out.gif" if writer == "gif" else "out_frames" if writer == "images" else "out.mp4")
        params = ConvertParams(input=str(video), output=str(out), model_dir=str(model_dir),
                               alignments=str(alignments), writer=writer, batch_size=batch_size, **(options or {}))
        sampler = _RssSampler()
        rss_start = _rss_mb()
        sampler.start()
        stats = run(params)
        sampler.stop.set()
        sampler.join()
        samples = sampler.samples or [rss_start]
        return {"what": "convert", "video": str(video), "size": f"{info.width}x{info.height}",
                "frames": stats["frames"], "faces": stats["faces"], "seconds": round(stats["seconds"], 2),
                "fps": round(stats["fps"], 1), "stage_busy_s": stats["busy"], "model": stats["model"],
                "batch_size": batch_size, "writer": writer, "detail": params.detail,
                "rss_start_mb": round(rss_start), "rss_peak_mb": round(max(sampler.peak, rss_start)),
                "rss_10pct_mb": round(samples[len(samples) // 10]), "rss_mid_mb": round(samples[len(samples) // 2]),
                "rss_end_mb": round(samples[-1]),
                "cpus": os.cpu_count()}
    finally:
        tmp.cleanup()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", help="video to convert (default: shared 720p clip or a generated one)")
    parser.add_argument("--model-dir", help="trained model (default: an untrained 'original')")
    parser.add_argument("--frames", type=int, help="use only the first N frames")
    parser.add_argument("-b", "--batch-size", type=int, default=16)
    parser.add_argument("-w", "--writer", default="ffmpeg")
    parser.add_argument("--detail", type=float, help="convert's --detail (default: convert's own)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    options = {} if args.detail is None else {"detail": args.detail}
    result = measure(args.video, args.model_dir, args.frames, args.batch_size, args.writer, options)
    print(f"convert {result['size']} {result['model']} b{result['batch_size']} {result['writer']} "
          f"detail {result['detail']}: "
          f"{result['fps']} fps ({result['frames']} frames, {result['faces']} faces in {result['seconds']} s); "
          f"RSS peak {result['rss_peak_mb']} MB (before the model loads {result['rss_start_mb']} MB; over the run "
          f"at 10% {result['rss_10pct_mb']}, 50% {result['rss_mid_mb']}, end {result['rss_end_mb']} MB); "
          f"{result['cpus']} CPUs")
    print("seconds each stage was busy (read = decode + faces + crops; write = encode pipe):",
          ", ".join(f"{k} {v}" for k, v in result["stage_busy_s"].items()))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
