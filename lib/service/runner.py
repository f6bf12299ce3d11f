"""The child process that runs one job: ``python -m lib.service.runner --data DIR --job ID --worker W --parent PID``.

A worker starts one per job, in a new process group, so that cancel can always end the job and everything it
started. The job's progress goes straight into the jobs table; its end (done with a result, failed with the
error's message, cancelled) too. SIGTERM sets the job's cancel flag (it stops at its next check, training saves
first). The child dies with its worker (PR_SET_PDEATHSIG), so a killed worker leaves no job running unseen.
"""
from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import sys
import time
import traceback

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the worker that started it dies (no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:     # the worker died before the request took effect
        os._exit(1)


class _ProgressWriter:
    """The job's progress callback: each snapshot into the jobs table (at most every ``interval`` seconds,
    except stage changes and stage ends, which are always written)."""

    def __init__(self, store, job_id: str, interval: float = 0.2):
        self.store, self.job_id, self.interval = store, job_id, interval
        self._last, self._stage = 0.0, None

    def __call__(self, progress) -> None:
        data = progress.to_dict() if hasattr(progress, "to_dict") else dict(progress)
        now = time.monotonic()
        forced = data.get("stage") != self._stage or (data.get("total") and data.get("done") == data.get("total"))
        if not forced and now - self._last < self.interval:
            return
        self._last, self._stage = now, data.get("stage")
        data["at"] = time.time()
        self.store.set_progress(self.job_id, data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.service.runner")
    parser.add_argument("--data", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--no-wal", action="store_true")
    args = parser.parse_args(argv)
    _die_with_parent(args.parent)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)

    from lib.errors import FaceswapError
    from lib.jobs import Cancel, JobCancelled
    from lib.service.queue import STOPPED_FOR_SHUTDOWN, load_target
    from lib.service.store import Store

    store = Store(args.data, wal=not args.no_wal)
    job = store.get(args.job)
    if job is None or job["state"] != "running" or job["worker"] != args.worker:
        return 0
    cancel = Cancel()
    signal.signal(signal.SIGTERM, lambda *_: cancel.set("asked to stop"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    payload = dict(job["payload"], _job={"id": job["id"], "uid": job["uid"], "attempt": job["attempts"],
                                         "dir": os.path.join(args.data, "jobs", job["id"])})
    print(f"--- job {job['id']} ({job['kind']}) attempt {job['attempts']} on {args.worker}", file=sys.stderr,
          flush=True)
    try:
        result = load_target(job["target"])(payload, _ProgressWriter(store, job["id"]), cancel)
        store.finish(job["id"], "done", result=result if isinstance(result, dict) else {"value": result},
                     worker=args.worker)
    except JobCancelled as err:
        latest = store.get(job["id"])
        if latest is not None and not latest["cancel"]:
            return STOPPED_FOR_SHUTDOWN      # the worker is stopping: it puts the job back in the queue
        store.finish(job["id"], "cancelled", error=str(err), worker=args.worker)
    except FaceswapError as err:
        print(f"ERROR {err}", file=sys.stderr, flush=True)
        store.finish(job["id"], "failed", error=str(err), worker=args.worker)
    except MemoryError:
        store.finish(job["id"], "failed", error="out of memory: try a smaller model or batch size", worker=args.worker)
    except Exception as err:  # noqa: BLE001 - the job's last line of defence: record it, keep the traceback in its log
        traceback.print_exc()
        store.finish(job["id"], "failed", error=f"unexpected error: {type(err).__name__}: {err}", worker=args.worker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
