"""lib/report.py: report.json, a valid self-contained report.html with embedded PNGs, the terminal summary."""
import base64
import json
from html.parser import HTMLParser

import numpy as np

from lib import report

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Checker(HTMLParser):
    """Collects <img> sources and checks that every element is closed in the right order."""

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.errors, self.title = [], [], [], ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        if tag not in VOID:
            self.stack.append(tag)
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def check_html_report(path):
    """Parse a report.html; assert it is well formed and every image is an embedded PNG. Returns the PNGs."""
    import cv2
    text = path.read_text()
    assert text.lstrip().lower().startswith("<!doctype html>")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    assert checker.title.strip()
    assert "http://" not in text and "https://" not in text      # nothing fetched from elsewhere
    pngs = []
    for img in checker.images:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix), img["src"][:40]
        data = base64.b64decode(img["src"][len(prefix):], validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None
        pngs.append(data)
    return pngs


def synthetic_report(frames=12):
    rng = np.random.default_rng(0)
    records = []
    for i in range(frames):
        found = i != 5
        records.append({
            "index": i * 2, "name": f"clip_{i * 2:06d}.png", "face": {"original": True, "swapped": found},
            "identity": {"A": 0.7 + 0.01 * i, "B": 0.4, "C": 0.9} if found else None,
            "nearest": "B" if found else None, "original_identity": {"A": 0.3, "B": 0.8, "C": 0.9},
            "pose": {"yaw": 1.0, "pitch": 2.0, "roll": 0.5, "angle": 2.3} if found else None,
            "expression": {"mouth": 0.05, "eyes": 0.02, "all": 0.03} if found else None,
            "background": {"ssim": 0.99, "psnr": float(rng.uniform(40, 45))}})
    summary = {
        "frames": {"total": 24, "evaluated": frames, "original_face": frames, "swapped_face": frames - 1,
                   "no_face_in_output": 1, "no_face_frames": ["clip_000010.png"]},
        "identity": {"frames": 11, "distance": {"A": 0.75, "B": 0.4, "C": 0.9}, "retrieval": 1.0,
                     "retrieval_by_identity": {"A": 0.0, "B": 1.0, "C": 0.0},
                     "original_distance": {"A": 0.3, "B": 0.8, "C": 0.9}, "original_nearest": "A",
                     "original_retrieval_a": 1.0},
        "pose": {"yaw": 1.0, "pitch": 2.0, "roll": 0.5, "angle": 2.3, "offset": 1.9, "tracking": 0.8,
                 "follow_yaw": 0.62, "follow_pitch": float("nan")},
        "expression": {"mouth": 0.05, "eyes": 0.02, "all": 0.03},
        "stability": {"landmark_jitter": {"original": 0.01, "swapped": 0.02, "ratio": 2.0},
                      "colour_flicker": {"original": 0.5, "swapped": float("nan"), "ratio": float("nan")}},
        "background": {"ssim": 0.99, "psnr": 42.0, "ssim_min": 0.98}}
    return {"format": report.FORMAT, "version": report.VERSION,
            "inputs": {"original": "a.mp4", "swapped": "a_swapped.mp4", "references": {"A": ["fa"], "B": ["fb"],
                       "C": ["fc"]}, "identities": ["A", "B", "C"], "target": "B", "alignments": None,
                       "every_n": 2, "detector": "dlib-hog", "size": [640, 360]},
            "summary": summary, "frames": records}


def test_report_html_is_valid_and_embeds_its_plots_as_png(tmp_path):
    thumbs = [(f"frame {i}", np.full((96, 192, 3), 40 * i, np.uint8)) for i in range(3)]
    json_path, html_path = report.write(synthetic_report(), tmp_path, (thumbs, thumbs[::-1]))
    pngs = check_html_report(html_path)
    assert len(pngs) == 3                          # identity plot, pose/expression plot, best/worst strip
    assert "clip_000010.png" in html_path.read_text()   # the frame with no face is named


def test_report_json_has_no_nan_and_keeps_every_frame(tmp_path):
    json_path, _ = report.write(synthetic_report(), tmp_path)
    doc = json.loads(json_path.read_text())           # strict JSON: NaN would not be standard
    assert "NaN" not in json_path.read_text()
    assert doc["summary"]["stability"]["colour_flicker"]["swapped"] is None
    assert len(doc["frames"]) == 12 and doc["frames"][5]["identity"] is None


def test_report_without_thumbnails_still_renders(tmp_path):
    _, html_path = report.write(synthetic_report(), tmp_path)
    assert len(check_html_report(html_path)) == 2


def test_summary_fits_one_screen_and_names_the_headline_figures():
    text = report.summary_text(synthetic_report())
    lines = text.splitlines()
    assert len(lines) <= 24 and max(map(len, lines)) <= 120
    for words in ("identity retrieval B", "100.0% of the 11 frames with a swapped face are nearest to B",
                  "1 frame(s), e.g. frame 10",
                  "angle 2.30", "1.90 the same in every frame", "0.80 the rest", "yaw 0.62  pitch n/a",
                  "mouth 0.050", "SSIM 0.9900", "n/a"):
        assert words in text, words
