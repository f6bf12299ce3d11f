"""The README's main job (`make demo`): a whole swap on the built-in sample portraits, no shared data needed.
Run here with a 1 s clip, 2 training steps and 2 s of the face enhancer, so it checks the plumbing, not the
look (USAGE.md, "The demo", has the full run's figures)."""
import json
import subprocess
import sys

import pytest
from conftest import ROOT
from lib.provenance import is_tagged
from lib.video import probe, read_metadata


@pytest.mark.slow
def test_demo_swaps_the_sample_portraits_and_says_where_the_video_is(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "scripts.demo", "--iterations", "2", "--enhance", "2s",
                           "--seconds", "1", "--out-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "demo_swap.mp4"
    assert f"swapped video: {out}" in proc.stdout
    info = probe(out)
    assert info.frame_count == probe(tmp_path / "demo_astronaut.mp4").frame_count == 25
    assert info.has_audio and is_tagged(read_metadata(out))
    assert (tmp_path / "demo_workspace" / "model" / "enhancer_b").is_dir()     # B's face enhancer was trained
    # and it measured what it made: the evaluate report, with its summary printed
    summary = json.loads((tmp_path / "demo_report" / "report.json").read_text())["summary"]
    assert summary["frames"]["evaluated"] == 25
    assert "face sharpness" in proc.stdout
    assert f"its report:    {tmp_path / 'demo_report' / 'report.html'}" in proc.stdout
