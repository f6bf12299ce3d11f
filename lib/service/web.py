"""The web side (FastAPI + uvicorn): the live dashboard, its JSON status and server-sent events, downloads.

``create_app(queue, settings, mode)`` builds the app. In ``service`` mode every uid route needs the uid's token
(``Authorization: Bearer <token>``) or the signed key of a dashboard link (``key=``); in ``local`` mode (the
GUI, bound to 127.0.0.1) there are no uids and no tokens, and the job routes under ``/api/jobs`` serve the
local jobs. The GUI adds its own routes to the same app.

Live updates: one SSE stream per page; the server looks at the jobs table's last-change stamp a few times a
second (a job's child process writes progress there, so nothing can be pushed across processes) and sends the
view again when it changed. Files are looked up by job and kind (video, model, summary, preview), never by a
name from the request.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from lib.errors import FaceswapError
from lib.service.access import Access, Denied, NotFound
from lib.service.pipeline import MODEL, REPORT, SUMMARY, VIDEO, uid_dir
from lib.service.status import describe

log = logging.getLogger("faceswap.service")
STATIC = Path(__file__).with_name("static")
POLL = 0.2            # seconds between looks at the jobs table for an SSE stream
KEEPALIVE = 15.0      # seconds between comment lines on a quiet stream (proxies close silent connections)
_FILES = {"video": (VIDEO, "video/mp4"), "model": (MODEL, "application/zip"), "summary": (SUMMARY, "application/json"),
          "report": (REPORT, "text/html")}
# the quality report is our own HTML; it still runs with no scripts and no outside requests
_REPORT_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox"


def create_app(queue, settings=None, mode: str = "service", access: Access | None = None) -> FastAPI:
    """The web app over ``queue``. ``service`` mode needs ``access`` (tokens, keys); ``local`` mode has none."""
    if mode not in ("service", "local"):
        raise ValueError(mode)
    if mode == "service" and access is None:
        raise ValueError("service mode needs an Access")
    app = FastAPI(title="faceswap", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.queue, app.state.settings, app.state.mode, app.state.access = queue, settings, mode, access
    app.mount("/static/service", StaticFiles(directory=STATIC), name="service-static")

    @app.exception_handler(FaceswapError)
    async def _faceswap_error(request: Request, err: FaceswapError):
        code = 404 if isinstance(err, NotFound) else 403 if isinstance(err, Denied) else 400
        return JSONResponse({"error": str(err)}, status_code=code)

    @app.get("/healthz")
    def healthz():
        return {"ok": True, "mode": mode}

    if mode == "service":
        _service_routes(app, queue, access)
    else:
        _local_routes(app, queue)
    return app


# ------------------------------------------------------------------------------------------------ service mode
def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-faceswap-token")


def _service_routes(app: FastAPI, queue, access: Access) -> None:
    def authorize(request: Request, uid: str) -> dict:
        """Check the token or key; returns what file links must carry so the browser can follow them."""
        key = request.query_params.get("key")
        access.check(uid, token=_token(request), key=key)
        return {"uid": uid, "key": key or access.key(uid)}

    def view(uid: str, auth: dict) -> dict:
        jobs = queue.jobs(uid, limit=20)
        return {"uid": uid, "runs": [describe(job, queue.store.losses(job["id"]), "", auth) for job in jobs]}

    @app.get("/dashboard", response_class=HTMLResponse)
    def dashboard(request: Request, uid: str = ""):
        try:
            authorize(request, uid)
        except FaceswapError as err:
            status = 404 if isinstance(err, NotFound) else 403
            return HTMLResponse(_page("faceswap", f'<p class="error">{_escape(str(err))}</p>'), status_code=status)
        return HTMLResponse(_page(f"faceswap {uid}", _DASHBOARD_BODY))

    @app.get("/api/status")
    def status(request: Request, uid: str = ""):
        return view(uid, authorize(request, uid))

    @app.get("/api/events")
    async def events(request: Request, uid: str = ""):
        auth = authorize(request, uid)
        return _stream(request, queue, lambda: view(uid, auth))

    @app.post("/api/cancel")
    def cancel(request: Request, uid: str = "", job: str = ""):
        access.check_token(uid, _token(request) or "")        # cancelling needs the token itself, not a link
        found = queue.get(job)
        if found is None or found["uid"] != uid:
            raise NotFound(f"uid {uid} has no job {job[:40]!r}")
        return {"state": queue.cancel(job)}

    @app.get("/files/{job_id}/{what}")
    def files(request: Request, job_id: str, what: str, uid: str = ""):
        authorize(request, uid)
        job = queue.get(job_id)
        if job is None or job["uid"] != uid:
            raise NotFound(f"uid {uid} has no job {job_id[:40]!r}")
        root = uid_dir(queue.data_dir, uid)
        return _file(queue, job, what, root)


# ------------------------------------------------------------------------------------------------ local mode
def _local_routes(app: FastAPI, queue) -> None:
    def get(job_id: str) -> dict:
        job = queue.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id[:40]!r}")
        return job

    def view(job: dict) -> dict:
        return describe(job, queue.store.losses(job["id"]), "", None)

    @app.get("/api/jobs")
    def jobs(limit: int = 50):
        return {"jobs": [view(job) for job in queue.jobs(None, limit=limit)]}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str):
        return view(get(job_id))

    @app.get("/api/jobs/{job_id}/events")
    async def events(request: Request, job_id: str):
        get(job_id)
        return _stream(request, queue, lambda: view(get(job_id)))

    @app.get("/api/jobs/{job_id}/log")
    def job_log(job_id: str, offset: int = 0):
        get(job_id)
        text, end = queue.log(job_id, max(0, offset))
        return {"text": text, "offset": end}

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel(job_id: str):
        get(job_id)
        return {"state": queue.cancel(job_id)}

    @app.get("/api/jobs/{job_id}/preview")
    def preview(job_id: str):
        return _file(queue, get(job_id), "preview", None)

    @app.get("/files/{job_id}/{what}")
    def files(job_id: str, what: str):
        return _file(queue, get(job_id), what, None)


# ------------------------------------------------------------------------------------------------ shared
def _file(queue, job: dict, what: str, root: Path | None):
    """A job's file of one kind. The preview's path comes from the job's own progress; in service mode it must
    lie in the uid's folder (``root``)."""
    if what == "preview":
        path = (job.get("progress") or {}).get("preview")
        if not path:
            raise NotFound("no preview yet")
        path = Path(path).resolve()
        if root is not None and not path.is_relative_to(root.resolve()):
            raise NotFound("no preview for this job")
        media = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
        if not path.is_file():
            raise NotFound("no preview yet")
        return FileResponse(path, media_type=media, headers={"Cache-Control": "no-store"})
    if what not in _FILES:
        raise NotFound(f"no such file kind {what[:20]!r}: one of video, model, summary, report, preview")
    if not (job.get("result") or {}).get(what):
        raise NotFound(f"job {job['id']} has no {what} (yet)")
    name, media = _FILES[what]
    path = queue.job_dir(job["id"]) / name
    if not path.is_file():
        raise NotFound(f"the {what} of job {job['id']} was deleted (results are kept for a limited time)")
    download = f"faceswap-{job['id'][:8]}{Path(name).suffix}"
    disposition = "inline" if what in ("video", "report") else "attachment"
    headers = {"Content-Security-Policy": _REPORT_POLICY} if what == "report" else None
    return FileResponse(path, media_type=media, filename=download, content_disposition_type=disposition,
                        headers=headers)


