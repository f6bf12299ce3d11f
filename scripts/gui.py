"""Open the GUI in the browser: every command as a form, live training, the convert tuner, the faces browser.

It serves on 127.0.0.1 only, and every request needs the session token in the address printed at start
(other local users and other web pages cannot use it). Paths are limited to --root. Jobs run one at a time
(--workers N for more) and are kept in <root>/.faceswap-gui, so they survive a page reload or a restart.

example: python faceswap.py gui --root ~/faceswap-work
"""
from __future__ import annotations

import argparse
import logging
import time

from lib.cli import positive_int

log = logging.getLogger("faceswap.gui")


def _port(text: str) -> int:
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (1-65535), not {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=_port, default=7008, help="port on 127.0.0.1 (default: 7008)")
    parser.add_argument("--root", default=".", metavar="DIR",
                        help="the folder whose files the GUI may open and write (default: the current folder)")
    parser.add_argument("--no-browser", action="store_true", help="print the address but do not open a browser")
    parser.add_argument("--data", metavar="DIR", help="jobs, logs and queue (default: <root>/.faceswap-gui)")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="jobs that run at the same time (default: 1; each training takes a full CPU or GPU)")


def run(args) -> int:
    from lib.gui.server import serve
    gui = serve(args.root, args.port, args.data, args.workers)
    print(f"faceswap GUI: {gui.url}", flush=True)
    print("(the address holds this session's token; press Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        import webbrowser
        if not webbrowser.open(gui.url):
            log.warning("could not open a browser: open the address above yourself")
    try:
        while gui.server.thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping the GUI (a running job saves and waits in the queue for the next start)", flush=True)
    finally:
        gui.stop()
    return 0
