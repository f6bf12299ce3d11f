"""The GUI's web app: the pages (lib/gui/static) and the JSON API they call, behind the session guard.

Everything here is a thin layer over the library: forms come from the commands' parsers (lib/gui/forms.py),
jobs run on the service's queue (lib/service), faces and the convert tuner have their own modules. Every path
a request names is confined to the root folder (lib/gui/files.py). Live views (a job's progress, losses, log
and training preview) are server-sent event streams, so pages update without reloads; a page reloaded finds
its jobs again because they live in the jobs table, not in the page.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Body, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from lib.errors import FaceswapError
from lib.gui import faces, forms, jobs
from lib.gui.files import Root
from lib.gui.guard import Guard

log = logging.getLogger("faceswap.gui")
STATIC = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska", ".mov": "video/quicktime",
               ".m4v": "video/mp4", ".gif": "image/gif", ".png": "image/png", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".html": "text/html", ".json": "application/json", ".txt": "text/plain"}


@dataclass
class GuiConfig:
    root: Root
    token: str
    hosts: list[str]            # Host header values this server answers to
    cookie: str = "faceswap_token"


def _error(err: FaceswapError, status: int = 400) -> HTTPException:
    return HTTPException(status, str(err))


def _job_view(queue, job: dict, root: Root) -> dict:
    """A job as the pages show it: no secrets, paths relative to the root."""
    payload = job.get("payload") or {}
    result = job.get("result") or {}
    outputs = []
    for path in result.get("outputs", []) if isinstance(result, dict) else []:
        try:
            outputs.append(root.relative(root.resolve(path, must_exist=True)))
        except FaceswapError:
            continue
    progress = dict(job.get("progress") or {})
    if progress.get("preview"):
        progress["preview"] = bool(progress["preview"])
    return {"id": job["id"], "kind": job["kind"], "title": job.get("title", ""), "state": job["state"],
            "command": payload.get("command"), "values": _relative_values(payload.get("values") or {}, root),
            "stage": job.get("stage", ""), "progress": progress, "error": job.get("error"),
            "result": _small(result),
            "outputs": outputs, "created": job.get("created"), "started": job.get("started"),
            "finished": job.get("finished"), "updated": job.get("updated"), "position": job.get("position"),
            "attempts": job.get("attempts"), "cancel": job.get("cancel")}


def _small(result):
    """A job's result without its bulky parts (an evaluate report's per-frame records): pages get the summary."""
    if not isinstance(result, dict):
        return result
    return {k: v for k, v in result.items()
            if k != "outputs" and len(json.dumps(v, separators=(",", ":"), default=str)) <= 8000}


def _relative_values(values: dict, root: Root) -> dict:
    def rel(v):
        if isinstance(v, str) and v.startswith(str(root.path)):
            try:
                return root.relative(v) or "."
            except ValueError:
                return v
        return v
    return {k: [rel(x) for x in v] if isinstance(v, list) else rel(v) for k, v in values.items()}


def router(config: GuiConfig, queue, tuners) -> APIRouter:
    root = config.root
    api = APIRouter(prefix="/gui/api")

    def get_job(job_id: str) -> dict:
        job = queue.get(job_id)
        if job is None or job.get("kind") != jobs.KIND:
            raise HTTPException(404, f"no job {job_id}")
        return job

    # ------------------------------------------------------------------------------------------ forms
    @api.get("/commands")
    def commands():
        return forms.catalogue()

    @api.get("/forms/{command}")
    def form(command: str):
        try:
            return forms.schema(command)
        except FaceswapError as err:
            raise _error(err, 404) from None

    @api.post("/forms/{command}/check")
    def check(command: str, body: dict = Body(...)):
        try:
            forms.parse(command, body.get("values") or {}, confine=root.confine)
        except FaceswapError as err:
            return {"ok": False, "error": str(err)}
        return {"ok": True}

    @api.post("/forms/{command}/config")
    def save_config(command: str, body: dict = Body(...)):
        """Save the form as a ``-C`` file: the options that differ from the defaults (or ``keys``)."""
        try:
            namespace = forms.parse(command, body.get("values") or {}, confine=root.confine)
            target = _config_target(root, body.get("path"))
            text = forms.defaults_toml(command, namespace, body.get("keys"))
            from lib.fileio import atomic_write_bytes
            atomic_write_bytes(target, text.encode())
        except FaceswapError as err:
            raise _error(err) from None
        return {"path": root.relative(target), "text": text}

    # ------------------------------------------------------------------------------------------ files
    @api.get("/files")
    def files(path: str = "", hidden: bool = False):
        try:
            return root.listdir(path, hidden)
        except FaceswapError as err:
            raise _error(err) from None

    @api.get("/media")
    def media(path: str):
        try:
            target = root.resolve(path, must_exist=True)
        except FaceswapError as err:
            raise _error(err, 404) from None
        if not target.is_file():
            raise HTTPException(404, f"{path} is not a file")
        kind = MEDIA_TYPES.get(target.suffix.lower(), "application/octet-stream")
        headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        if kind == "text/html":   # a report opens in its own sandbox: no script of it talks to this app
            headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src data: 'self'; style-src " \
                                                 "'unsafe-inline'"
        return FileResponse(target, media_type=kind, headers=headers)

    # ------------------------------------------------------------------------------------------ jobs
    @api.get("/jobs")
    def job_list(limit: int = 100):
        return [_job_view(queue, j, root) for j in queue.jobs(limit=limit) if j["kind"] == jobs.KIND]

    @api.post("/jobs")
    def job_submit(body: dict = Body(...)):
        try:
            job_id = jobs.submit(queue, str(body.get("command", "")), body.get("values") or {}, root)
        except FaceswapError as err:
            raise _error(err) from None
        return {"id": job_id}

    @api.get("/jobs/{job_id}")
    def job_detail(job_id: str):
        return _job_view(queue, get_job(job_id), root)

    @api.get("/jobs/{job_id}/log")
    def job_log(job_id: str, offset: int = 0):
        get_job(job_id)
        text, end = queue.log(job_id, max(0, offset))
        return {"text": text, "offset": end}

    @api.get("/jobs/{job_id}/losses")
    def job_losses(job_id: str, since: int = -1):
        get_job(job_id)
        return [p for p in queue.store.losses(job_id) if p[0] > since]

    @api.post("/jobs/{job_id}/cancel")
    def job_cancel(job_id: str):
        get_job(job_id)
        return {"state": queue.cancel(job_id)}

    @api.post("/jobs/{job_id}/request/{what}")
    def job_request(job_id: str, what: str):
        get_job(job_id)
        try:
            jobs.request(queue, job_id, what)
        except FaceswapError as err:
            raise _error(err, 409) from None
        return {"asked": what}

    @api.get("/jobs/{job_id}/preview")
    def job_preview(job_id: str):
        job = get_job(job_id)
        path = (job.get("progress") or {}).get("preview") or (job.get("result") or {}).get("preview")
        if not path:
            raise HTTPException(404, "no preview yet")
        try:
            target = root.resolve(path, must_exist=True)
        except FaceswapError as err:
            raise _error(err, 404) from None
        return FileResponse(target, media_type="image/png", headers={"Cache-Control": "no-store"})

    @api.get("/jobs/{job_id}/events")
    async def job_events(job_id: str, request: Request, log_offset: int = 0):
        await asyncio.to_thread(get_job, job_id)
        return StreamingResponse(_events(request, queue, root, job_id, log_offset), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    # ------------------------------------------------------------------------------------------ faces
    @api.get("/faces")
    def face_list(folder: str, sort: str = "frame"):
        try:
            path = root.resolve(folder, must_exist=True)
            entries = faces.list_faces(path, sort)
        except FaceswapError as err:
            raise _error(err) from None
        guess = _alignments_of_extract(queue, root, path) or faces.guess_alignments(path, root)
        return {"folder": root.relative(path), "faces": entries, "alignments": guess}

    @api.get("/faces/thumb")
    def face_thumb(folder: str, name: str):
        try:
            data = faces.thumbnail(root.resolve(folder, must_exist=True), name)
        except FaceswapError as err:
            raise _error(err, 404) from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=60"})

    @api.get("/faces/landmarks")
    def face_landmarks(folder: str, name: str):
        try:
            return faces.landmarks(root.resolve(folder, must_exist=True), name)
        except FaceswapError as err:
            raise _error(err, 404) from None

    @api.post("/faces/remove")
    def face_remove(body: dict = Body(...)):
        try:
            folder = root.resolve(str(body.get("folder", "")), must_exist=True)
            alignments = root.resolve(str(body.get("alignments") or ""), must_exist=True)
            names = body.get("names") or []
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise FaceswapError("names must be a list of face file names")
            out = faces.remove_faces(folder, alignments, names)
        except FaceswapError as err:
            raise _error(err) from None
        out["moved_to"] = root.relative(out["moved_to"])
        return out

    # ------------------------------------------------------------------------------------------ convert tuner
    @api.post("/tuner/open")
    def tuner_open(body: dict = Body(...)):
        try:
            return tuners.open(root.resolve(str(body.get("model_dir") or ""), must_exist=True),
                               root.resolve(str(body.get("input") or ""), must_exist=True),
                               root.resolve(body["alignments"], must_exist=True) if body.get("alignments") else None,
                               body.get("trust_alignments") is True)
        except FaceswapError as err:
            raise _error(err) from None

    @api.get("/tuner/{sid}/original/{frame}")
    def tuner_original(sid: str, frame: int):
        try:
            data = tuners.get(sid).original_jpeg(frame)
        except FaceswapError as err:
            raise _error(err) from None
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})

    @api.post("/tuner/{sid}/render")
    def tuner_render(sid: str, body: dict = Body(...)):
        try:
            data, timing = tuners.get(sid).render_jpeg(int(body.get("frame", 0)), body.get("settings") or {})
        except FaceswapError as err:
            raise _error(err) from None
        return Response(data, media_type="image/jpeg",
                        headers={"Cache-Control": "no-store", "X-Render-Ms": f"{timing['total_ms']:.0f}",
                                 "X-Render-Timing": json.dumps(timing)})

    @api.post("/tuner/{sid}/convert")
    def tuner_convert(sid: str, body: dict = Body(...)):
        try:
            values = tuners.get(sid).convert_values(body.get("settings") or {}, str(body.get("output") or ""), root)
            job_id = jobs.submit(queue, "convert", values, root)
        except FaceswapError as err:
            raise _error(err) from None
        return {"id": job_id}

    @api.post("/tuner/{sid}/config")
    def tuner_config(sid: str, body: dict = Body(...)):
        try:
            session = tuners.get(sid)
            values = session.convert_values(body.get("settings") or {}, "tuned.mp4", root)
            namespace = forms.parse("convert", values, confine=root.confine)
            target = _config_target(root, body.get("path"))
            text = forms.defaults_toml("convert", namespace, list(session.SETTINGS))
            from lib.fileio import atomic_write_bytes
            atomic_write_bytes(target, text.encode())
        except FaceswapError as err:
            raise _error(err) from None
        return {"path": root.relative(target), "text": text}

    return api


def _alignments_of_extract(queue, root: Root, folder: Path) -> str | None:
    """The alignments file written by the GUI's latest extract job into ``folder`` (relative to the root)."""
    from lib.alignments import default_path
    for job in queue.jobs(limit=200):
        payload = job.get("payload") or {}
        values = payload.get("values") or {}
        if payload.get("command") != "extract" or job.get("state") != "done" or not values.get("output"):
            continue
        inputs = values.get("input")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        try:
            if root.resolve(values["output"]) != folder or len(inputs) != 1:
                continue
            target = root.resolve(values["alignments"]) if values.get("alignments") else default_path(inputs[0])
            if target.is_dir():
                target = target / (Path(inputs[0]).stem + "_alignments.json")
            if target.is_file() and root.contains(root.resolve(target)):
                return root.relative(target)
        except FaceswapError:
            continue
    return None


