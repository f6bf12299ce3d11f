"""``serve`` in one process tree: the gRPC service, the dashboard, a worker (or none), a reaper and retention.

Nothing else needs to run: the queue is SQLite in the data folder unless ``--redis`` is given. On start the
queue is rebuilt from the jobs table (jobs that were queued when serve stopped all run); jobs that were running
go back to the queue once their heartbeat is stale and resume from their last save. On SIGINT/SIGTERM the
worker asks its running job to stop (training saves) and puts it back in the queue.
"""
from __future__ import annotations

import logging
import signal
import socket
import threading
import time

from lib.errors import FaceswapError
from lib.service.access import Access, load_secret
from lib.service.pipeline import KIND, TARGET
from lib.service.queue import JobQueue
from lib.service.retention import sweep

log = logging.getLogger("faceswap.service")
RETENTION_EVERY = 3600.0


def make_queue(settings) -> JobQueue:
    """The queue as serve and every worker open it, with the service's kind of job registered."""
    queue = JobQueue(settings.data, redis_url=settings.redis, stale_after=settings.stale_after,
                     cancel_grace=settings.cancel_grace)
    queue.register(KIND, TARGET)
    return queue


class Service:
    """Everything ``serve`` runs; :meth:`run` blocks until SIGINT or SIGTERM."""

    def __init__(self, settings):
        from lib.service.grpc_server import start_grpc
        from lib.service.web import HttpServer, create_app
        self.settings = settings
        self.queue = make_queue(settings)
        self.access = Access(self.queue.store, load_secret(settings.data), settings.link_days * 86400)
        self._start_grpc = start_grpc
        self.http = HttpServer(create_app(self.queue, settings, "service", self.access), settings.host,
                               settings.http_port)
        self.grpc = None
        self._stop = threading.Event()

    def start(self) -> None:
        s = self.settings
        for port, flag in ((s.grpc_port, "--grpc-port"), (s.http_port, "--http-port")):
            _check_port(s.host, port, flag)
        self.queue.check()
        requeued = self.queue.recover()
        if requeued:
            log.info("%d job(s) still queued from before: queued again", requeued)
        self.grpc = self._start_grpc(self.queue, self.access, self.settings)
        self.http.start()
        if self.settings.workers:
            self.queue.start_worker(threads=self.settings.workers)

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stop.set())
        self.start()
        s = self.settings
        print(f"faceswap service: gRPC on {s.host}:{s.grpc_port}, dashboard on {s.base_url} "
              f"(data in {s.data}; queue {'Redis ' + s.redis if s.redis else 'SQLite'}; "
              f"{s.workers or 'no'} worker(s) here)", flush=True)
        next_sweep = 0.0
        while not self._stop.wait(2.0):
            try:
                self.queue.reap()
                if time.monotonic() >= next_sweep:
                    sweep(self.queue, s.retention_days * 86400)
                    next_sweep = time.monotonic() + RETENTION_EVERY
            except Exception:  # noqa: BLE001 - housekeeping must not stop the service
                log.exception("housekeeping failed")
        self.stop()

    def stop(self) -> None:
        print("faceswap service: stopping (a running job saves and goes back to the queue)", flush=True)
        if self.grpc is not None:
            self.grpc.stop(grace=2).wait(5)
        if self.queue._worker is not None:
            self.queue._worker.stop()
        self.http.stop()


def _check_port(host: str, port: int, flag: str) -> None:
    """One clear line when a port is taken (before gRPC and uvicorn print their own low-level errors)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise FaceswapError(f"cannot listen on {host}:{port}: {err.strerror} (is another serve running? pick "
                                f"another port with {flag})") from None
