"""The gRPC front end in-process, over a real loopback channel: generated code, auth, quota, and hostile URLs
mapped to the right status codes with nothing left behind and nothing else fetched. No worker runs here: the
accepted calls stay queued (the whole flow, with training, is in test_service_flow.py)."""
import io
import json
import time
import zipfile
from pathlib import Path

import grpc
import numpy as np
import pytest

from conftest import shared
from lib.service.access import Access, load_secret
from lib.service.client import CallFailed, Client
from lib.service.grpc_server import start_grpc
from lib.service.protogen import OUTPUTS, generate
from lib.service.server import make_queue
from lib.service.settings import ServiceSettings
from test_service_support import CLIPS, ROOT, Site, cut_clip, files_under, free_port

CODE = grpc.StatusCode


def test_generated_code_matches_the_proto(tmp_path):
    for made in generate(tmp_path):
        committed = ROOT / "lib" / "service" / made.name
        assert made.name in OUTPUTS and made.read_bytes() == committed.read_bytes(), \
            f"{committed} is stale: run python -m lib.service.protogen"


def test_the_call_keeps_the_old_wire_format():
    from lib.service import faceswap_pb2 as pb
    from lib.service import faceswap_pb2_grpc as pb_grpc
    assert pb.DESCRIPTOR.package == ""
    assert pb.DESCRIPTOR.services_by_name["DeepFakesFaceSwap"].methods_by_name["faceswap"].full_name == \
        "DeepFakesFaceSwap.faceswap"
    assert [(f.name, f.number) for f in pb.Input.DESCRIPTOR.fields][:4] == \
        [("uid", 1), ("video_a", 2), ("video_b", 3), ("model_url", 4)]
    assert pb.Output.DESCRIPTOR.fields_by_name["uid"].number == 1
    assert "'/DeepFakesFaceSwap/faceswap'" in Path(pb_grpc.__file__).read_text()
    old_client_bytes = b"\x12\x05http:\x1a\x05http:"      # an old client's Input(video_a=..., video_b=...)
    assert pb.Input.FromString(old_client_bytes).video_b == "http:"


