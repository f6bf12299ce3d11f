"""Shared fixtures: paths to the real faces in ../shared (tests skip when it is absent) and CLI runners."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACESWAP_SHARED", ROOT.parent / "shared")) / "data" / "faces"
sys.path.insert(0, str(ROOT))

# Keep TensorFlow quiet and deterministic-ish in tests.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def shared(*parts) -> Path:
    """A path under ../shared/data/faces; skips the test (with the reason) when it is not there."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs shared test data: {path} not found")
    return path


def clip(rel: str, out: Path, frames: int = 30) -> Path:
    """The first ``frames`` frames of a shared video, without audio, re-encoded fast to ``out``."""
    from lib.video import run_ffmpeg
    run_ffmpeg(["-i", shared(rel), "-frames:v", frames, "-c:v", "libx264", "-preset", "ultrafast", "-an", out],
               "trimming a test clip")
    return out


def run_cli(script: str, *args, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run ``python <script> args...`` from the repo root, as a user would; returns the finished process."""
    cmd = [sys.executable, str(ROOT / script), *map(str, args)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def assert_clean_failure(proc: subprocess.CompletedProcess, *words: str) -> None:
    """A failure a user can act on: non-zero exit, one ERROR line naming the problem, no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word.lower() in errors[0].lower(), errors[0]


@pytest.fixture(scope="session")
def faces_of(tmp_path_factory):
    """``faces_of(video_relpath, every_n)`` -> folder of face PNGs extracted once per session by the real CLI."""
    cache = {}

    def make(relpath: str, every_n: int = 1) -> Path:
        key = (relpath, every_n)
        if key not in cache:
            video = shared(relpath)
            out = tmp_path_factory.mktemp("faces")
            run_cli("faceswap.py", "extract", "-i", video, "-o", out / "faces", "-p", out / "alignments.json",
                    "--every-n", every_n)
            cache[key] = out / "faces"
        return cache[key]
    return make
