"""The GUI in a real browser (headless Chromium from Debian, driven by Playwright; never a browser download):
extract two clips -> train a small model a few steps and watch its preview appear -> tune a frame in the
convert tuner and see it change -> convert -> the result video plays; and remove faces in the faces browser.
Screenshots of every page go to the test's temp folder (``screenshots/``)."""
import hashlib
import shutil
import socket
import time
from pathlib import Path

import pytest

from conftest import shared
from lib.alignments import Alignments

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
JAMIE = "jamie_oliver/video_oliver_voxceleb_00086.mp4"          # 130 frames, 224x224
CHRISTIE = "chris_christie/video_christie_voxceleb_00015.mp4"   # 174 frames, 224x224

pytestmark = [pytest.mark.slow, pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                                "(apt-get install chromium)")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gui(tmp_path):
    from lib.gui.server import serve
    root = tmp_path / "root"
    (root / "clips").mkdir(parents=True)
    shutil.copy(shared(JAMIE), root / "clips" / "jamie.mp4")
    shutil.copy(shared(CHRISTIE), root / "clips" / "christie.mp4")
    started = serve(root, _free_port())
    yield started, root
    started.stop()


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        tab.on("pageerror", lambda err: errors.append(str(err)))
        tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        tab.shots, tab.errors = shots, errors
        yield tab
        browser.close()


def until(tab, script: str, timeout_s: float = 60) -> None:
    """Wait until ``script`` (a JS function) returns true. Not wait_for_function: that compiles its script in the
    page, which the GUI's Content-Security-Policy (no eval) rightly refuses; evaluate runs outside it."""
    end = time.monotonic() + timeout_s
    while not tab.evaluate(script):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {script}")
        time.sleep(0.1)


def shot(tab, name: str) -> None:
    tab.screenshot(path=str(tab.shots / f"{name}.png"), full_page=True)


def fill_form(tab, command: str, values: dict) -> None:
    tab.goto(tab.base + f"#/run/{command}")
    tab.wait_for_selector(f'form[data-command="{command}"]')
    for field, value in values.items():
        row = tab.locator(f'.field[data-field="{field}"]')
        if isinstance(value, bool):
            row.locator("input[type=checkbox]").set_checked(value)
        elif row.locator("select").count():
            row.locator("select").select_option(str(value))
        elif row.locator("textarea").count():
            row.locator("textarea").fill("\n".join(value) if isinstance(value, list) else str(value))
        else:
            row.locator("input").fill(str(value))


def run_and_wait(tab, name: str, timeout_s: float = 240) -> str:
    """Click Run on the current form, land on the job page and wait for the job to finish; its id."""
    tab.click("button.run")
    tab.wait_for_url("**/#/job/*")
    tab.wait_for_selector(".state.done, .state.failed, .state.cancelled", timeout=timeout_s * 1000)
    shot(tab, name)
    assert tab.locator(".state.done").count() == 1, tab.locator("main").inner_text()
    return tab.url.rsplit("/", 1)[1]


