"""One service call: accept it (check, fetch, queue) in the gRPC front end, then run it in a worker.

Accepting (:func:`accept_call`, inside the gRPC call, so a bad input is the call's error): check the uid's token
and quota, fetch ``video_a``, ``video_b`` and the optional ``model_url`` with lib/fetch.py (http/https only,
public addresses only, byte caps, deadlines, probed as plain media / unpacked and checked as our model format)
into a staging folder, then create the uid if new and queue a ``swap-call`` job. Any failure removes the
staging folder (and a uid it would have created): nothing is left behind.

Running (:func:`run_call`, the ``swap-call`` kind, in a job's child process): seed the uid's model from the
call's model if one came, then the swap job on the uid's workspace (extractions are skipped when the video's
content is unchanged; the model trains N more iterations and is saved every save interval, so a job put back
after a crash resumes from its last save), then evaluate, then publish the swapped video (tagged synthetic by
convert), the model archive and the quality summary into the job's folder. A stage that fails stops the run.

Layout of the data folder::

    uids/<uid>/workspace/       faces, alignments, the model (lib/jobs/swap.py's workspace)
    uids/<uid>/calls/<job>/     the fetched inputs of one call (removed when it has run)
    jobs/<job>/                 plan.json, log.txt, and the published swapped.mp4, model.zip, summary.json
                                (evaluate's report.json) and report.html
    incoming/<random>/          downloads in progress
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from pathlib import Path

from lib.errors import FaceswapError

log = logging.getLogger("faceswap.service")

KIND = "swap-call"
TARGET = "lib.service.pipeline:run_call"
VIDEO, MODEL, SUMMARY, REPORT = "swapped.mp4", "model.zip", "summary.json", "report.html"
PLAN = "plan.json"
EVALUATE_SAMPLES = 100      # frames of A the quality summary samples (evenly spread)


class BadRequest(FaceswapError):
    """A call's arguments are wrong (INVALID_ARGUMENT)."""
    kind = "invalid"


def uid_dir(data_dir, uid: str) -> Path:
    return Path(data_dir) / "uids" / uid


def accept_call(queue, access, settings, *, uid: str, token: str, video_a: str, video_b: str,
                model_url: str = "", iterations: int = 0) -> tuple[str, str | None, str]:
    """Check and fetch a call's inputs and queue its job; returns (uid, token if the uid is new, job id)."""
    from lib.fetch import fetch_model, fetch_video
    if not video_a or not video_b:
        raise BadRequest("video_a and video_b are both required: give the URLs of the two videos")
    if iterations < 0 or iterations > settings.iterations:
        raise BadRequest(f"iterations must be between 1 and {settings.iterations} (0: {settings.iterations})")
    iterations = iterations or settings.iterations
    if uid:
        access.check_token(uid, token)
        active = [j for j in queue.jobs(uid, limit=settings.max_jobs_per_uid + 1)
                  if j["state"] in ("queued", "running")]
        if len(active) >= settings.max_jobs_per_uid:     # checked again when queued; this spares the downloads
            from lib.service.store import QuotaExceeded
            raise QuotaExceeded(f"uid {uid} already has {len(active)} job(s) queued or running (the limit is "
                                f"{settings.max_jobs_per_uid}): wait for one to finish or cancel it")
    data = Path(settings.data)
    staging = data / "incoming" / secrets.token_hex(8)
    staging.mkdir(parents=True)
    limits = {"allow_private": settings.allow_private_urls, "deadline": settings.fetch_deadline}
    created = moved = None
    try:
        a = fetch_video(video_a, staging, name="a", max_bytes=settings.max_video_bytes, **limits)
        b = fetch_video(video_b, staging, name="b", max_bytes=settings.max_video_bytes, **limits)
        model = fetch_model(model_url, staging, max_bytes=settings.max_model_bytes, **limits) if model_url else None
        if not uid:
            uid, token = access.create()
            created = uid
        else:
            token = None
            access.store.touch_uid(uid)
        job_id = secrets.token_hex(16)
        moved = uid_dir(data, uid) / "calls" / job_id
        moved.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, moved)
        payload = {
            "uid": uid, "data": str(data.resolve()), "calls_dir": str(moved.resolve()), "iterations": iterations,
            "video_a": {"url": video_a, "file": a.path.name, "sha256": a.sha256, "frames": a.video.frame_count},
            "video_b": {"url": video_b, "file": b.path.name, "sha256": b.sha256, "frames": b.video.frame_count},
            "model": {"url": model_url, "folder": Path(model).name} if model else None,
            "trainer": settings.trainer, "option": list(settings.option), "batch_size": settings.batch_size,
            "save_interval": settings.save_interval,
        }
        queue.submit(KIND, payload, uid=uid, title=f"{iterations} more iterations", job_id=job_id,
                     max_per_uid=settings.max_jobs_per_uid, max_queued=settings.max_queued)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if moved is not None:
            shutil.rmtree(moved, ignore_errors=True)
        if created is not None:
            access.store.delete_uid(created)
            shutil.rmtree(uid_dir(data, created), ignore_errors=True)
        raise
    log.info("uid %s: job %s queued (%d iterations)", uid, job_id, iterations)
    return uid, token, job_id


