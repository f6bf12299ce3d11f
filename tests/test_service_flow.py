"""The whole service as a user meets it: `faceswap.py serve` in a subprocess, a real gRPC client, a local web
server on 127.0.0.1 serving short real clips, tiny training. One served instance for the module.

- two URLs -> link -> the job reaches done -> the video has A's frame count, audio and the synthetic tag, and
  the model archive and quality summary download with the link's key; a second call with the uid and token
  continues the same model (its iteration count grows); the wrong token is refused;
- the dashboard in headless Chromium: the iteration count rises without a reload, the result video plays.
"""
import json
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import grpc
import httpx
import pytest

from conftest import shared
from lib.provenance import is_tagged
from lib.service.client import CallFailed, Client
from lib.video import probe, read_metadata
from test_service_support import CLIPS, TINY_MODEL, Serve, Site, cut_clip, wait_for

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
FRAMES = 30


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    for name in ("a", "b", "c"):
        cut_clip(shared(CLIPS[name]), folder / f"{name}.mp4", FRAMES)
    from lib.video import run_ffmpeg      # a clip with no face in it: the job must stop at training
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=size=256x256:rate=25", "-frames:v", FRAMES, "-pix_fmt", "yuv420p",
                folder / "noface.mp4"], "making a clip with no face")
    web = Site(folder)
    yield web
    web.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    data = tmp_path_factory.mktemp("service") / "data"
    serve = Serve(data, "--allow-private-urls", "--iterations", 40, "--save-interval", 5, *TINY_MODEL).start()
    yield serve
    code = serve.stop()
    assert code == 0, serve.log_text()[-3000:]


@pytest.fixture(scope="module")
def client(served):
    c = Client(served.grpc, timeout=300)
    yield c
    c.close()


def wait_done(client, answer, token, timeout=600):
    status = wait_for(lambda: (s := client.status(answer.id, token, answer.job)).state in ("done", "failed",
                                                                                          "cancelled") and s,
                      timeout, step=1.0, what=f"job {answer.job} to end")
    assert status.state == "done", f"{status.state}: {status.error}"
    return status


def download(url: str, path: Path) -> Path:
    with httpx.stream("GET", url, timeout=60) as reply:
        assert reply.status_code == 200, reply.read()
        with open(path, "wb") as out:
            for chunk in reply.iter_bytes():
                out.write(chunk)
    return path


def test_two_urls_give_a_link_and_a_swapped_video_and_a_second_call_continues_the_model(client, served, site,
                                                                                       tmp_path):
    first = client.faceswap(site.url("a.mp4"), site.url("b.mp4"), iterations=3)
    link = urlparse(first.uid)
    assert first.uid.startswith(f"{served.http}/dashboard?uid={first.id}&key=") and first.token
    done = wait_done(client, first, first.token)
    video = download(done.video_url, tmp_path / "swapped.mp4")
    info, a_info = probe(video), probe(site.folder / "a.mp4")
    assert info.frame_count == a_info.frame_count and info.has_audio
    assert is_tagged(read_metadata(video))
    model = download(done.model_url, tmp_path / "model.zip")
    assert model.stat().st_size > 1000
    assert done.iteration == 3 and json.loads(done.summary_json)

    status = httpx.get(f"{served.http}/api/status", params=parse_qs(link.query)).json()
    assert status["runs"][0]["state"] == "done" and status["runs"][0]["losses"]

    with pytest.raises(CallFailed) as refused:
        client.faceswap(site.url("a.mp4"), site.url("b.mp4"), uid=first.id, token="wrong")
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED

    # same uid, a new A video: used (not ignored), and the same model trains on
    second = client.faceswap(site.url("c.mp4"), site.url("b.mp4"), uid=first.id, token=first.token, iterations=2)
    assert second.id == first.id and not second.token
    again = wait_done(client, second, first.token)
    assert again.iteration == 5
    video2 = download(again.video_url, tmp_path / "swapped2.mp4")
    assert probe(video2).frame_count == probe(site.folder / "c.mp4").frame_count

    # the model archive the dashboard offered seeds a new uid's training
    shutil.copy(model, site.folder / "seed.zip")
    seeded = client.faceswap(site.url("a.mp4"), site.url("b.mp4"), model_url=site.url("seed.zip"), iterations=2)
    assert seeded.id != first.id
    assert wait_done(client, seeded, seeded.token).iteration == 5


def test_a_failing_stage_stops_the_run_and_its_error_is_shown(client, served, site):
    answer = client.faceswap(site.url("noface.mp4"), site.url("b.mp4"), iterations=2)
    status = wait_for(lambda: (s := client.status(answer.id, answer.token)).state in ("done", "failed") and s, 300,
                      step=0.5, what="the job to end")
    assert status.state == "failed" and status.stage == "extract A" and "no face found in video A" in status.error
    assert str(served.data) not in status.error                                  # no server paths in messages
    assert not status.video_url
    assert not (served.data / "uids" / answer.id / "calls" / answer.job).exists()     # its inputs are gone


def test_cancel_stops_a_training_job_within_seconds(client, site):
    answer = client.faceswap(site.url("a.mp4"), site.url("b.mp4"), iterations=40)
    wait_for(lambda: client.status(answer.id, answer.token).stage == "train", 300, step=0.2, what="training")
    asked = time.monotonic()
    assert client.cancel(answer.id, answer.token).state in ("running", "cancelled")
    status = wait_for(lambda: (s := client.status(answer.id, answer.token)).state != "running" and s, 30, step=0.2,
                      what="the job to stop")
    assert status.state == "cancelled" and time.monotonic() - asked < 10


@pytest.mark.browser
def test_the_dashboard_updates_live_and_plays_the_result(client, served, site):
    if not CHROMIUM.is_file():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    answer = client.faceswap(site.url("a.mp4"), site.url("b.mp4"), iterations=40)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.goto(answer.uid)
            page.evaluate("window.__loaded = performance.timeOrigin")
            run = page.locator(f'section.run[data-job="{answer.job}"]')
            seen = set()

            def iteration():
                text = run.locator(".iteration").text_content(timeout=5000) or ""
                number = text.split("/")[0].strip()
                if number.isdigit():
                    seen.add(int(number))
                return len(seen) >= 2
            wait_for(iteration, 600, step=0.3, what="the iteration count to change on the page")
            assert max(seen) > min(seen)
            page.wait_for_function(f"document.querySelector('section.run[data-job=\"{answer.job}\"] video.result')"
                                   f".duration > 0", timeout=600_000)
            assert run.locator(".state").text_content() == "done"
            assert page.evaluate("window.__loaded") == page.evaluate("performance.timeOrigin")   # never reloaded
            assert run.locator("canvas.losses").count() == 1 and run.locator("img.preview").get_attribute("src")
        finally:
            browser.close()
