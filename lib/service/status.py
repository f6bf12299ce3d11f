"""One view of a job, shared by the dashboard, its JSON endpoint and the gRPC ``status`` call.

File links name a job and a *kind* of file (video, model, summary, preview); the web layer maps the kind to a
fixed file name of ours, so no name in a request ever reaches the disk.
"""
from __future__ import annotations

import math
from urllib.parse import urlencode

MAX_POINTS = 400          # loss points sent to a dashboard: enough for a smooth curve, small enough to resend
FILES = ("video", "model", "summary", "report")


def thin(points: list, limit: int = MAX_POINTS) -> list:
    """At most ``limit`` points, evenly spread, always keeping the last one."""
    if len(points) <= limit:
        return list(points)
    step = len(points) / (limit - 1)
    return [points[int(i * step)] for i in range(limit - 1)] + [points[-1]]


def describe(job: dict, losses: list, base_url: str = "", auth: dict | None = None) -> dict:
    """The job as the front ends show it. ``auth`` (uid and key) is appended to file links."""
    progress = job.get("progress") or {}
    result = job.get("result") or {}
    query = f"?{urlencode(auth)}" if auth else ""

    def link(what: str, extra: str = "") -> str:
        sep = "&" if query else "?"
        return f"{base_url}/files/{job['id']}/{what}{query}{sep + extra if extra else ''}"

    view = {
        "id": job["id"], "uid": job.get("uid"), "kind": job["kind"], "title": job.get("title") or job["kind"],
        "state": job["state"], "stage": job.get("stage") or progress.get("stage", ""),
        "done": progress.get("done"), "total": progress.get("total"), "unit": progress.get("unit", ""),
        "iteration": result.get("iterations", progress.get("iteration")),
        "loss_a": progress.get("loss_a"), "loss_b": progress.get("loss_b"),
        "egs": progress.get("egs"), "eta": progress.get("eta"), "message": progress.get("message", ""),
        "updated": progress.get("at"), "position": job.get("position"), "error": job.get("error"),
        "attempts": job.get("attempts"), "created": job.get("created"), "started": job.get("started"),
        "finished": job.get("finished"), "losses": thin([list(p) for p in losses]),
        "target_iterations": result.get("target_iterations") or _target(progress),
        "preview": link("preview", f"t={progress.get('at', 0):.3f}") if progress.get("preview") else None,
        "quality": result.get("summary_data"),
    }
    for what in FILES:
        view[what] = link(what) if result.get(what) else None
    return finite(view)


def finite(value):
    """``value`` with NaN and infinities as None: strict JSON, which browsers' JSON.parse needs (a loss or a
    quality figure can be NaN, e.g. no face found to measure)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _target(progress: dict) -> int | None:
    """While training: the iteration count the model will reach (its count now, plus the steps left)."""
    if progress.get("stage") == "train" and progress.get("total") and progress.get("iteration") is not None:
        return int(progress["iteration"]) - int(progress.get("done") or 0) + int(progress["total"])
    return None