def _config_target(root: Root, path) -> Path:
    if not path or not str(path).strip():
        raise FaceswapError("give a file name for the config, e.g. convert.toml")
    target = root.resolve(str(path))
    if target.suffix.lower() != ".toml":
        raise FaceswapError(f"{path}: a config file name ends in .toml")
    if target.is_dir():
        raise FaceswapError(f"{path} is a folder: give a file name ending in .toml")
    return target


async def _events(request: Request, queue, root: Root, job_id: str, log_offset: int):
    """Server-sent events of one job: ``job`` (its view) on every change, ``losses`` (new points), ``log``
    (new output); ends after the job has finished."""
    last_update, last_iteration, offset = None, -1, max(0, log_offset)
    yield "retry: 1000\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        job = await asyncio.to_thread(queue.get, job_id)
        if job is None:
            return
        sent = False
        if job.get("updated") != last_update:
            last_update = job.get("updated")
            yield _sse("job", _job_view(queue, job, root))
            sent = True
        points = await asyncio.to_thread(lambda: [p for p in queue.store.losses(job_id) if p[0] > last_iteration])
        if points:
            last_iteration = points[-1][0]
            yield _sse("losses", points)
            sent = True
        text, end = await asyncio.to_thread(queue.log, job_id, offset)
        if text:
            offset = end
            yield _sse("log", {"text": text, "offset": end})
            sent = True
        if job["state"] in ("done", "failed", "cancelled") and not text:
            yield _sse("end", {"state": job["state"]})
            return
        idle = 0.0 if sent else idle + 0.25
        if idle >= 15:
            yield ": keep-alive\n\n"
            idle = 0.0
        await asyncio.sleep(0.25)


