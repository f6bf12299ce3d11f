"""Results are kept for a retention period, then deleted: job folders of finished jobs, and whole uids (their
model too) that nobody used for that long. ``serve`` sweeps at start and every hour."""
from __future__ import annotations

import logging
import shutil
import time

from lib.service.pipeline import uid_dir

log = logging.getLogger("faceswap.service")


def sweep(queue, retention_seconds: float, now: float | None = None) -> dict:
    """Delete what is older than the retention period; returns counts of what went."""
    before = (now or time.time()) - retention_seconds
    store = queue.store
    jobs = 0
    for job in store.finished_before(before):
        shutil.rmtree(queue.job_dir(job["id"]), ignore_errors=True)
        if job["uid"]:
            shutil.rmtree(uid_dir(queue.data_dir, job["uid"]) / "calls" / job["id"], ignore_errors=True)
        store.drop_result(job["id"], "its results were deleted after the retention period")
        jobs += 1
    uids = store.idle_uids(before)
    for uid in uids:
        for job in store.jobs(uid, limit=100000):
            shutil.rmtree(queue.job_dir(job["id"]), ignore_errors=True)
        shutil.rmtree(uid_dir(queue.data_dir, uid), ignore_errors=True)
        store.delete_uid(uid)
    if jobs or uids:
        log.info("retention: deleted the results of %d job(s) and %d unused uid(s)", jobs, len(uids))
    return {"jobs": jobs, "uids": len(uids)}