# ------------------------------------------------------------------------------------------------ the job
def run_call(payload: dict, progress, cancel) -> dict:
    """The ``swap-call`` job: seed, swap (extract, train, convert), evaluate, publish. Error messages name the
    uid's folders by what they are, not by where they are on the server."""
    from lib.jobs import JobCancelled
    try:
        return _run_call(payload, progress, cancel)
    except JobCancelled:
        raise                           # stopped: the inputs stay for when it resumes
    except BaseException as err:        # failed for good: its inputs are of no more use
        shutil.rmtree(payload["calls_dir"], ignore_errors=True)
        if not isinstance(err, FaceswapError):
            raise
        calls = Path(payload["calls_dir"])
        folders = ((calls / payload["video_a"]["file"], "video A"), (calls / payload["video_b"]["file"], "video B"),
                   (calls, "the call's inputs"),
                   (uid_dir(payload["data"], payload["uid"]) / "workspace", "the uid's workspace"),
                   (Path(payload["_job"]["dir"]), "the job's folder"), (Path(payload["data"]), "the data folder"))
        message = str(err)
        for folder, name in folders:
            message = message.replace(str(folder), name)
        raise FaceswapError(message) from None


def _run_call(payload: dict, progress, cancel) -> dict:
    from lib.fileio import atomic_write_bytes
    from lib.jobs import Progress, swap
    from lib.model import archive, store

    calls = Path(payload["calls_dir"])
    workspace = uid_dir(payload["data"], payload["uid"]) / "workspace"
    out = Path(payload["_job"]["dir"])
    out.mkdir(parents=True, exist_ok=True)
    workspace.mkdir(parents=True, exist_ok=True)
    model_dir = workspace / "model"

    seed = calls / payload["model"]["folder"] if payload.get("model") else None
    if seed is not None and seed.is_dir():       # the call's model replaces the uid's (moved: done once)
        progress(Progress(stage="seed model", message=f"model from {payload['model']['url']}"))
        _replace_dir(seed, model_dir)
    plan_file = out / PLAN
    if plan_file.is_file():            # a resumed job keeps the target it set when it first started
        plan = json.loads(plan_file.read_text())
    else:
        now = store.read_meta(model_dir)["iterations"] if store.exists(model_dir) else 0
        plan = {"start_iterations": now, "target_iterations": now + int(payload["iterations"])}
        atomic_write_bytes(plan_file, json.dumps(plan).encode())

    params = swap.SwapParams(
        input_a=str(calls / payload["video_a"]["file"]), input_b=str(calls / payload["video_b"]["file"]),
        output=str(out / VIDEO), iterations=plan["target_iterations"], workspace=str(workspace),
        trainer=payload["trainer"], option=list(payload["option"]), batch_size=payload["batch_size"],
        save_interval=payload["save_interval"], preview_interval=payload["save_interval"])
    swapped = swap.run(params, progress, cancel)

    cancel.check()
    frames = int(payload["video_a"].get("frames") or 0)
    quality = swap.evaluate(params, out / "report", every_n=max(1, frames // EVALUATE_SAMPLES), progress=progress,
                            cancel=cancel)
    progress(Progress(stage="publish", message="packing the model"))
    archive.pack(model_dir, out / MODEL)
    os.replace(quality["json"], out / SUMMARY)
    os.replace(quality["html"], out / REPORT)
    shutil.rmtree(out / "report", ignore_errors=True)
    shutil.rmtree(calls, ignore_errors=True)
    return {"video": VIDEO, "model": MODEL, "summary": SUMMARY, "report": REPORT,
            "summary_data": {"rows": quality["rows"], "summary": quality["report"]["summary"]},
            "iterations": swapped["iterations"], "start_iterations": plan["start_iterations"],
            "target_iterations": plan["target_iterations"], "trained": swapped["trained"],
            "extracted": swapped["extracted"], "seconds": swapped["seconds"]}


def _replace_dir(new: Path, target: Path) -> None:
    """Put the folder ``new`` in place of ``target`` (same file system): the old one is removed after."""
    old = target.with_name(f".{target.name}.old-{secrets.token_hex(4)}")
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)