def test_the_whole_workflow_in_the_browser(gui, page, tmp_path):
    started, root = gui
    page.base = f"http://127.0.0.1:{started.port}/"
    timings = {}

    begin = time.monotonic()
    page.goto(started.url)                                   # the printed link: token -> cookie -> home page
    page.wait_for_selector(".commands a.card")
    timings["home"] = time.monotonic() - begin
    assert "token=" not in page.url
    shot(page, "01_home")

    # extract A, choosing its video with the server-side picker
    fill_form(page, "extract", {"output": "faces_a", "every-n": 4})
    page.locator('.field[data-field="input"] button').click()      # "Add…" opens the picker
    page.wait_for_selector("#picker[open] .picker-list li")
    shot(page, "02_picker")
    page.click('#picker li[data-path="clips"]')
    page.click('#picker li[data-path="clips/jamie.mp4"]')
    assert page.locator('.field[data-field="input"] textarea').input_value() == "clips/jamie.mp4"
    shot(page, "03_extract_form")
    run_and_wait(page, "04_extract_job")
    fill_form(page, "extract", {"input": "clips/christie.mp4", "output": "faces_b", "every-n": 4})
    run_and_wait(page, "05_extract_b_job")
    assert len(list((root / "faces_a").glob("*.png"))) > 20

    # train a small model a few steps: the live preview appears on the job page
    fill_form(page, "train", {"input-A": "faces_a", "input-B": "faces_b", "model-dir": "model",
                              "trainer": "lightweight", "option": ["width=0.25", "dense=64"], "batch-size": 4,
                              "iterations": 40, "save-interval": 20})
    page.click("button.run")
    page.wait_for_url("**/#/job/*")
    page.wait_for_selector("img.preview[data-loaded]", timeout=240_000)
    until(page, "() => { const b = document.querySelector('.stats b'); return !!b && b.textContent !== '–'; }")
    shot(page, "06_training")
    page.wait_for_selector(".state.done", timeout=240_000)
    assert page.locator(".monitor .stats").inner_text().split()[0] == "40"         # iterations
    assert (root / "model" / "preview.png").is_file()

    # convert tuner: a frame re-renders when a setting changes
    begin = time.monotonic()
    page.goto(page.base + "#/tuner")
    page.wait_for_selector(".toolbar input")
    timings["tuner page"] = time.monotonic() - begin
    inputs = page.locator(".toolbar input[type=text]")
    inputs.nth(0).fill("model")
    inputs.nth(1).fill("clips/jamie.mp4")
    page.click("button.open")
    page.wait_for_selector('img.swapped[data-renders="1"]', timeout=120_000)
    until(page, "() => { const i = document.querySelector('img.original'); return i.complete && i.naturalWidth > 0; }")
    first = _image_digest(page, "img.swapped")
    page.select_option('select[name="mask-type"]', "components")
    page.wait_for_selector('img.swapped[data-renders="2"]')
    page.locator('input[name="mask-blur"]').fill("12")
    until(page, "() => Number(document.querySelector('img.swapped').dataset.renders) >= 3")
    second = _image_digest(page, "img.swapped")
    assert first != second
    assert "ms" in page.locator(".timing").inner_text()
    shot(page, "07_tuner")

    # save the tuned settings as a -C file, then convert the whole clip with them
    config = page.locator(".card .toolbar").nth(1).locator("input[type=text]")
    config.fill("tuned.toml")
    page.click("button.save-config")
    page.wait_for_selector("text=Saved tuned.toml")
    assert 'mask_type = "components"' in (root / "tuned.toml").read_text()
    page.locator(".card .toolbar").nth(0).locator("input[type=text]").fill("swapped.mp4")
    page.click("button.convert")
    page.wait_for_url("**/#/job/*")
    page.wait_for_selector(".state.done, .state.failed", timeout=240_000)
    assert page.locator(".state.done").count() == 1, page.locator("main").inner_text()
    page.wait_for_selector("video.result")
    duration = page.evaluate("""() => new Promise((ok) => {
        const v = document.querySelector('video.result');
        if (v.readyState >= 1) ok(v.duration);
        else { v.onloadedmetadata = () => ok(v.duration); v.onerror = () => ok(-1); } })""")
    assert duration > 4.5, duration                      # 130 frames at 25 fps = 5.2 s
    shot(page, "08_convert_result")

    # faces browser: landmarks on hover, remove two faces, the alignments file follows
    alignments = root / "clips" / "jamie_alignments.json"
    before = Alignments.load(alignments).face_count()
    begin = time.monotonic()
    page.goto(page.base + "#/faces")
    page.locator(".toolbar input[type=text]").nth(0).fill("faces_a")
    page.click("button.load")
    page.wait_for_selector(".face img")
    timings["faces"] = time.monotonic() - begin
    assert page.locator(".toolbar input[type=text]").nth(1).input_value() == "clips/jamie_alignments.json"
    tiles = page.locator(".face")
    tiles.nth(2).hover()
    page.wait_for_selector('.face canvas[data-drawn="68"]')
    shot(page, "09_faces_landmarks")
    removed = [tiles.nth(2).get_attribute("data-name"), tiles.nth(4).get_attribute("data-name")]
    tiles.nth(2).click()
    tiles.nth(4).click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.remove")
    page.wait_for_selector("p.ok")
    shot(page, "10_faces_removed")
    assert Alignments.load(alignments).face_count() == before - 2
    assert alignments.with_name(alignments.name + ".bak").is_file()
    assert sorted(p.name for p in (root / "faces_a_removed").iterdir()) == sorted(removed)

    # the jobs survive a reload: the list comes back from the jobs table
    page.goto(page.base + "#/jobs")
    page.reload()
    page.wait_for_selector("table.jobs tr[data-job]")
    assert page.locator("table.jobs tr[data-job]").count() == 4
    shot(page, "11_jobs")
    assert not [e for e in page.errors if "favicon" not in e], page.errors
    print("page load times (s):", {k: round(v, 2) for k, v in timings.items()})


def _image_digest(tab, selector: str) -> str:
    data = tab.evaluate("""(sel) => {
        const img = document.querySelector(sel), c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const pixels = ctx.getImageData(0, 0, c.width, c.height).data;
        return Array.from(pixels.filter((_, i) => i % 97 === 0)).join(','); }""",
                        selector)
    return hashlib.sha256(data.encode()).hexdigest()


def test_a_swap_plays_and_its_evaluate_report_opens_from_its_job_page(gui, page):
    started, root = gui
    page.base = f"http://127.0.0.1:{started.port}/"
    page.goto(started.url)
    page.wait_for_selector(".commands a.card")
    fill_form(page, "swap", {"input-a": "clips/jamie.mp4", "input-b": "clips/christie.mp4", "output": "swap.mp4",
                             "iterations": 10, "trainer": "lightweight", "option": ["width=0.25", "dense=64"],
                             "batch-size": 4, "every-n": 4, "save-interval": 10})
    swap_id = run_and_wait(page, "21_swap_job", timeout_s=400)
    assert page.locator(".monitor-card").count() == 1          # a swap trains: its page has the training monitor
    page.wait_for_selector("video.result")
    duration = page.evaluate("""() => new Promise((ok) => {
        const v = document.querySelector('video.result');
        if (v.readyState >= 1) ok(v.duration);
        else { v.onloadedmetadata = () => ok(v.duration); v.onerror = () => ok(-1); } })""")
    assert duration > 4.5, duration
    assert (root / "workspace").is_dir()                          # its default workspace is inside the root

    page.click("button.evaluate")
    page.wait_for_url(lambda url: url.endswith("#/job/" + url.rsplit("/", 1)[1]) and swap_id not in url)
    page.wait_for_selector(".state.done, .state.failed", timeout=300_000)
    assert page.locator(".state.done").count() == 1, page.locator("main").inner_text()
    page.wait_for_selector("table.summary tr")
    shot(page, "22_evaluate_job")
    with page.expect_popup() as popup_info:
        page.locator("a.report").first.click()
    report = popup_info.value
    report.wait_for_load_state()
    assert "identity" in report.content().lower()
    report.screenshot(path=str(page.shots / "23_evaluate_report.png"), full_page=False)
    assert not [e for e in page.errors if "favicon" not in e], page.errors
