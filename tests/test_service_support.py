"""Helpers for the service tests (no tests here): a loopback web site serving clips and hostile answers, short
clips cut from ../shared/data/faces, a `serve` subprocess, and a poller."""
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from lib.machine import tree_rss_mb  # noqa: F401 - re-exported for the service tests

ROOT = Path(__file__).resolve().parents[1]
TINY_MODEL = ["--trainer", "lightweight", "-O", "width=0.25", "-O", "dense=64", "--batch-size", "4"]
CLIPS = {"a": "alexandria_ocasio_cortez/video_aoc_hdtf_WDA_000.mp4",
         "b": "katie_hill/video_katiehill_hdtf_WDA_000.mp4",
         "c": "jamie_oliver/video_oliver_voxceleb_00086.mp4"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=60.0, step=0.2, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def cut_clip(source: Path, out: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` (with its audio), small and quick to work on."""
    from lib.video import run_ffmpeg
    run_ffmpeg(["-i", source, "-frames:v", frames, "-vf", "scale=256:-2", "-c:v", "libx264", "-preset", "ultrafast",
                "-c:a", "aac", "-shortest", out], "cutting a test clip")
    return out


class Site:
    """A web server on 127.0.0.1: files from a folder, plus routes the test adds (path -> handler(request)).
    Every request path is logged in ``hits`` (to show that nothing else was fetched)."""

    def __init__(self, folder: Path):
        self.folder, self.routes, self.hits = Path(folder), {}, []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                site.hits.append(self.path)
                route = site.routes.get(self.path.split("?")[0])
                if route is not None:
                    return route(self)
                path = site.folder / self.path.lstrip("/").split("?")[0]
                if not path.is_file() or ".." in self.path:
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Serve:
    """``faceswap.py serve`` as a subprocess on loopback ports, ready when its dashboard answers."""

    def __init__(self, data: Path, *args, log_path: Path | None = None, grpc_port=None, http_port=None):
        self.data = Path(data)
        self.grpc_port, self.http_port = grpc_port or free_port(), http_port or free_port()
        self.args = [sys.executable, str(ROOT / "faceswap.py"), "serve", "--data", str(data), "--host", "127.0.0.1",
                     "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port), *map(str, args)]
        self.log_path = log_path or self.data.with_name(self.data.name + "-serve.log")
        self.proc = None

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout=90.0) -> "Serve":
        import urllib.request
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited ({self.proc.returncode}):\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.http}/healthz", timeout=2) as reply:
                    return reply.status == 200
            except OSError:
                return False
        wait_for(ready, timeout, what="serve to start")
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def stop(self, sig=signal.SIGTERM, timeout=30.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def worker(data: Path, *args, log_path: Path) -> subprocess.Popen:
    """``faceswap.py worker`` as a subprocess."""
    out = open(log_path, "ab")
    return subprocess.Popen([sys.executable, str(ROOT / "faceswap.py"), "worker", "--data", str(data),
                             *map(str, args)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def runner_pids(job_id: str) -> list[int]:
    """Live job child processes of ``job_id`` (lib.service.runner)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().split()[2]
        except OSError:
            continue
        if b"lib.service.runner" in cmd and job_id.encode() in cmd and state != "Z":
            pids.append(int(proc.name))
    return pids


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in Path(folder).rglob("*")} if Path(folder).exists() else set()


__all__ = ["CLIPS", "ROOT", "Serve", "Site", "TINY_MODEL", "cut_clip", "files_under", "free_port", "runner_pids",
           "tree_rss_mb", "wait_for", "worker", "os"]