def _sse(event: str, data) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _index(token: str) -> HTMLResponse:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    html = html.replace("{{TOKEN}}", token)
    return HTMLResponse(html, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                       "X-Frame-Options": "DENY",
                                       "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                                                                  "media-src 'self' blob:; style-src 'self'; "
                                                                  "script-src 'self'; frame-ancestors 'none'"})


def create_app(config: GuiConfig, queue, base: FastAPI | None = None) -> FastAPI:
    """The GUI on ``base`` (the service's dashboard app in local mode) or on a new app, behind the guard."""
    from lib.gui.tuner import Tuners
    if base is None:
        from lib.service.web import create_app as service_app
        base = service_app(queue, mode="local")
    app = base
    tuners = Tuners()
    app.state.gui_tuners = tuners
    app.include_router(router(config, queue, tuners))
    app.mount("/gui/static", StaticFiles(directory=STATIC), name="gui-static")

    @app.get("/", include_in_schema=False)
    def index():
        return _index(config.token)

    app.add_middleware(Guard, token=config.token, hosts=config.hosts, cookie=config.cookie)
    return app


def hosts_for(port: int) -> list[str]:
    """The Host header values this server answers to (a browser may say localhost or 127.0.0.1)."""
    return [f"127.0.0.1:{port}", f"localhost:{port}"]


__all__ = ["GuiConfig", "create_app", "hosts_for", "router"]
