"""Run the faceswap service: the gRPC faceswap call, the live web dashboard and a worker, in one process tree.

A call gives two video URLs (and optionally a model URL); the answer is a dashboard link and, for a new uid,
its secret token. Calling again with the uid and token trains the same model further. Nothing else needs to
run: jobs are queued in SQLite in --data (or in Redis with --redis, for workers on other machines). Example:

    python faceswap.py serve --data service-data --public-url https://faceswap.example.org
"""
from __future__ import annotations

from pathlib import Path

from lib import registry
from lib.cli import positive_int


def add_arguments(parser) -> None:
    where = parser.add_argument_group("where")
    where.add_argument("--data", type=Path, default=Path("service-data"), metavar="DIR",
                       help="folder for all the service's state: jobs, queue, models, results (default: service-data)")
    where.add_argument("--host", default="0.0.0.0", help="address to listen on (default: 0.0.0.0, all)")
    where.add_argument("--grpc-port", type=int, default=7003, help="gRPC port (default: 7003)")
    where.add_argument("--http-port", type=int, default=7006, help="dashboard port (default: 7006)")
    where.add_argument("--public-url", metavar="URL",
                       help="base of the dashboard links given to callers (default: http://<this host>:<http port>)")
    where.add_argument("--redis", metavar="URL",
                       help="queue jobs in Redis (redis://host:6379/0) so workers on other machines take them "
                            "(default: SQLite in --data, nothing else to run)")
    where.add_argument("--workers", type=int, default=1,
                       help="jobs run at once inside serve (default: 1; 0: only separate 'worker' processes)")
    work = parser.add_argument_group("what each call does")
    work.add_argument("--iterations", type=positive_int, default=3000,
                      help="iterations each call trains (default: 3000; also the most a call may ask for)")
    work.add_argument("--trainer", default="lightweight", choices=registry.names("train.model"),
                      help="model plugin for new uids (default: lightweight, swap's default: the fastest to a "
                           "good swap on a CPU)")
    work.add_argument("-O", "--option", action="append", default=[], metavar="KEY=VALUE",
                      help="model setting for new uids, e.g. -O width=0.5 (see train)")
    work.add_argument("--batch-size", type=positive_int, default=16, help="training batch size (default: 16)")
    work.add_argument("--save-interval", type=positive_int, default=250,
                      help="save the model every N iterations; a job resumed after a crash starts from there "
                           "(default: 250)")
    limits = parser.add_argument_group("limits")
    limits.add_argument("--allow-private-urls", action="store_true",
                        help="FOR LOCAL TESTING ONLY: also fetch URLs on loopback and private networks")
    limits.add_argument("--max-video-mb", type=float, default=20.0, help="largest video fetched (default: 20 MB)")
    limits.add_argument("--max-model-mb", type=float, default=320.0,
                        help="largest model archive fetched (default: 320 MB)")
    limits.add_argument("--fetch-deadline", type=float, default=300.0,
                        help="seconds one download may take in all (default: 300)")
    limits.add_argument("--max-jobs-per-uid", type=positive_int, default=2,
                        help="jobs queued or running per uid (default: 2)")
    limits.add_argument("--max-queued", type=positive_int, default=200, help="jobs waiting in all (default: 200)")
    limits.add_argument("--retention-days", type=float, default=7.0,
                        help="delete results, and uids unused, after this many days (default: 7)")
    limits.add_argument("--link-days", type=float, default=7.0,
                        help="dashboard links stop working after this many days (default: 7)")
    limits.add_argument("--stale-after", type=float, default=30.0,
                        help="seconds without a heartbeat before a job is taken from its worker and queued again "
                             "(default: 30)")
    limits.add_argument("--cancel-grace", type=float, default=5.0,
                        help="seconds a cancelled job gets to stop before its processes are ended (default: 5)")


def run(args) -> int:
    from lib.jobs import params_from_args
    from lib.service.server import Service
    from lib.service.settings import ServiceSettings, check
    Service(check(params_from_args(ServiceSettings, args))).run()
    return 0
