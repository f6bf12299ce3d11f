"""Durable jobs: huey carries job ids to workers, our jobs table (:mod:`lib.service.store`) holds the truth.

A *kind* of job is a function ``fn(payload, progress, cancel) -> result`` registered by name (``"swap-call"``
for the service, ``"command"`` for the GUI's forms). :meth:`JobQueue.submit` records a queued job and puts its
id on the huey queue (``SqliteHuey`` in the data folder, nothing else to start; ``RedisHuey`` with a Redis URL,
same code). A :class:`Worker` takes ids off the queue, one job at a time, and runs each job in a child process
in its own process group (:mod:`lib.service.runner`) while it sends heartbeats. So:

- cancel asks the job to stop (SIGTERM -> its ``cancel`` flag; training saves first) and, if it has not stopped
  after a grace period, ends its whole process group;
- a worker that dies takes its job's child with it; the job's heartbeats stop, and a reaper (every worker runs
  one, as does ``serve``) puts it back in the queue, where it resumes from its last save;
- jobs of one uid run one after the other (they share the uid's model), jobs of different uids in parallel.

Only job ids cross the queue, as JSON (no pickle), so a shared Redis never hands a worker code to run.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from huey import RedisHuey, SqliteHuey
from huey.registry import Message
from huey.serializer import Serializer

from lib.errors import FaceswapError
from lib.service.store import Store

log = logging.getLogger("faceswap.service")
ROOT = Path(__file__).resolve().parents[2]
QUEUE_FILE = "queue.db"
TASK_NAME = "faceswap.run_job"
JOBS_DIR = "jobs"
LOG_FILE = "log.txt"
STOPPED_FOR_SHUTDOWN = 75       # the child's exit status when it stopped because its worker is shutting down


class JsonSerializer(Serializer):
    """huey messages as JSON: our tasks carry only a job id, so nothing else is needed and nothing is unpickled."""

    def _serialize(self, data) -> bytes:
        if isinstance(data, Message):
            return json.dumps({"message": data._asdict()}).encode()
        return json.dumps({"value": data}).encode()

    def _deserialize(self, data: bytes):
        obj = json.loads(data)
        if "message" in obj:
            fields = obj["message"]
            fields["args"] = tuple(fields.get("args") or ())
            return Message(**{k: v for k, v in fields.items() if k in Message._fields})
        return obj["value"]


def target_of(fn: str | Callable) -> str:
    """``"module:function"`` for a registered kind: the child process imports it by this name."""
    if callable(fn):
        if "<" in fn.__qualname__:
            raise ValueError(f"{fn!r}: a job function must be a module-level function")
        target = f"{fn.__module__}:{fn.__qualname__}"
    else:
        target = str(fn)
    module, _, name = target.partition(":")
    if not all(part.isidentifier() for part in module.split(".")) or not name.isidentifier():
        raise ValueError(f"job target {target!r}: must be '<package.module>:<function>'")
    return target


def load_target(target: str) -> Callable:
    """The function a job runs, imported by name in the job's child process."""
    module, _, name = target_of(target).partition(":")
    return getattr(importlib.import_module(module), name)


