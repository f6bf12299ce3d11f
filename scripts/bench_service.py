"""Benchmark the faceswap service end to end, as a client sees it, on loopback:

    python -m scripts.bench_service [--calls 20] [--frames 30] [--iterations 2] [--workers 1] [--json FILE]

Starts a real ``serve`` (SQLite queue, a tiny lightweight model) and a local web server for two short clips
cut from ../shared/data/faces (or --video-a/--video-b), then measures:

- idle memory: resident memory (RSS) of the whole ``serve`` process tree before any call;
- call to training start: one call, timed from the gRPC request to the job's first report from the train stage
  (the call's own answer time, which includes fetching both videos, is shown too);
- dashboard latency: for the same job, the time from a progress report being written by the job's process to
  its arrival in a dashboard's server-sent event stream (median and worst);
- N calls at once: N threads each make a call for a new uid at the same moment; all must be accepted, queued
  and finished (done) with none lost. Prints the time to accept them all and to finish them all.
"""
from __future__ import annotations

import argparse
import http.server
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from lib.machine import tree_rss_mb

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "faces"
CLIP_A = SHARED / "alexandria_ocasio_cortez" / "video_aoc_hdtf_WDA_000.mp4"
CLIP_B = SHARED / "katie_hill" / "video_katiehill_hdtf_WDA_000.mp4"
TINY = ["--trainer", "lightweight", "-O", "width=0.25", "-O", "dense=64", "--batch-size", "4"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cut(source: Path, out: Path, frames: int) -> Path:
    from lib.video import run_ffmpeg
    run_ffmpeg(["-i", source, "-frames:v", frames, "-vf", "scale=256:-2", "-c:v", "libx264", "-preset", "ultrafast",
                "-c:a", "aac", "-shortest", out], "cutting a clip")
    return out


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _wait(predicate, timeout: float, what: str, step: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def measure(calls: int = 20, frames: int = 30, iterations: int = 2, workers: int = 1, video_a=None, video_b=None,
            timeout: float = 3600.0) -> dict:
    from lib.service.client import Client
    work = Path(tempfile.mkdtemp(prefix="bench-service-"))
    site = work / "site"
    site.mkdir()
    _cut(Path(video_a or CLIP_A), site / "a.mp4", frames)
    _cut(Path(video_b or CLIP_B), site / "b.mp4", frames)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    threading.Thread(target=web.serve_forever, daemon=True).start()
    url = lambda name: f"http://127.0.0.1:{web.server_address[1]}/{name}"  # noqa: E731
    grpc_port, http_port = _free_port(), _free_port()
    log = open(work / "serve.log", "wb")
    serve = subprocess.Popen([sys.executable, str(ROOT / "faceswap.py"), "serve", "--data", str(work / "data"),
                              "--host", "127.0.0.1", "--grpc-port", str(grpc_port), "--http-port", str(http_port),
                              "--allow-private-urls", "--iterations", str(max(iterations, 60)), "--save-interval",
                              "20", "--workers", str(workers), "--max-jobs-per-uid", "2", *TINY],
                             cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    client = Client(f"127.0.0.1:{grpc_port}", timeout=600)
    figures: dict = {"calls": calls, "frames": frames, "iterations": iterations, "workers": workers}
    try:
        def healthy():
            if serve.poll() is not None:
                raise RuntimeError(f"serve exited: {(work / 'serve.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=1):
                    return True
            except OSError:
                return False
        started = time.monotonic()
        _wait(healthy, 120, "serve to start")
        figures["serve_start_s"] = round(time.monotonic() - started, 2)
        time.sleep(3)
        figures["idle_rss_mb"] = round(tree_rss_mb(serve.pid), 1)
        print(f"idle serve process tree: {figures['idle_rss_mb']} MB RSS (ready {figures['serve_start_s']} s "
              f"after start)", flush=True)

        # one call: time to training start, and the dashboard's latency while it trains
        t0 = time.monotonic()
        answer = client.faceswap(url("a.mp4"), url("b.mp4"), iterations=40)
        figures["call_answer_s"] = round(time.monotonic() - t0, 3)
        key = parse_qs(urlparse(answer.uid).query)["key"][0]
        delays: list[float] = []
        stop_sse = threading.Event()
        sse = threading.Thread(target=_follow_events, args=(f"http://127.0.0.1:{http_port}", answer.id, key, delays,
                                                            stop_sse), daemon=True)
        sse.start()
        _wait(lambda: client.status(answer.id, answer.token).stage == "train", timeout, "training to start", 0.05)
        figures["call_to_training_s"] = round(time.monotonic() - t0, 2)
        print(f"call -> training start: {figures['call_to_training_s']} s (the call itself answered in "
              f"{figures['call_answer_s']} s, videos fetched and checked)", flush=True)
        final = _wait(lambda: (s := client.status(answer.id, answer.token)).state in ("done", "failed", "cancelled")
                      and s, timeout, "the first job to end", 0.5)
        stop_sse.set()
        if final.state != "done":
            raise RuntimeError(f"the first job ended {final.state}: {final.error}")
        if delays:
            figures["sse_latency_ms"] = {"median": round(1000 * statistics.median(delays), 1),
                                         "max": round(1000 * max(delays), 1), "events": len(delays)}
            print(f"dashboard (SSE) latency: median {figures['sse_latency_ms']['median']} ms, max "
                  f"{figures['sse_latency_ms']['max']} ms over {len(delays)} updates", flush=True)

        # N calls at once
        barrier = threading.Barrier(calls)

        def one_call(_):
            barrier.wait()
            return client.faceswap(url("a.mp4"), url("b.mp4"), iterations=iterations)
        t0 = time.monotonic()
        with ThreadPoolExecutor(calls) as pool:
            answers = list(pool.map(one_call, range(calls)))
        figures["burst_accept_s"] = round(time.monotonic() - t0, 2)
        print(f"{calls} calls at once: all {len(answers)} accepted in {figures['burst_accept_s']} s", flush=True)

        def ended():
            states = [client.status(a.id, a.token).state for a in answers]
            return states if all(s in ("done", "failed", "cancelled") for s in states) else None
        states = _wait(ended, timeout, f"{calls} jobs to end", 2.0)
        figures["burst_done_s"] = round(time.monotonic() - t0, 1)
        figures["burst_states"] = {s: states.count(s) for s in sorted(set(states))}
        figures["burst_lost"] = calls - states.count("done")
        print(f"{calls} calls at once: {states.count('done')} done, {figures['burst_lost']} lost or failed, all "
              f"ended {figures['burst_done_s']} s after the calls ({figures['burst_done_s'] / calls:.1f} s per job "
              f"with {workers} worker(s))", flush=True)
        return figures
    finally:
        client.close()
        serve.terminate()
        try:
            serve.wait(30)
        except subprocess.TimeoutExpired:
            serve.kill()
        web.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def _follow_events(base: str, uid: str, key: str, delays: list, stop: threading.Event) -> None:
    """Read the dashboard's event stream; for each update carrying a new progress stamp, note how long after
    the job wrote it the event arrived (same machine, same clock)."""
    import httpx
    seen = None
    with httpx.stream("GET", f"{base}/api/events", params={"uid": uid, "key": key}, timeout=None) as reply:
        for line in reply.iter_lines():
            if stop.is_set():
                return
            if not line.startswith("data: "):
                continue
            run = json.loads(line[6:])["runs"][0]
            stamp = run.get("updated")
            if stamp and stamp != seen and run["state"] == "running":
                seen = stamp
                delays.append(time.time() - stamp)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_service", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="calls made at once (default 20)")
    parser.add_argument("--frames", type=int, default=30,
                        help="frames of each clip (default 30; training needs 25 faces a side)")
    parser.add_argument("--iterations", type=int, default=2, help="iterations of each of the N calls (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="workers inside serve (default 1)")
    parser.add_argument("--video-a", type=Path, help="clip A (default: a shared HDTF clip)")
    parser.add_argument("--video-b", type=Path, help="clip B (default: a shared HDTF clip)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = measure(args.calls, args.frames, args.iterations, args.workers, args.video_a, args.video_b)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures))
    return 0 if figures.get("burst_lost") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
