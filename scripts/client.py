"""Call a faceswap service: send two video URLs, get the dashboard link (and, for a new uid, its token).

Pass --uid and --token of an earlier call to train the same model further; --wait follows the job to its end.
Example:

    python faceswap.py client --video-a https://example.org/a.mp4 --video-b https://example.org/b.mp4 --wait
"""
from __future__ import annotations

import time

from lib.cli import non_negative_int


def add_arguments(parser) -> None:
    parser.add_argument("--video-a", metavar="URL", help="video whose face is replaced")
    parser.add_argument("--video-b", metavar="URL", help="video of the face to put in")
    parser.add_argument("--model-url", metavar="URL", default="", help="model archive to start the training from")
    parser.add_argument("--uid", default="", help="continue this uid's model (needs --token)")
    parser.add_argument("--token", default="", help="the uid's secret token")
    parser.add_argument("--iterations", type=non_negative_int, default=0,
                        help="iterations to train (default 0: the service's setting)")
    parser.add_argument("--server", default="127.0.0.1:7003", metavar="HOST:PORT",
                        help="the service's gRPC address (default: 127.0.0.1:7003)")
    parser.add_argument("--status", action="store_true", help="show the status of the uid's latest job instead")
    parser.add_argument("--cancel", action="store_true", help="cancel the uid's latest job instead")
    parser.add_argument("--wait", action="store_true", help="follow the job until it ends; exit status 1 if it failed")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the service's answer")


def run(args) -> int:
    from lib.errors import FaceswapError
    from lib.service.client import Client
    client = Client(args.server, timeout=args.timeout)
    if args.status or args.cancel:
        if not args.uid or not args.token:
            raise FaceswapError("--status and --cancel need --uid and --token")
        status = (client.cancel if args.cancel else client.status)(args.uid, args.token)
        print(client.describe(status), flush=True)
        return 0
    if not args.video_a or not args.video_b:
        raise FaceswapError("give --video-a and --video-b (URLs), or --status/--cancel with --uid and --token")
    answer = client.faceswap(args.video_a, args.video_b, uid=args.uid, token=args.token, model_url=args.model_url,
                             iterations=args.iterations)
    print(f"dashboard: {answer.uid}")
    print(f"uid:       {answer.id}")
    if answer.token:
        print(f"token:     {answer.token}   (keep it: it is needed to continue this uid, and is shown only once)")
    print(f"job:       {answer.job}", flush=True)
    if not args.wait:
        return 0
    token = answer.token or args.token
    last = ""
    while True:
        status = client.status(answer.id, token, answer.job)
        line = client.describe(status)
        if line != last:
            print(line, flush=True)
            last = line
        if status.state in ("done", "failed", "cancelled"):
            if status.state == "done":
                print(f"video:     {status.video_url}\nmodel:     {status.model_url}", flush=True)
            return 0 if status.state == "done" else 1
        time.sleep(2)
