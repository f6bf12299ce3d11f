"""tools.py bench: one command over the areas' benchmark functions, a table and a JSON file."""
import json

import pytest

from conftest import assert_clean_failure, run_cli

from scripts.tools import bench


@pytest.mark.slow
def test_bench_measures_every_stage_in_child_processes_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_cli("tools.py", "bench", "--frames", 12, "--repeats", 2, "-t", "lightweight", "-b", 2,
                   "--steps", 1, "--convert-model", "lightweight", "--convert-batch", 4, "--json", out)
    doc = json.loads(out.read_text())
    assert doc["format"] == "faceswap-bench"
    machine = doc["machine"]
    assert machine["cores"] >= 1 and machine["cpu"] and isinstance(machine["gpus"], list)
    assert set(machine["versions"]) >= {"python", "tensorflow", "keras", "dlib", "opencv"}
    assert doc["video"]["size"] == "1280x720" and doc["video"]["frames"] == 12
    extract, (train,), convert = doc["extract"], doc["train"], doc["convert"]
    assert extract["frames"] == 12 and extract["fps"] > 0 and len(extract["runs"]) == 2
    assert sorted(extract["runs"])[0] <= extract["fps"] <= sorted(extract["runs"])[1]
    assert train["model"] == "lightweight" and train["batch_size"] == 2 and len(train["runs"]) == 2
    assert train["egs"] > 0 and train["gflops"] > 0
    assert convert["frames"] == 12 and convert["fps"] > 0 and len(convert["runs"]) == 2
    # Each stage ran in its own process: training and convert load TensorFlow, extract does not.
    assert extract["peak_rss_mb"] > 0 and train["peak_rss_mb"] > extract["peak_rss_mb"]
    assert convert["peak_rss_mb"] > 0
    for words in ("extract", "train", "convert", "EG/s", "GFLOP/s", "fps", "peak RSS", "machine:"):
        assert words in proc.stdout, words


def test_bench_table_shows_medians_and_failures():
    results = {"settings": {"repeats": 3}, "total_s": 12.0, "video": {"label": "clip", "size": "1280x720"},
               "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 8, "gpus": ["Fake GPU"],
                           "versions": {"python": "3.11", "tensorflow": "2.21", "keras": "3.15", "dlib": "20",
                                        "opencv": "4.14"}},
               "extract": {"fps": 31.5, "runs": [30.0, 31.5, 33.0], "peak_rss_mb": 400, "frames": 150,
                           "detector": "dlib-hog"},
               "train": [{"model": "original", "batch_size": 16, "precision": "mixed_bfloat16", "params_m": 82.1,
                          "egs": 20.0, "gflops": 250.0, "runs": [19.0, 20.0, 21.0], "peak_rss_mb": 2000},
                         {"model": "villain", "batch_size": 64, "error": "benchmark stage train failed: OOM"}],
               "convert": {"fps": 25.0, "runs": [24.0, 25.0, 26.0], "size": "1280x720", "frames": 150,
                           "model": "original", "batch_size": 16, "peak_rss_mb": 1500}}
    text = bench.table(results)
    assert "31.5 fps" in text and "20.0 EG/s 250 GFLOP/s" in text and "25.0 fps" in text
    assert "villain b64" in text and "failed" in text and "OOM" in text
    assert "Test CPU, 2 cores" in text and "Fake GPU" in text and "median of 3 runs" in text


def test_bench_rejects_an_unknown_model_before_measuring(tmp_path):
    proc = run_cli("tools.py", "bench", "-t", "no-such-model", "--json", tmp_path / "b.json", check=False)
    assert_clean_failure(proc, "no-such-model")
    assert not (tmp_path / "b.json").exists()


def test_bench_cuts_a_given_video_to_the_frames_asked_with_its_sound(tmp_path):
    from conftest import shared
    from lib.video import probe
    video, label = bench._prepare_video(shared("barack_obama", "video_obama_short.mp4"), 20, tmp_path)
    info = probe(video)                         # a cut that kept the full sound would read as truncated
    assert info.frame_count == 20 and info.has_audio and "first 20 frames" in label
