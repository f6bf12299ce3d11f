"""Jobs survive: a worker killed with SIGKILL mid-training is replaced and the job finishes from its last save;
`serve` stopped with jobs running and queued loses none of them when it starts again. Real processes,
tiny training; `serve --workers 0` plus separate `faceswap.py worker` processes where a worker must die."""
import json
import signal

import pytest

from conftest import shared
from lib.service.client import Client
from lib.service.store import Store
from test_service_support import CLIPS, TINY_MODEL, Serve, Site, cut_clip, runner_pids, wait_for, worker

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    for name in ("a", "b"):
        cut_clip(shared(CLIPS[name]), folder / f"{name}.mp4", 30)
    web = Site(folder)
    yield web
    web.close()


def _job(data, job_id):
    return Store(data).get(job_id)


def test_a_killed_worker_s_job_finishes_from_its_last_save(site, tmp_path):
    data = tmp_path / "data"
    serve = Serve(data, "--workers", 0, "--allow-private-urls", "--iterations", 200, "--save-interval", 5,
                  "--stale-after", 6, *TINY_MODEL).start()
    client = Client(serve.grpc, timeout=120)
    first = worker(data, "--name", "doomed", "--stale-after", 6, log_path=tmp_path / "w1.log")
    second = None
    try:
        answer = client.faceswap(site.url("a.mp4"), site.url("b.mp4"), iterations=60)
        wait_for(lambda: (_job(data, answer.job)["progress"].get("iteration") or 0) >= 12, 600, step=0.2,
                 what="training to pass its second save")
        job = _job(data, answer.job)
        assert job["worker"] == "doomed" and job["state"] == "running"
        children = runner_pids(answer.job)
        assert children
        first.send_signal(signal.SIGKILL)
        first.wait()
        wait_for(lambda: not runner_pids(answer.job), 15, what="the job's process to die with its worker")
        killed_at = job["progress"]["iteration"]

        second = worker(data, "--name", "replacement", "--stale-after", 6, log_path=tmp_path / "w2.log")
        resumed = wait_for(lambda: (j := _job(data, answer.job))["worker"] == "replacement"
                           and j["progress"].get("stage") == "train" and j, 300, step=0.1,
                           what="the job to start training again on the new worker")
        status = wait_for(lambda: (s := client.status(answer.id, answer.token)).state in ("done", "failed") and s,
                          900, step=1.0, what="the job to finish")
        assert status.state == "done", status.error
        final = _job(data, answer.job)
        plan = json.loads((data / "jobs" / answer.job / "plan.json").read_text())
        assert final["attempts"] == 2 and status.iteration == plan["target_iterations"] == 60
        # it went on from the last save (every 5 iterations), not from scratch
        assert resumed["progress"]["iteration"] >= killed_at - 5 > 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
        client.close()
        serve.stop()


def test_serve_restarted_with_jobs_running_and_queued_loses_none(site, tmp_path):
    data = tmp_path / "data"
    args = ("--allow-private-urls", "--iterations", 50, "--save-interval", 5, "--stale-after", 6, *TINY_MODEL)
    serve = Serve(data, *args).start()
    client = Client(serve.grpc, timeout=120)
    answers = [client.faceswap(site.url("a.mp4"), site.url("b.mp4"), iterations=n) for n in (30, 2, 2)]
    wait_for(lambda: _job(data, answers[0].job)["stage"] == "train", 600, step=0.2, what="the first job to train")
    assert [_job(data, a.job)["state"] for a in answers[1:]] == ["queued", "queued"]
    assert serve.stop() == 0                            # SIGTERM: the running job saves and goes back to the queue
    assert _job(data, answers[0].job)["state"] == "queued"
    client.close()

    serve = Serve(data, *args, grpc_port=serve.grpc_port, http_port=serve.http_port).start()
    client = Client(serve.grpc, timeout=120)
    try:
        for answer in answers:
            status = wait_for(lambda: (s := client.status(answer.id, answer.token)).state in ("done", "failed") and s,
                              900, step=1.0, what=f"job {answer.job} to finish")
            assert status.state == "done", status.error
        assert _job(data, answers[0].job)["result"]["iterations"] == 30
    finally:
        client.close()
        serve.stop()