def _stream(request: Request, queue, make_view) -> StreamingResponse:
    """Server-sent events: the view now, then again each time it changes, until the browser goes away."""
    async def events():
        last_stamp, last_text, quiet = None, None, 0.0
        while True:
            if await request.is_disconnected():
                return
            stamp = queue.store.last_change()
            if stamp != last_stamp:
                last_stamp = stamp
                try:
                    text = json.dumps(make_view())
                except FaceswapError as err:          # e.g. the uid was deleted meanwhile
                    yield f"event: failure\ndata: {json.dumps({'error': str(err)})}\n\n"
                    return
                if text != last_text:
                    last_text, quiet = text, 0.0
                    yield f"data: {text}\n\n"
            quiet += POLL
            if quiet >= KEEPALIVE:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL)
    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="stylesheet" href="/static/service/dashboard.css"></head><body>{body}</body></html>')


_DASHBOARD_BODY = """<header><h1>faceswap</h1><span id="connection" class="muted">connecting…</span></header>
<main id="runs"><p class="muted">loading…</p></main>
<script src="/static/service/dashboard.js"></script>"""


# ------------------------------------------------------------------------------------------------ serving
class HttpServer:
    """uvicorn in a background thread (the process that hosts it owns the signals)."""

    def __init__(self, app: FastAPI, host: str, port: int):
        import uvicorn
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="http", daemon=True)
        self.host, self.port = host, port

    def start(self, timeout: float = 30.0) -> None:
        import time
        self.thread.start()
        end = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise FaceswapError(f"cannot serve the dashboard on {self.host}:{self.port} (is the port in use? "
                                    f"pick another with --http-port)")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def serve_http(app: FastAPI, host: str = "127.0.0.1", port: int = 7006) -> None:
    """Serve ``app`` until interrupted (blocking; uvicorn handles Ctrl-C)."""
    import uvicorn
    uvicorn.run(app, host=host, port=port, log_level="warning")
