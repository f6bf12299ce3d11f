"""The GUI's web API through FastAPI's TestClient: the session guard, the root-confined picker, forms as jobs on
the real queue (with a real worker and child process), and the faces browser removing faces as the CLI does."""
import json
import os
import shutil
import time

import pytest
from fastapi.testclient import TestClient

from conftest import run_cli, shared
from lib.alignments import Alignments
from lib.errors import FaceswapError
from lib.gui.app import GuiConfig, create_app
from lib.gui.files import Root
from lib.service.queue import JobQueue

JAMIE = "jamie_oliver/video_oliver_voxceleb_00086.mp4"
TOKEN = "test-token-" + "x" * 32
HOST = "testserver"


@pytest.fixture
def gui(tmp_path):
    """(client with the session, root folder, queue) for a GUI over ``tmp_path/root``; no worker."""
    root = tmp_path / "root"
    (root / "clips").mkdir(parents=True)
    queue = JobQueue(tmp_path / "data")
    queue.register("command", "lib.gui.jobs:run_command")
    app = create_app(GuiConfig(Root(root), TOKEN, [HOST]), queue)
    client = TestClient(app, base_url=f"http://{HOST}")
    client.headers["X-Faceswap-Token"] = TOKEN
    yield client, root, queue
    if queue._worker is not None:
        queue._worker.stop()


def bare(client):
    """A client of the same app with no token at all."""
    return TestClient(client.app, base_url=f"http://{HOST}")


# ------------------------------------------------------------------------------------------------ the guard
def test_every_request_needs_the_session_token(gui):
    client, _, _ = gui
    anonymous = bare(client)
    assert anonymous.get("/").status_code == 401
    assert anonymous.get("/gui/api/commands").status_code == 401
    assert anonymous.get("/api/jobs").status_code == 401            # the service's local routes are guarded too
    assert anonymous.get("/", params={"token": "wrong"}).status_code == 403
    assert anonymous.get("/gui/api/commands", headers={"X-Faceswap-Token": "wrong"}).status_code == 401


