"""Scale-out: a real Redis server (Debian's redis-server, started here on a free loopback port, nothing saved),
`serve --redis URL --workers 0` and two `faceswap.py worker --redis URL` processes: two uids' calls run on
different workers at the same time, both finish."""
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import shared
from lib.service.client import Client
from lib.service.store import Store
from test_service_support import CLIPS, TINY_MODEL, Serve, Site, cut_clip, free_port, wait_for, worker

pytestmark = [pytest.mark.slow, pytest.mark.redis]
REDIS = Path("/usr/bin/redis-server")


@pytest.fixture
def redis_url(tmp_path):
    binary = REDIS if REDIS.is_file() else shutil.which("redis-server")
    if not binary:
        pytest.skip("needs a Redis server binary (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis
    conn = redis.Redis(port=port)
    wait_for(lambda: _pings(conn), 20, what="redis-server to start")
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _pings(conn) -> bool:
    try:
        return conn.ping()
    except Exception:  # noqa: BLE001 - not up yet
        return False


def test_two_uids_run_on_two_workers(redis_url, tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    for name in ("a", "b"):
        cut_clip(shared(CLIPS[name]), folder / f"{name}.mp4", 30)
    site = Site(folder)
    data = tmp_path / "data"
    serve = Serve(data, "--redis", redis_url, "--workers", 0, "--allow-private-urls", "--iterations", 20,
                  *TINY_MODEL).start()
    workers = [worker(data, "--redis", redis_url, "--name", name, log_path=tmp_path / f"{name}.log")
               for name in ("gpu0", "gpu1")]
    client = Client(serve.grpc, timeout=120)
    try:
        answers = [client.faceswap(site.url("a.mp4"), site.url("b.mp4"), iterations=8) for _ in range(2)]
        assert answers[0].id != answers[1].id
        for answer in answers:
            status = wait_for(lambda: (s := client.status(answer.id, answer.token)).state in ("done", "failed") and s,
                              900, step=1.0, what=f"job {answer.job} to finish")
            assert status.state == "done", status.error
        jobs = [Store(data, wal=False).get(a.job) for a in answers]
        assert {job["worker"] for job in jobs} == {"gpu0", "gpu1"}
        assert jobs[0]["started"] < jobs[1]["finished"] and jobs[1]["started"] < jobs[0]["finished"]   # overlapped
    finally:
        for proc in workers:
            proc.terminate()
        for proc in workers:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        client.close()
        serve.stop()
        site.close()
