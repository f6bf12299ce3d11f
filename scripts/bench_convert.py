"""Benchmark convert: frames per second on a 720p video and memory, through the real convert pipeline.

    python -m scripts.bench_convert [--video V.mp4] [--model-dir DIR] [--frames N] [--batch-size B]

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


def measure(video=None, model_dir=None, frames: int | None = None, batch_size: int = 16, writer: str = "ffmpeg",
            extra_args: tuple = (), work_dir=None) -> dict:
    """Convert ``video`` once and return {fps, frames, seconds, size, rss_start_mb, rss_peak_mb, rss_end_mb ...}."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from scripts import convert as convert_cmd
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
        # Extract in a child process, so this process's memory is convert's alone.
        import subprocess
        proc = subprocess.run([sys.executable, str(ROOT / "faceswap.py"), "-L", "warning", "extract", "-i", str(video),
                               "-o", str(folder / "faces"), "-p", str(alignments)], capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"extract failed on the benchmark video: {proc.stderr.strip()[-300:]}")
        if model_dir is None:                      # built in a child process too, for the same reason
            model_dir = folder / "model"
            code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from scripts.bench_convert import untrained_model; "
                    f"untrained_model({str(model_dir)!r})")
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
            if proc.returncode:
                raise RuntimeError(f"could not build the benchmark model: {proc.stderr.strip()[-300:]}")
        parser = argparse.ArgumentParser()
        convert_cmd.add_arguments(parser)
        out = folder / ("out.gif" if writer == "gif" else "out_frames" if writer == "images" else "out.mp4")
        args = parser.parse_args(["-i", str(video), "-o", str(out), "-m", str(model_dir), "-p", str(alignments),
                                  "-w", writer, "-b", str(batch_size), *extra_args])
        sampler = _RssSampler()
        rss_start = _rss_mb()
        sampler.start()
        stats = convert_cmd.convert(args, progress_bar=False)
        sampler.stop.set()
        sampler.join()
        samples = sampler.samples or [rss_start]
        return {"what": "convert", "video": str(video), "size": f"{info.width}x{info.height}",
                "frames": stats["frames"], "faces": stats["faces"], "seconds": round(stats["seconds"], 2),
                "fps": round(stats["fps"], 1), "stage_busy_s": stats["busy"], "model": stats["model"],
                "batch_size": batch_size, "writer": writer,
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
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    result = measure(args.video, args.model_dir, args.frames, args.batch_size, args.writer)
    print(f"convert {result['size']} {result['model']} b{result['batch_size']} {result['writer']}: "
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