class JobQueue:
    """The jobs table plus the huey queue in one data folder: submit, look up, cancel; workers run the jobs."""

    def __init__(self, data_dir, redis_url: str | None = None, stale_after: float = 30.0, max_attempts: int = 3,
                 cancel_grace: float = 5.0, heartbeat_every: float = 1.0):
        self.data_dir = Path(data_dir).resolve()
        self.redis_url = redis_url
        self.store = Store(self.data_dir, wal=redis_url is None)
        self.stale_after, self.max_attempts = stale_after, max_attempts
        self.cancel_grace, self.heartbeat_every = cancel_grace, heartbeat_every
        self._kinds: dict[str, str] = {}
        self._resent: dict[str, float] = {}
        serializer = JsonSerializer()
        if redis_url:
            self.huey = RedisHuey("faceswap", url=redis_url, results=False, serializer=serializer,
                                  blocking=True, read_timeout=1)
        else:
            self.huey = SqliteHuey("faceswap", filename=str(self.data_dir / QUEUE_FILE), results=False,
                                   serializer=serializer, strict_fifo=True, timeout=60)
        self._task = self.huey.task(name=TASK_NAME)(self._run_job)
        self._worker: Worker | None = None

    def check(self) -> None:
        """A clear error now when the Redis queue cannot be reached (rather than a worker retrying quietly)."""
        if self.redis_url:
            try:
                self.huey.storage.conn.ping()
            except Exception as err:  # noqa: BLE001 - redis-py raises several kinds; all mean the same here
                raise FaceswapError(f"cannot reach Redis at {self.redis_url}: {err}") from None

    # ---------------------------------------------------------------------------------------- the front end
    def register(self, kind: str, fn: str | Callable) -> None:
        """Make ``kind`` runnable: ``fn`` is a module-level function (or its ``"package.module:name"``) that the
        job's child process imports, so it must be importable from the repository root."""
        self._kinds[kind] = target_of(fn)

    def submit(self, kind: str, payload: dict, uid: str | None = None, title: str = "",
               max_per_uid: int | None = None, max_queued: int | None = None, job_id: str | None = None) -> str:
        """Queue a job of a registered kind; returns its id. Raises QuotaExceeded when a limit is reached."""
        if kind not in self._kinds:
            raise FaceswapError(f"unknown kind of job '{kind}' (registered: {', '.join(sorted(self._kinds))})")
        json.dumps(payload)  # a payload must be plain JSON: fail here, not in the worker
        job_id = self.store.add_job(kind, self._kinds[kind], payload, uid=uid, title=title,
                                    max_per_uid=max_per_uid, max_queued=max_queued, job_id=job_id)
        self.enqueue(job_id)
        return job_id

    def enqueue(self, job_id: str) -> None:
        """Put a queued job's id on the huey queue (extra copies are harmless: only one worker can claim it)."""
        self._task(job_id)

    def get(self, job_id: str) -> dict | None:
        return self.store.get(job_id)

    def jobs(self, uid: str | None = None, limit: int = 50, all_uids: bool = False) -> list[dict]:
        return self.store.jobs(uid, limit, all_uids)

    def cancel(self, job_id: str) -> str | None:
        """Stop a job: a queued one at once, a running one within seconds. Returns its state after the request."""
        return self.store.request_cancel(job_id)

    def job_dir(self, job_id: str) -> Path:
        return self.data_dir / JOBS_DIR / job_id

    def log(self, job_id: str, offset: int = 0, limit: int = 65536) -> tuple[str, int]:
        """The job's output (its child's stdout and stderr) from ``offset``: (text, next offset)."""
        path = self.job_dir(job_id) / LOG_FILE
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(limit)
        except FileNotFoundError:
            return "", offset
        return data.decode("utf-8", "replace"), offset + len(data)

    def recover(self) -> int:
        """After a restart: the jobs table is the truth, so the queue is rebuilt from its queued jobs.

        Jobs left running by a worker that died go back to the queue once their heartbeat is stale (reaper)."""
        self.huey.storage.flush_queue()
        ids = self.store.queued_ids()
        for job_id in ids:
            self.enqueue(job_id)
        return len(ids)

    def reap(self) -> list[str]:
        """Put back jobs whose worker stopped sending heartbeats; they are queued again at once.

        Also re-sends queued jobs whose id is no longer on the huey queue (a worker killed between taking an id
        and claiming its job), so no job waits forever."""
        ids = self.store.reap(self.stale_after, self.max_attempts)
        for job_id in ids:
            log.warning("job %s: its worker stopped responding; queued again (resumes from its last save)", job_id)
            self.enqueue(job_id)
        now = time.time()
        waiting = [job_id for job_id, updated in self.store.queued_since(now - self.stale_after)
                   if now - self._resent.get(job_id, 0) > self.stale_after]
        if waiting:
            on_queue = {task.args[0] for task in self.huey.pending() if task.args}
            for job_id in waiting:
                if job_id not in on_queue:
                    self._resent[job_id] = now
                    self.enqueue(job_id)
        return ids

    # ---------------------------------------------------------------------------------------- the worker side
    def start_worker(self, name: str | None = None, threads: int = 1) -> "Worker":
        """Run jobs from this queue in background threads of this process (``threads`` jobs at a time)."""
        if self._worker is None:
            self._worker = Worker(self, name, threads=threads)
            self._worker.start()
        return self._worker

    def _run_job(self, job_id: str) -> None:
        """The huey task: claim the job, run it in a child, follow it to the end."""
        worker = self._worker
        if worker is None:
            raise RuntimeError("job taken off the queue by a process that runs no worker")
        worker.run_one(job_id)


