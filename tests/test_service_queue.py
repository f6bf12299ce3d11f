"""The durable job queue on its own: real huey (SQLite), real child processes, real signals; tiny job functions.

The job functions below are what the queue runs in its child processes (imported there by name), so this module
imports nothing from conftest at the top.
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib.errors import FaceswapError
from lib.jobs import Progress
from lib.service.queue import JobQueue
from lib.service.store import QuotaExceeded

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ job functions (children)
def count_job(payload, progress, cancel):
    """Counts to payload['n'], reporting each step; honours cancel; resumes from a counter file."""
    state = Path(payload["_job"]["dir"]) / "count.txt"
    start = int(state.read_text()) if state.is_file() else 0
    for i in range(start, payload["n"]):
        cancel.check()
        progress(Progress(stage="count", done=i + 1, total=payload["n"], iteration=i + 1, loss_a=1 / (i + 1),
                          loss_b=2 / (i + 1)))
        state.write_text(str(i + 1))
        time.sleep(payload.get("sleep", 0.05))
    return {"counted": payload["n"], "resumed_from": start, "pid": os.getpid()}


def failing_job(payload, progress, cancel):
    raise FaceswapError("the input is not a video: give a real one")


def stubborn_job(payload, progress, cancel):
    """Ignores its cancel flag: the worker must end its process group."""
    child = subprocess.Popen(["sleep", "300"])
    Path(payload["_job"]["dir"], "grandchild.pid").write_text(str(child.pid))
    while True:
        progress(Progress(stage="stuck"))
        time.sleep(0.2)


# ------------------------------------------------------------------------------------ helpers
def wait_for(predicate, timeout=60, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s")


def make_queue(data, **kwargs):
    queue = JobQueue(data, cancel_grace=2.0, heartbeat_every=0.3, **kwargs)
    for kind, fn in (("count", "count_job"), ("fail", "failing_job"), ("stubborn", "stubborn_job")):
        queue.register(kind, f"tests.test_service_queue:{fn}")   # pytest imports this file under another name
    return queue


@pytest.fixture
def queue(tmp_path):
    q = make_queue(tmp_path / "data")
    q.start_worker("w1")
    yield q
    q._worker.stop()


def state_of(queue, job_id):
    return queue.get(job_id)["state"]


# ------------------------------------------------------------------------------------ tests
def test_a_job_runs_in_a_child_and_records_progress_losses_and_result(queue):
    job_id = queue.submit("count", {"n": 5}, title="count to 5")
    job = wait_for(lambda: (j := queue.get(job_id))["state"] in ("done", "failed") and j)
    assert job["state"] == "done", job
    assert job["result"]["counted"] == 5 and job["result"]["pid"] != os.getpid()
    assert job["progress"]["stage"] == "count" and job["progress"]["done"] == 5
    assert [p[0] for p in queue.store.losses(job_id)][-1] == 5
    assert "--- job" in queue.log(job_id)[0]


def test_a_failing_job_keeps_its_error_message(queue):
    job_id = queue.submit("fail", {})
    wait_for(lambda: state_of(queue, job_id) == "failed")
    assert queue.get(job_id)["error"] == "the input is not a video: give a real one"


def test_unknown_kinds_and_non_json_payloads_are_refused(queue):
    with pytest.raises(FaceswapError, match="unknown kind"):
        queue.submit("nope", {})
    with pytest.raises(TypeError):
        queue.submit("count", {"n": object()})


def test_cancel_stops_a_cooperative_job_within_seconds(queue):
    job_id = queue.submit("count", {"n": 10000, "sleep": 0.05})
    wait_for(lambda: queue.get(job_id)["progress"].get("done", 0) > 2)
    asked = time.monotonic()
    assert queue.cancel(job_id) == "running"
    wait_for(lambda: state_of(queue, job_id) == "cancelled", timeout=10)
    assert time.monotonic() - asked < 5


def test_cancel_ends_the_process_group_of_a_job_that_ignores_it(queue):
    job_id = queue.submit("stubborn", {})
    pid_file = queue.job_dir(job_id) / "grandchild.pid"
    wait_for(pid_file.is_file)
    grandchild = int(pid_file.read_text())
    queue.cancel(job_id)
    wait_for(lambda: state_of(queue, job_id) == "cancelled", timeout=15)
    wait_for(lambda: not _alive(grandchild), timeout=5)


def test_a_queued_job_is_cancelled_at_once_and_jobs_of_one_uid_run_in_order(queue):
    first = queue.submit("count", {"n": 20, "sleep": 0.1}, uid="u1")
    second = queue.submit("count", {"n": 2}, uid="u1")
    third = queue.submit("count", {"n": 2}, uid="u1")
    assert queue.cancel(third) == "cancelled"
    wait_for(lambda: state_of(queue, first) == "running")
    assert state_of(queue, second) == "queued"       # waits for the uid's running job
    wait_for(lambda: state_of(queue, second) == "done", timeout=60)
    assert queue.get(second)["started"] >= queue.get(first)["finished"]
    assert state_of(queue, third) == "cancelled"


def test_quota_per_uid_and_for_the_whole_queue(tmp_path):
    q = make_queue(tmp_path / "data")          # no worker: everything stays queued
    q.submit("count", {"n": 1}, uid="u", max_per_uid=2)
    q.submit("count", {"n": 1}, uid="u", max_per_uid=2)
    with pytest.raises(QuotaExceeded, match="limit is 2"):
        q.submit("count", {"n": 1}, uid="u", max_per_uid=2)
    with pytest.raises(QuotaExceeded, match="queue is full"):
        q.submit("count", {"n": 1}, uid="v", max_queued=2)
    assert [j["position"] for j in q.jobs("u")] == [2, 1]


def test_jobs_queued_before_a_restart_all_run_after_it(tmp_path):
    data = tmp_path / "data"
    q = make_queue(data)
    ids = [q.submit("count", {"n": 2}) for _ in range(3)]
    q.huey.storage.flush_queue()               # even if the queue itself lost them, the table has them
    del q
    q2 = make_queue(data)
    assert q2.recover() == 3
    q2.start_worker("w2")
    try:
        wait_for(lambda: all(state_of(q2, i) == "done" for i in ids), timeout=90)
    finally:
        q2._worker.stop()


@pytest.mark.slow
def test_a_killed_worker_s_job_is_put_back_and_resumes(tmp_path):
    """kill -9 the worker process: its job's child dies with it; a new worker's reaper resumes the job."""
    data = tmp_path / "data"
    q = make_queue(data, stale_after=3.0)
    job_id = q.submit("count", {"n": 40, "sleep": 0.1})
    worker = subprocess.Popen([sys.executable, "-c", _WORKER_SCRIPT, str(data)], cwd=ROOT)
    try:
        wait_for(lambda: q.get(job_id)["progress"].get("done", 0) >= 5, timeout=60)
        worker.kill()
        worker.wait()
        first_child = q.get(job_id)
        wait_for(lambda: not _any_runner(job_id), timeout=10)     # the job's child died with its worker
        assert first_child["state"] == "running"
    finally:
        worker.kill()
    q.start_worker("w-new")
    try:
        job = wait_for(lambda: (j := q.get(job_id))["state"] in ("done", "failed") and j, timeout=90)
    finally:
        q._worker.stop()
    assert job["state"] == "done" and job["attempts"] == 2, job
    assert job["result"]["resumed_from"] >= 5


def test_stopping_a_worker_puts_its_running_job_back(tmp_path):
    q = make_queue(tmp_path / "data")
    q.start_worker("w1")
    job_id = q.submit("count", {"n": 10000, "sleep": 0.05})
    wait_for(lambda: q.get(job_id)["progress"].get("done", 0) > 2)
    q._worker.stop()
    job = q.get(job_id)
    assert job["state"] == "queued" and job["worker"] is None


_WORKER_SCRIPT = """
import sys, time
sys.path.insert(0, '.')
from tests.test_service_queue import make_queue
q = make_queue(sys.argv[1], stale_after=3.0)
q.start_worker('doomed')
while True:
    time.sleep(1)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:   # a zombie is dead too
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _any_runner(job_id: str) -> bool:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"lib.service.runner" in cmd and job_id.encode() in cmd and _alive(int(proc.name)):
                return True
    return False
