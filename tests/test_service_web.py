"""The dashboard's web side on a real uvicorn (loopback), tokens and signed links, retention, settings checks.
Jobs here are written straight into the jobs table (no worker, no training): the web layer only reads it."""
import json
import time

import httpx
import pytest

from lib.errors import FaceswapError
from lib.service.access import Access, Denied, UnknownUid, hash_token, load_secret
from lib.service.pipeline import KIND, MODEL, SUMMARY, VIDEO
from lib.service.queue import JobQueue
from lib.service.retention import sweep
from lib.service.settings import ServiceSettings, check
from lib.service.web import HttpServer, create_app
from test_service_support import free_port


@pytest.fixture
def parts(tmp_path):
    queue = JobQueue(tmp_path / "data")
    queue.register(KIND, "lib.service.pipeline:run_call")
    access = Access(queue.store, load_secret(tmp_path / "data"), 3600)
    return queue, access


def _finished_job(queue, uid):
    """A job as a finished service call leaves it: result files in its folder, losses, a preview."""
    job_id = queue.submit(KIND, {"iterations": 3}, uid=uid, title="3 more iterations")
    queue.store.claim(job_id, "test-worker")
    folder = queue.job_dir(job_id)
    folder.mkdir(parents=True)
    for name in (VIDEO, MODEL):
        (folder / name).write_bytes(b"0123456789" * 100)
    (folder / SUMMARY).write_text(json.dumps({"identity_b": 0.5}))
    preview = queue.data_dir / "uids" / uid / "workspace" / "model" / "preview.png"
    preview.parent.mkdir(parents=True)
    preview.write_bytes(b"\x89PNG fake")
    for it in (1, 2, 3):
        queue.store.set_progress(job_id, {"stage": "train", "done": it, "total": 3, "iteration": it,
                                          "loss_a": 1.0 / it, "loss_b": 2.0 / it, "preview": str(preview), "at": it})
    queue.store.finish(job_id, "done", {"video": VIDEO, "model": MODEL, "summary": SUMMARY,
                                        "summary_data": {"identity_b": 0.5}, "iterations": 3})
    return job_id


# ------------------------------------------------------------------------------------------------ access
def test_uids_are_random_tokens_are_stored_hashed_and_keys_expire(parts, tmp_path):
    queue, access = parts
    uid, token = access.create()
    other, _ = access.create()
    assert len(uid) == 32 and uid != other and int(uid, 16) >= 0
    assert queue.store.get_uid(uid)["token_hash"] == hash_token(token) != token
    access.check_token(uid, token)
    with pytest.raises(Denied):
        access.check_token(uid, token + "x")
    with pytest.raises(UnknownUid):
        access.check_token("../../etc/passwd", token)
    key = access.key(uid)
    access.check_key(uid, key)
    with pytest.raises(Denied):
        access.check_key(other, key)                        # a key is for one uid
    with pytest.raises(Denied, match="expired"):
        access.check_key(uid, access.key(uid, now=time.time() - 7200))
    expires, mac = key.split(".")
    with pytest.raises(Denied):
        access.check_key(uid, f"{int(expires) + 999}.{mac}")   # the expiry is signed
    assert load_secret(tmp_path / "data") == access.secret     # one secret per data folder, kept
    assert (tmp_path / "data" / "secret.key").stat().st_mode & 0o077 == 0


# ------------------------------------------------------------------------------------------------ web
@pytest.fixture
def web(parts):
    queue, access = parts
    server = HttpServer(create_app(queue, None, "service", access), "127.0.0.1", free_port())
    server.start()
    yield queue, access, f"http://127.0.0.1:{server.port}"
    server.stop()


def test_the_dashboard_needs_the_token_or_a_valid_key(web):
    queue, access, base = web
    uid, token = access.create()
    _finished_job(queue, uid)
    key = access.key(uid)
    assert httpx.get(f"{base}/dashboard", params={"uid": uid}).status_code == 403
    assert httpx.get(f"{base}/dashboard", params={"uid": uid, "key": "1.2"}).status_code == 403
    assert httpx.get(f"{base}/dashboard", params={"uid": "f" * 32, "key": key}).status_code == 404
    page = httpx.get(f"{base}/dashboard", params={"uid": uid, "key": key})
    assert page.status_code == 200 and "/static/service/dashboard.js" in page.text
    assert httpx.get(f"{base}/static/service/dashboard.js").status_code == 200
    assert httpx.get(f"{base}/api/status", params={"uid": uid}).status_code == 403
    by_token = httpx.get(f"{base}/api/status", params={"uid": uid}, headers={"Authorization": f"Bearer {token}"})
    by_key = httpx.get(f"{base}/api/status", params={"uid": uid, "key": key})
    assert by_token.status_code == by_key.status_code == 200
    run = by_key.json()["runs"][0]
    assert run["state"] == "done" and run["iteration"] == 3 and run["losses"] == [[1, 1.0, 2.0], [2, 0.5, 1.0],
                                                                                  [3, 1 / 3, 2 / 3]]
    assert run["quality"] == {"identity_b": 0.5} and f"key={key}" in run["video"]