class Worker:
    """Takes job ids off the queue (a huey consumer, one thread per job at a time) and supervises each job's
    child process."""

    def __init__(self, queue: JobQueue, name: str | None = None, reap_every: float = 2.0, threads: int = 1):
        self.queue = queue
        self.store = queue.store
        self.id = name or f"{socket.gethostname()}:{os.getpid()}"
        self.reap_every, self.threads = reap_every, threads
        self._stopping = threading.Event()
        self._consumer = None
        self._reaper = threading.Thread(target=self._reap_loop, name="faceswap-reaper", daemon=True)

    def start(self) -> None:
        if not log.isEnabledFor(logging.DEBUG):       # huey logs every task at INFO; our own lines say more
            logging.getLogger("huey").setLevel(logging.WARNING)
        consumer = self.queue.huey.create_consumer(workers=self.threads, worker_type="thread", periodic=False,
                                                   initial_delay=0.1, backoff=1.15, max_delay=0.5,
                                                   check_worker_health=False)
        consumer._set_signal_handlers = lambda: None   # the process that hosts the worker owns its signals
        consumer.start()
        self._consumer = consumer
        self._reaper.start()
        log.info("worker %s: taking jobs from %s", self.id, self.queue.redis_url or self.queue.data_dir / QUEUE_FILE)

    def stop(self) -> None:
        """Stop taking jobs; a running job is asked to stop (it saves) and goes back to the queue."""
        self._stopping.set()
        if self._consumer is not None:
            self._consumer.stop_flag.set()
            for _, thread in self._consumer.worker_threads:
                thread.join(self.queue.cancel_grace + 10)
            self._consumer.scheduler.join(2)

    def _reap_loop(self) -> None:
        while not self._stopping.wait(self.reap_every):
            try:
                self.queue.reap()
            except Exception:  # noqa: BLE001 - a locked or briefly missing database must not end the reaper
                log.exception("reaper: could not check for stale jobs")

    def run_one(self, job_id: str) -> None:
        if self._stopping.is_set():
            return
        job = self.store.claim(job_id, self.id)
        if job is None:
            return      # taken by another worker, cancelled, finished, or waiting behind its uid's running job
        log.info("job %s (%s): started on %s", job_id, job["kind"], self.id)
        try:
            self._supervise(job)
        finally:
            if job["uid"]:
                following = self.store.next_queued(job["uid"])
                if following:
                    self.queue.enqueue(following)

    def _supervise(self, job: dict) -> None:
        job_id = job["id"]
        folder = self.queue.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "lib.service.runner", "--data", str(self.queue.data_dir), "--job", job_id,
               "--worker", self.id, "--parent", str(os.getpid())]
        if self.queue.redis_url:
            cmd.append("--no-wal")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        with open(folder / LOG_FILE, "ab") as out:     # the child works in this process's folder, as a command would
            child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        reason, asked = None, None
        while True:
            try:
                code = child.wait(timeout=self.queue.heartbeat_every)
                break
            except subprocess.TimeoutExpired:
                pass
            cancel = self.store.heartbeat(job_id, self.id)
            now = time.monotonic()
            if cancel is None and reason is None:      # the job is no longer ours (e.g. reaped while paused)
                reason, asked = "lost", now - self.queue.cancel_grace
            elif reason is None and (cancel or self._stopping.is_set()):
                reason, asked = ("cancel" if cancel else "shutdown"), now
                _signal(child.pid, signal.SIGTERM, group=False)   # cooperative: the job's cancel flag
            if asked is not None and now - asked >= self.queue.cancel_grace:
                _signal(child.pid, signal.SIGKILL, group=True)
        _signal(child.pid, signal.SIGKILL, group=True)   # whatever the job started and left behind
        after = self.store.get(job_id)
        if after is None or after["state"] != "running" or after["worker"] != self.id:
            log.info("job %s: %s", job_id, after["state"] if after else "gone")
            return
        if reason == "shutdown" or code == STOPPED_FOR_SHUTDOWN:
            if self.store.requeue(job_id, self.id):
                self.queue.enqueue(job_id)
                log.info("job %s: back in the queue (this worker is stopping)", job_id)
        elif reason == "cancel":
            self.store.finish(job_id, "cancelled", error="cancelled", worker=self.id)
        elif reason != "lost":
            self.store.finish(job_id, "failed", worker=self.id,
                              error=f"the job's process ended unexpectedly (exit status {code}); see its log")


def _signal(pid: int, signum: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
