"""Run faceswap service jobs on this machine: take them from the service's queue, one at a time per GPU.

Start one per GPU (or machine) with the same --redis URL and --data folder as serve; the data folder must be
the same folder on every machine (a shared mount), since the uids' models and results live there. Without
--redis the worker takes jobs from the SQLite queue in --data (workers on the same machine as serve). Example:

    python faceswap.py worker --redis redis://queue-host:6379/0 --data /mnt/faceswap-data
"""
from __future__ import annotations

import signal
import threading
from pathlib import Path

from lib.cli import positive_int


def add_arguments(parser) -> None:
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="the service's data folder")
    parser.add_argument("--redis", metavar="URL", help="the service's Redis queue (default: SQLite in --data)")
    parser.add_argument("--name", help="this worker's name in the jobs table (default: <host>:<pid>)")
    parser.add_argument("--threads", type=positive_int, default=1, help="jobs at once (default: 1)")
    parser.add_argument("--stale-after", type=float, default=30.0,
                        help="seconds without a heartbeat before another worker's job is queued again (default: 30)")
    parser.add_argument("--cancel-grace", type=float, default=5.0,
                        help="seconds a cancelled job gets to stop before its processes are ended (default: 5)")


def run(args) -> int:
    from lib.errors import FaceswapError
    from lib.service.server import make_queue
    from lib.service.settings import ServiceSettings
    if not args.data.is_dir():
        raise FaceswapError(f"data folder {args.data} not found: give the folder serve uses (--data)")
    if args.stale_after <= 0 or args.cancel_grace <= 0:
        raise FaceswapError("--stale-after and --cancel-grace must be more than 0")
    settings = ServiceSettings(data=args.data, redis=args.redis, stale_after=args.stale_after,
                               cancel_grace=args.cancel_grace)
    queue = make_queue(settings)
    queue.check()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    worker = queue.start_worker(args.name, threads=args.threads)
    print(f"faceswap worker {worker.id}: taking jobs from {args.redis or args.data} (Ctrl-C stops; a running "
          f"job saves and goes back to the queue)", flush=True)
    while not stop.wait(1.0):
        pass
    worker.stop()
    return 0