def test_downloads_stream_by_kind_never_by_name(web):
    queue, access, base = web
    uid, token = access.create()
    job_id = _finished_job(queue, uid)
    auth = {"uid": uid, "key": access.key(uid)}
    video = httpx.get(f"{base}/files/{job_id}/video", params=auth)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4" and len(video.content) == 1000
    ranged = httpx.get(f"{base}/files/{job_id}/video", params=auth, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == b"0123456789"       # a <video> player can seek
    assert "attachment" in httpx.get(f"{base}/files/{job_id}/model", params=auth).headers["content-disposition"]
    assert httpx.get(f"{base}/files/{job_id}/preview", params=auth).content == b"\x89PNG fake"
    for what in ("log", "..%2F..%2Fjobs.db", "secret.key", "plan.json"):
        assert httpx.get(f"{base}/files/{job_id}/{what}", params=auth).status_code == 404
    other, other_token = access.create()
    assert httpx.get(f"{base}/files/{job_id}/video", params={"uid": other, "key": access.key(other)}).status_code \
        == 404                                                                  # another uid's job
    assert httpx.get(f"{base}/files/{job_id}/video", params={"uid": uid}).status_code == 403


def test_cancel_needs_the_token_itself(web):
    queue, access, base = web
    uid, token = access.create()
    job_id = queue.submit(KIND, {}, uid=uid)
    assert httpx.post(f"{base}/api/cancel", params={"uid": uid, "job": job_id, "key": access.key(uid)}
                      ).status_code == 403
    reply = httpx.post(f"{base}/api/cancel", params={"uid": uid, "job": job_id},
                       headers={"Authorization": f"Bearer {token}"})
    assert reply.json() == {"state": "cancelled"}


def test_server_sent_events_follow_the_jobs_table(web):
    queue, access, base = web
    uid, _ = access.create()
    job_id = queue.submit(KIND, {}, uid=uid)
    queue.store.claim(job_id, "test-worker")
    events = []
    with httpx.stream("GET", f"{base}/api/events", params={"uid": uid, "key": access.key(uid)}, timeout=10) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        lines = reply.iter_lines()
        for line in lines:
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
                if len(events) == 1:
                    sent = time.monotonic()
                    queue.store.set_progress(job_id, {"stage": "train", "iteration": 41, "done": 1, "total": 9})
                else:
                    break
    assert events[0]["runs"][0]["iteration"] is None and events[1]["runs"][0]["iteration"] == 41
    assert time.monotonic() - sent < 2.0


def test_local_mode_serves_local_jobs_without_tokens(parts):
    queue, _ = parts
    job_id = queue.submit(KIND, {}, title="a local job")
    queue.store.claim(job_id, "w")
    queue.store.set_progress(job_id, {"stage": "extract", "done": 2, "total": 4})
    server = HttpServer(create_app(queue, None, "local"), "127.0.0.1", free_port())
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        listing = httpx.get(f"{base}/api/jobs").json()["jobs"]
        assert [j["id"] for j in listing] == [job_id] and listing[0]["done"] == 2
        assert httpx.get(f"{base}/api/jobs/{job_id}/log").json() == {"text": "", "offset": 0}
        assert httpx.get(f"{base}/api/jobs/nope").status_code == 404
        assert httpx.get(f"{base}/dashboard").status_code == 404               # no uids in local mode
        assert httpx.post(f"{base}/api/jobs/{job_id}/cancel").json() == {"state": "running"}
    finally:
        server.stop()


# ------------------------------------------------------------------------------------------------ retention
def test_retention_deletes_old_results_and_unused_uids(parts):
    queue, access = parts
    old_uid, _ = access.create()
    job_id = _finished_job(queue, old_uid)
    kept_uid, _ = access.create()
    kept_job = queue.submit(KIND, {}, uid=kept_uid)                            # still queued: kept
    assert sweep(queue, 3600) == {"jobs": 0, "uids": 0}
    later = time.time() + 2 * 3600
    assert sweep(queue, 3600, now=later) == {"jobs": 1, "uids": 1}
    assert not queue.job_dir(job_id).exists() and queue.store.get_uid(old_uid) is None
    assert not (queue.data_dir / "uids" / old_uid).exists()
    assert queue.store.get_uid(kept_uid) is not None and queue.get(kept_job)["state"] == "queued"


# ------------------------------------------------------------------------------------------------ settings
@pytest.mark.parametrize("change, words", [
    ({"trainer": "nope"}, "unknown train.model plugin"),
    ({"trainer": "lightweight", "option": ["size=3"]}, "no such setting"),
    ({"trainer": "lightweight", "option": ["width=wide"]}, "must be a float"),
    ({"public_url": "ftp://x"}, "--public-url"),
    ({"redis": "http://x"}, "--redis"),
    ({"grpc_port": 70000}, "--grpc-port"),
    ({"retention_days": 0}, "--retention-days"),
])
def test_settings_that_cannot_work_are_refused(change, words):
    with pytest.raises(FaceswapError, match=words):
        check(ServiceSettings(**change))
    check(ServiceSettings(trainer="lightweight", option=["width=0.25"]))
