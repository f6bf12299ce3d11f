"""Benchmark extraction: frames per second and peak memory of `faceswap.py extract` on one video.

Usage:  python scripts/bench_extract.py [VIDEO ...] [--detector dlib-hog] [--repeat 3] [--json out.json]
Default video: the 720p Obama clip of ../shared/data/faces, else a generated 720p sample clip.

Each run is a fresh process (so peak RSS is that run's own), does the whole job (decode, detect/track,
align, identity, masks, write face PNGs and the alignments file) into a temp folder, and reports:
fps over the job (model loading excluded), the peak RSS of the Python process (VmHWM), and the RSS after a
quarter and after all of the frames (equal when memory is flat in video length). ``measure(video, **opts)``
is the entry point other tools call.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_720P = ROOT.parent / "shared" / "data" / "faces" / "barack_obama" / "video_obama_address_20s.mp4"


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _child(video: str, options: dict) -> dict:
    """Run one extraction in this process and return its figures."""
    sys.path.insert(0, str(ROOT))
    from lib.jobs.extract import ExtractParams, run

    with tempfile.TemporaryDirectory() as work:
        params = ExtractParams(input=[video], output=str(Path(work) / "faces"),
                               alignments=str(Path(work) / "alignments.json"), **options)
        samples, marks = [], {}
        stop = threading.Event()

        def sample():
            while not stop.wait(0.1):
                samples.append(_status_kb("VmRSS"))

        def progress(update):          # the first report comes when the models are loaded
            marks.setdefault("loaded", time.perf_counter())
        watcher = threading.Thread(target=sample, daemon=True)
        start = time.perf_counter()
        watcher.start()
        result = run(params, progress=progress)
        done = time.perf_counter()
        stop.set()
        watcher.join()
    loaded = marks.get("loaded", start)
    quarter = samples[len(samples) // 4] if samples else 0
    return {"video": video, "options": options, "frames": result["frames"], "faces": result["written"],
            "load_s": round(loaded - start, 2), "extract_s": round(done - loaded, 2),
            "fps": round(result["frames"] / (done - loaded), 1), "peak_rss_mb": round(_status_kb("VmHWM") / 1024, 1),
            "rss_at_quarter_mb": round(quarter / 1024, 1),
            "rss_at_end_mb": round((samples[-1] if samples else 0) / 1024, 1)}


def measure(video, repeat: int = 1, **options) -> dict:
    """Extract ``video`` ``repeat`` times in fresh processes; median fps and the highest peak RSS.

    ``options`` are extract options by their long name (``detector="dlib-cnn"``, ``every_n=2`` ...).
    """
    runs = []
    for _ in range(max(1, repeat)):
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(video),
                               json.dumps(options)], capture_output=True, text=True, cwd=ROOT)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"benchmark run failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
        runs.append(json.loads(lines[-1]))
    best = dict(runs[0])
    best["fps"] = statistics.median(r["fps"] for r in runs)
    best["fps_runs"] = [r["fps"] for r in runs]
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    best["cpus"] = os.cpu_count()
    return best


def _default_video() -> Path:
    if SHARED_720P.exists():
        return SHARED_720P
    from lib.sample import sample_clip
    target = Path(tempfile.gettempdir()) / "faceswap_bench_720p.mp4"
    if not target.exists():
        sample_clip(target, "astronaut", seconds=10, fps=30, size=(1280, 720))
    return target


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], json.loads(sys.argv[3]))))
        return 0
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", help="videos to extract (default: the 720p Obama clip)")
    parser.add_argument("--detector", default="dlib-hog")
    parser.add_argument("--detect-every", type=int, default=8)
    parser.add_argument("--identity", default="auto", choices=("auto", "off"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    for video in args.videos or [_default_video()]:
        result = measure(video, args.repeat, detector=args.detector, detect_every=args.detect_every,
                         identity=args.identity)
        results.append(result)
        print(f"{Path(video).name}: {result['frames']} frames, {result['fps']} fps (median of {args.repeat}: "
              f"{result['fps_runs']}), peak RSS {result['peak_rss_mb']} MB, RSS at 1/4 {result['rss_at_quarter_mb']} "
              f"MB, at end {result['rss_at_end_mb']} MB, model load {result['load_s']} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
