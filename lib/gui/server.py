"""Start the GUI: the job queue and its worker in a data folder, the web app on 127.0.0.1, the session link.

All state lives in the data folder (``<root>/.faceswap-gui`` by default): the jobs table, the queue and each
job's log and files. So a job started from the GUI survives a page reload, and a restarted GUI finds the
jobs it had queued (a job that was running is put back in the queue and resumes from its last save).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from lib.errors import FaceswapError
from lib.gui.files import Root

log = logging.getLogger("faceswap.gui")
DATA_DIR = ".faceswap-gui"


@dataclass
class Gui:
    """A started GUI: its app, queue, link and (once serving) its HTTP server."""
    app: object
    queue: object
    queues: list
    url: str
    token: str
    port: int
    server: object = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        for queue in self.queues:
            if queue._worker is not None:
                queue._worker.stop()


def build(root, port: int, data=None, workers: int = 1) -> Gui:
    """The queue (with ``workers`` workers, each running one job at a time) and the app, not yet serving."""
    from lib.gui import jobs
    from lib.gui.app import GuiConfig, create_app, hosts_for
    from lib.gui.guard import new_token
    from lib.service.queue import JobQueue
    root = Root(root)
    data = Path(data) if data else root.path / DATA_DIR
    if workers < 1:
        raise FaceswapError("--workers must be 1 or more")
    data.mkdir(parents=True, exist_ok=True)
    queues = []
    for i in range(workers):
        queue = JobQueue(data)
        queue.register(jobs.KIND, jobs.TARGET)
        queues.append(queue)
    queues[0].recover()
    for i, queue in enumerate(queues):
        queue.start_worker(f"gui-{i + 1}")
    token = new_token()
    app = create_app(GuiConfig(root, token, hosts_for(port), cookie=f"faceswap_token_{port}"), queues[0])
    return Gui(app, queues[0], queues, f"http://127.0.0.1:{port}/?token={token}", token, port)


def serve(root, port: int, data=None, workers: int = 1) -> Gui:
    """Build the GUI and serve it in a background thread; returns it (``stop()`` ends it)."""
    from lib.service.web import HttpServer
    gui = build(root, port, data, workers)
    server = HttpServer(gui.app, "127.0.0.1", port)
    try:
        server.start()
    except FaceswapError:
        gui.stop()
        raise FaceswapError(f"cannot serve the GUI on 127.0.0.1:{port}: is the port in use? pick another with "
                            f"--port") from None
    gui.server = server
    return gui