def test_the_link_sets_a_strict_cookie_and_drops_the_token_from_the_address(gui):
    client, _, _ = gui
    browser = bare(client)
    first = browser.get("/", params={"token": TOKEN}, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/"
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = browser.get("/")      # the cookie now opens the page
    assert page.status_code == 200 and f'content="{TOKEN}"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert browser.get("/gui/api/commands").status_code == 200


def test_changes_need_the_header_token_not_just_the_cookie(gui):
    client, _, _ = gui
    browser = bare(client)
    browser.get("/", params={"token": TOKEN})
    refused = browser.post("/gui/api/jobs", json={"command": "alignments", "values": {}})
    assert refused.status_code == 403 and "header" in refused.json()["error"]


@pytest.mark.parametrize("headers,status", [
    ({"Host": "evil.example:7008"}, 421),                 # DNS rebinding: another name for this address
    ({"Origin": "http://evil.example"}, 403),             # a page of another site
    ({"Sec-Fetch-Site": "cross-site"}, 403),
])
def test_other_sites_and_hosts_are_refused_even_with_the_token(gui, headers, status):
    client, _, _ = gui
    assert client.get("/gui/api/commands", headers=headers).status_code == status
    assert client.post("/gui/api/jobs", headers=headers, json={"command": "sort"}).status_code == status


# ------------------------------------------------------------------------------------------------ the picker
def test_the_picker_lists_only_inside_the_root(gui, tmp_path):
    client, root, _ = gui
    (root / "clips" / "a.mp4").write_bytes(b"x" * 10)
    (root / ".hidden").mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("not for the browser")
    os.symlink(secret, root / "escape")                     # a link inside the root that leads out of it
    os.symlink(secret / "key.txt", root / "clips" / "key_link.txt")
    os.symlink(root / "clips" / "a.mp4", root / "inside_link.mp4")   # a link that stays inside is fine
    top = client.get("/gui/api/files", params={"path": ""}).json()
    names = {e["name"]: e["kind"] for e in top["entries"]}
    assert names == {"clips": "folder", "inside_link.mp4": "file"}
    assert top["parent"] is None
    clips = client.get("/gui/api/files", params={"path": "clips"}).json()
    assert [e["path"] for e in clips["entries"]] == ["clips/a.mp4"] and clips["parent"] == ""
    for bad in ("..", "../secret", "clips/../../secret", str(secret), "escape", "escape/", "/etc",
                "clips/key_link.txt"):
        response = client.get("/gui/api/files", params={"path": bad})
        assert response.status_code == 400, bad
    assert client.get("/gui/api/media", params={"path": "clips/key_link.txt"}).status_code == 404
    assert client.get("/gui/api/media", params={"path": "/etc/passwd"}).status_code == 404
    assert client.get("/gui/api/media", params={"path": "clips/a.mp4"}).content == b"x" * 10


def test_root_resolves_and_refuses():
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        root = Root(folder)
        assert root.resolve("a/b.txt") == root.path / "a" / "b.txt"
        assert root.relative(root.path / "a") == "a" and root.relative(root.path) == ""
        for bad in ("..", "a/../../x", "/", "a\x00b"):
            with pytest.raises(FaceswapError):
                root.resolve(bad)
    with pytest.raises(FaceswapError, match="not a folder"):
        Root("/definitely/not/here")


# ------------------------------------------------------------------------------------------------ forms and jobs
def test_forms_come_from_the_commands(gui):
    client, _, _ = gui
    commands = {c["command"] for c in client.get("/gui/api/commands").json()}
    assert {"extract", "train", "convert", "swap", "sort", "evaluate"} <= commands and "gui" not in commands
    fields = {f["id"]: f for f in client.get("/gui/api/forms/extract").json()["fields"]}
    assert fields["detector"]["default"] == "yunet" and "dlib-cnn" in fields["detector"]["choices"]
    assert client.get("/gui/api/forms/nope").status_code == 404
    bad = client.post("/gui/api/forms/extract/check", json={"values": {"input": "a.mp4", "output": "o", "size": "0"}})
    assert bad.json()["ok"] is False and "--size" in bad.json()["error"] and "must be 1 or more" in bad.json()["error"]


def test_a_bad_form_never_reaches_the_queue(gui):
    client, _, queue = gui
    response = client.post("/gui/api/jobs", json={"command": "extract", "values": {"input": "a.mp4"}})
    assert response.status_code == 400 and "required" in response.json()["detail"]
    outside = client.post("/gui/api/jobs", json={"command": "extract", "values": {"input": "../x.mp4", "output": "o"}})
    assert outside.status_code == 400 and ".." in outside.json()["detail"]
    assert queue.jobs() == []


def test_a_form_saved_as_config_is_written_inside_the_root(gui):
    client, root, _ = gui
    values = {"input": "clips/a.mp4", "output": "out", "size": "128"}
    saved = client.post("/gui/api/forms/extract/config", json={"values": values, "path": "extract.toml"}).json()
    assert saved["path"] == "extract.toml"
    text = (root / "extract.toml").read_text()
    assert "[extract]" in text and "size = 128" in text
    assert client.post("/gui/api/forms/extract/config", json={"values": values, "path": "../x.toml"}).status_code == 400
    assert client.post("/gui/api/forms/extract/config", json={"values": values, "path": "x.txt"}).status_code == 400


def _wait(queue, job_id, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = queue.get(job_id)
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {queue.get(job_id)['state']}")


def test_a_form_runs_as_a_job_with_its_log_and_events(gui, faces_of):
    client, root, queue = gui
    faces = faces_of(JAMIE, 4)
    shutil.copy(faces.parent / "alignments.json", root / "clip_alignments.json")
    queue.start_worker("test")
    stats = {"job": "stats", "alignments": "clip_alignments.json"}
    job_id = client.post("/gui/api/jobs", json={"command": "alignments", "values": stats}).json()["id"]
    job = _wait(queue, job_id)
    assert job["state"] == "done", job["error"]
    view = client.get(f"/gui/api/jobs/{job_id}").json()
    assert view["values"] == {"job": "stats", "alignments": "clip_alignments.json"}   # shown relative to the root
    assert queue.get(job_id)["payload"]["values"]["alignments"] == str(root.resolve() / "clip_alignments.json")
    log = client.get(f"/gui/api/jobs/{job_id}/log").json()["text"]
    assert "faces" in log and "frames" in log
    with client.stream("GET", f"/gui/api/jobs/{job_id}/events") as events:
        text = "".join(events.iter_text())
    assert "event: job" in text and "event: log" in text and "event: end" in text
    assert any(j["id"] == job_id for j in client.get("/gui/api/jobs").json())
    failed = client.post("/gui/api/jobs", json={"command": "alignments",
                                               "values": {"job": "stats", "alignments": "missing.json"}}).json()["id"]
    job = _wait(queue, failed)
    assert job["state"] == "failed" and "not found" in job["error"]
    assert client.post(f"/gui/api/jobs/{failed}/request/save").status_code == 409   # not a running training


# ------------------------------------------------------------------------------------------------ faces browser
@pytest.fixture
def extracted(gui, faces_of, tmp_path):
    """Two copies of one extract (faces + alignments): one inside the GUI's root, one for the CLI."""
    client, root, _ = gui
    faces = faces_of(JAMIE, 4)
    shutil.copytree(faces, root / "faces")
    shutil.copy(faces.parent / "alignments.json", root / "clip_alignments.json")
    cli = tmp_path / "cli"
    shutil.copytree(faces, cli / "faces")
    shutil.copy(faces.parent / "alignments.json", cli / "clip_alignments.json")
    return client, root, cli


def test_faces_are_listed_with_frames_sort_keys_thumbnails_and_landmarks(extracted):
    client, root, _ = extracted
    data = client.get("/gui/api/faces", params={"folder": "faces"}).json()
    assert data["folder"] == "faces"
    entries = data["faces"]
    assert len(entries) == len(list((root / "faces").glob("*.png")))
    assert [e["frame_index"] for e in entries] == sorted(e["frame_index"] for e in entries)
    for key in ("blur", "yaw", "size"):
        ordered = client.get("/gui/api/faces", params={"folder": "faces", "sort": key}).json()["faces"]
        assert len(ordered) == len(entries)
        values = [e[key] for e in ordered]
        expect = {"blur": sorted(values), "size": sorted(values), "yaw": sorted(values, key=lambda v: -abs(v))}[key]
        assert values == expect
    by_identity = client.get("/gui/api/faces", params={"folder": "faces", "sort": "identity"}).json()["faces"]
    distances = [e["identity"] for e in by_identity]
    assert all(d is not None for d in distances) and distances == sorted(distances, reverse=True)
    assert client.get("/gui/api/faces", params={"folder": "faces", "sort": "nope"}).status_code == 400
    name = entries[0]["name"]
    thumb = client.get("/gui/api/faces/thumb", params={"folder": "faces", "name": name})
    assert thumb.headers["content-type"] == "image/jpeg" and thumb.content[:2] == b"\xff\xd8"
    marks = client.get("/gui/api/faces/landmarks", params={"folder": "faces", "name": name}).json()
    assert len(marks["points"]) == 68 and marks["size"] > 0
    assert all(0 <= x <= marks["size"] and 0 <= y <= marks["size"] for x, y in marks["points"][17:])
    for bad in ("../clip_alignments.json", "/etc/passwd", "nope.png"):
        assert client.get("/gui/api/faces/thumb", params={"folder": "faces", "name": bad}).status_code == 404


def test_removing_faces_updates_the_alignments_exactly_as_the_cli_does(extracted):
    client, root, cli = extracted
    entries = client.get("/gui/api/faces", params={"folder": "faces"}).json()["faces"]
    chosen = [entries[1]["name"], entries[5]["name"]]
    before = Alignments.load(root / "clip_alignments.json").face_count()
    out = client.post("/gui/api/faces/remove", json={"folder": "faces", "alignments": "clip_alignments.json",
                                                      "names": chosen})
    assert out.status_code == 200, out.text
    assert out.json()["removed"] == 2 and out.json()["moved_to"] == "faces_removed"
    assert sorted(p.name for p in (root / "faces_removed").iterdir()) == sorted(chosen)
    assert (root / "clip_alignments.json.bak").is_file()
    assert Alignments.load(root / "clip_alignments.json").face_count() == before - 2
    # the same removal by hand with the CLI: delete the PNGs, run remove-faces
    for name in chosen:
        (cli / "faces" / name).unlink()
    run_cli("tools.py", "alignments", "-j", "remove-faces", "-p", cli / "clip_alignments.json", "-f", cli / "faces")
    ours, theirs = (json.loads((folder / "clip_alignments.json").read_bytes()) for folder in (root, cli))
    assert ours == theirs
    assert sorted(p.name for p in (root / "faces").iterdir()) == sorted(p.name for p in (cli / "faces").iterdir())
    left = {e["name"] for e in client.get("/gui/api/faces", params={"folder": "faces"}).json()["faces"]}
    assert not left & set(chosen)


def test_a_refused_removal_puts_the_faces_back(extracted):
    client, root, _ = extracted
    (root / "other_alignments.json").write_text(json.dumps(
        {"format": "faceswap-alignments", "version": 1, "source": {}, "frames": {"elsewhere_000001.png": []}}))
    name = client.get("/gui/api/faces", params={"folder": "faces"}).json()["faces"][0]["name"]
    response = client.post("/gui/api/faces/remove", json={"folder": "faces", "alignments": "other_alignments.json",
                                                          "names": [name]})
    assert response.status_code == 400 and "nothing was changed" in response.json()["detail"]
    assert (root / "faces" / name).is_file() and not (root / "faces_removed").exists()
    assert client.post("/gui/api/faces/remove", json={"folder": "faces", "alignments": "clip_alignments.json",
                                                      "names": ["../clip_alignments.json"]}).status_code == 400


# ------------------------------------------------------------------------------------------------ convert tuner
def test_the_tuner_renders_frames_with_convert_s_settings_and_hands_them_to_convert(gui, faces_of):
    from scripts.bench_convert import untrained_model
    client, root, queue = gui
    faces = faces_of(JAMIE, 4)
    shutil.copy(shared(JAMIE), root / "clips" / "jamie.mp4")       # renamed: its alignments name the original
    shutil.copy(faces.parent / "alignments.json", root / "clips" / "jamie_alignments.json")
    untrained_model(root / "model", "lightweight", {"width": "0.25", "dense": "64"})
    refused = client.post("/gui/api/tuner/open", json={"model_dir": "model", "input": "clips/jamie.mp4"})
    assert refused.status_code == 400 and "trust-alignments" in refused.json()["detail"]   # as convert says
    info = client.post("/gui/api/tuner/open", json={"model_dir": "model", "input": "clips/jamie.mp4",
                                                    "trust_alignments": True})
    assert info.status_code == 200, info.text
    info = info.json()
    assert info["frames"] == 130 and (info["width"], info["height"]) == (224, 224)
    assert info["faces_frames"][:3] == [0, 4, 8] and not info["detect_on_the_fly"]
    sid = info["session"]

    def render(settings, frame=8):
        response = client.post(f"/gui/api/tuner/{sid}/render", json={"frame": frame, "settings": settings})
        assert response.status_code == 200, response.text
        assert response.content[:2] == b"\xff\xd8" and float(response.headers["x-render-ms"]) > 0
        return response.content

    base = render({})
    assert render({}) == base                                   # the same settings give the same frame
    assert render({"mask-type": "components", "mask-blur": "10"}) != base
    assert render({"color-adjustment": "none"}) != base
    assert render({"detail": "0"}) != base                      # the default keeps the frame's finest detail
    original = client.get(f"/gui/api/tuner/{sid}/original/8")
    assert original.status_code == 200 and original.content != base
    for settings, words in (({"mask-blur": "x"}, "--mask-blur"), ({"writer": "gif"}, "does not set"),
                            ({"color-adjustment": "nope"}, "invalid choice")):
        refused = client.post(f"/gui/api/tuner/{sid}/render", json={"frame": 8, "settings": settings})
        assert refused.status_code == 400 and words in refused.json()["detail"]
    assert client.post(f"/gui/api/tuner/{sid}/render", json={"frame": 130, "settings": {}}).status_code == 400
    assert client.post("/gui/api/tuner/nope/render", json={"frame": 1, "settings": {}}).status_code == 400

    tuned = {"mask-type": "components", "mask-blur": "7.5", "smooth": "0"}
    saved = client.post(f"/gui/api/tuner/{sid}/config", json={"settings": tuned, "path": "tuned.toml"}).json()
    from lib.cli import _load_config
    assert _load_config(str(root / saved["path"]), "convert") == {
        "mask_type": "components", "mask_blur": 7.5, "mask_erode": 1.0, "color_adjustment": "avg-color",
        "scaling": "none", "detail": 0.5, "smooth": 0.0, "swap_model": False}   # only the blend: no paths, no trust
    job_id = client.post(f"/gui/api/tuner/{sid}/convert", json={"settings": tuned, "output": "out.mp4"}).json()["id"]
    values = queue.get(job_id)["payload"]["values"]
    assert values["mask-type"] == "components" and values["mask-blur"] == "7.5" and values["trust-alignments"]
    assert values["output"] == str(root.resolve() / "out.mp4") and values["model-dir"] == str(root.resolve() / "model")
    queue.cancel(job_id)