# ------------------------------------------------------------------------------------------------ a live server
class Running:
    def __init__(self, data: Path, **overrides):
        values = dict(data=data, host="127.0.0.1", grpc_port=free_port(), http_port=free_port(), iterations=50,
                      max_video_mb=2.0, max_model_mb=2.0, fetch_deadline=4.0, max_jobs_per_uid=1)
        values.update(overrides)
        self.settings = ServiceSettings(**values)
        self.queue = make_queue(self.settings)
        self.access = Access(self.queue.store, load_secret(data), 3600)
        self.server = start_grpc(self.queue, self.access, self.settings)
        self.client = Client(f"127.0.0.1:{self.settings.grpc_port}", timeout=30)

    def close(self):
        self.client.close()
        self.server.stop(0)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    cut_clip(shared(CLIPS["a"]), folder / "a.mp4", 12)
    cut_clip(shared(CLIPS["b"]), folder / "b.mp4", 12)
    (folder / "text.mp4").write_text("this is not a video\n" * 50)
    (folder / "playlist.m3u8").write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n"
                                          "#EXTINF:10,\nfile://" + str(folder / "a.mp4") + "\n")
    (folder / "concat.txt").write_text("ffconcat version 1.0\nfile 'file:" + str(folder / "a.mp4") + "'\n")
    web = Site(folder)
    (folder / "remote.m3u8").write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{web.url('canary.ts')}\n"
                                        f"#EXT-X-ENDLIST\n")
    (folder / "model-traversal.zip").write_bytes(_zip({"../model.npz": b"x" * 100}))
    (folder / "model-pickled.zip").write_bytes(_zip({"model.npz": _pickled_npz()}))

    def redirect_to(location):
        def handler(request):
            request.send_response(302)
            request.send_header("Location", location)
            request.send_header("Content-Length", "0")
            request.end_headers()
        return handler

    def stream(length_header, size):
        def handler(request):
            request.send_response(200)
            request.send_header("Content-Type", "video/mp4")
            if length_header is not None:
                request.send_header("Content-Length", str(length_header))
            request.end_headers()
            chunk = b"\0" * 65536
            try:
                for _ in range(size // len(chunk)):
                    request.wfile.write(chunk)
            except OSError:
                pass
        return handler

    def slow(request):
        request.send_response(200)
        request.send_header("Content-Type", "video/mp4")
        request.send_header("Content-Length", "1000")
        request.end_headers()
        try:
            for _ in range(60):
                request.wfile.write(b"\0")
                request.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass

    web.routes.update({
        "/to-metadata": redirect_to("http://169.254.169.254/latest/meta-data/"),
        "/to-loopback": redirect_to(web.url("a.mp4")),
        "/big-no-length": stream(None, 4 * 1024 * 1024),
        "/big-lying-length": stream(1000, 4 * 1024 * 1024),
        "/slow": slow,
    })
    yield web
    web.close()


@pytest.fixture
def service(tmp_path):
    running = Running(tmp_path / "data", allow_private_urls=True)
    yield running
    running.close()


def _zip(members: dict) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _pickled_npz() -> bytes:
    out = io.BytesIO()
    meta = np.frombuffer(json.dumps({"format": "faceswap-model", "version": 1}).encode(), np.uint8)
    np.savez(out, meta=meta, w0000=np.array([{"evil": 1}], dtype=object))
    return out.getvalue()


def _refused(call, code: CODE, *words):
    with pytest.raises(CallFailed) as info:
        call()
    assert info.value.code == code, info.value
    for word in words:
        assert word.lower() in info.value.details.lower(), info.value.details
    return info.value


def _nothing_left(running: Running, before: set):
    data = running.settings.data
    assert files_under(data) - before <= {"incoming"}, files_under(data) - before
    assert not any((data / "incoming").iterdir()) if (data / "incoming").exists() else True
    assert running.queue.jobs(all_uids=True) == []


# ------------------------------------------------------------------------------------------------ tests
def test_a_call_is_accepted_with_a_link_a_token_and_a_queued_job(service, site):
    answer = service.client.faceswap(site.url("a.mp4"), site.url("b.mp4"), iterations=7)
    assert answer.uid.startswith(f"{service.settings.base_url}/dashboard?uid={answer.id}&key=")
    assert len(answer.id) == 32 and len(answer.token) >= 40
    job = service.queue.get(answer.job)
    assert job["state"] == "queued" and job["uid"] == answer.id and job["payload"]["iterations"] == 7
    assert service.queue.store.get_uid(answer.id)["token_hash"] != answer.token      # stored hashed
    status = service.client.status(answer.id, answer.token)
    assert status.state == "queued" and status.position == 1 and status.dashboard.startswith(answer.uid[:60])
    assert service.client.cancel(answer.id, answer.token).state == "cancelled"


def test_wrong_token_unknown_uid_and_quota(service, site):
    first = service.client.faceswap(site.url("a.mp4"), site.url("b.mp4"))
    again = lambda token: service.client.faceswap(site.url("a.mp4"), site.url("b.mp4"), uid=first.id,  # noqa: E731
                                                  token=token)
    _refused(lambda: again("not-the-token"), CODE.PERMISSION_DENIED, "wrong token")
    _refused(lambda: again(""), CODE.PERMISSION_DENIED, "needs its token")
    _refused(lambda: service.client.faceswap(site.url("a.mp4"), site.url("b.mp4"), uid="0" * 32, token="x"),
             CODE.NOT_FOUND, "unknown uid")
    _refused(lambda: service.client.status(first.id, "nope"), CODE.PERMISSION_DENIED)
    _refused(lambda: again(first.token), CODE.RESOURCE_EXHAUSTED, "limit is 1")   # one job queued already
    _refused(lambda: service.client.faceswap(site.url("a.mp4"), site.url("b.mp4"), iterations=51),
             CODE.INVALID_ARGUMENT, "iterations")


@pytest.mark.parametrize("a, code, words", [
    ("", CODE.INVALID_ARGUMENT, ["required"]),
    ("ftp://127.0.0.1/a.mp4", CODE.INVALID_ARGUMENT, ["only http and https"]),
    ("file:///etc/passwd", CODE.INVALID_ARGUMENT, ["only http and https"]),
    ("to-metadata", CODE.INVALID_ARGUMENT, ["169.254.169.254"]),
    ("big-no-length", CODE.INVALID_ARGUMENT, ["limit"]),
    ("big-lying-length", CODE.INVALID_ARGUMENT, []),
    ("slow", CODE.DEADLINE_EXCEEDED, []),
    ("text.mp4", CODE.INVALID_ARGUMENT, ["not a video"]),
    ("playlist.m3u8", CODE.INVALID_ARGUMENT, ["not a video"]),
    ("remote.m3u8", CODE.INVALID_ARGUMENT, ["not a video"]),
    ("concat.txt", CODE.INVALID_ARGUMENT, ["not a video"]),
])
def test_hostile_video_urls_are_refused_with_nothing_left_behind(service, site, a, code, words):
    before = files_under(service.settings.data)
    url = site.url(a) if a and "://" not in a else a
    site.hits.clear()
    _refused(lambda: service.client.faceswap(url, site.url("b.mp4")), code, *words)
    _nothing_left(service, before)
    assert "/canary.ts" not in site.hits and "/b.mp4" not in site.hits     # A failed first: B was never fetched


@pytest.mark.parametrize("model, words", [("model-traversal.zip", ["outside"]), ("model-pickled.zip", ["pickle"])])
def test_hostile_model_archives_are_refused_with_nothing_left_behind(service, site, model, words):
    before = files_under(service.settings.data)
    _refused(lambda: service.client.faceswap(site.url("a.mp4"), site.url("b.mp4"), model_url=site.url(model)),
             CODE.INVALID_ARGUMENT, "model", *words)
    _nothing_left(service, before)


def test_loopback_is_refused_without_the_flag(tmp_path, site):
    """(A redirect to a refused address is covered above: to-metadata hops to 169.254.169.254, refused even with
    --allow-private-urls; lib/fetch's own tests cover redirects from public to private hosts.)"""
    running = Running(tmp_path / "data")          # --allow-private-urls not given
    try:
        before = files_under(running.settings.data)
        site.hits.clear()
        _refused(lambda: running.client.faceswap(site.url("a.mp4"), site.url("b.mp4")), CODE.INVALID_ARGUMENT,
                 "127.0.0.1")
        _nothing_left(running, before)
        assert site.hits == []
    finally:
        running.close()
