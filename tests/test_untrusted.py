"""Every file we read is untrusted: hostile alignments files, face PNGs, model files and images give one clear
error (or are refused before they cost memory), never a raw exception, a file touched outside its folder, or
a wrong result with exit 0. One test per finding of issue 11; the fuzz tests are in test_untrusted_fuzz.py."""
import json
import os
import shutil
import struct
import time
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from conftest import assert_clean_failure, run_cli, shared
from lib.alignments import Alignments
from lib.errors import FaceswapError
from lib.faces import MEAN_FACE, _PNG_KEY, _chunk, align_matrix, read_face_meta, write_face_png
from lib.fileio import atomic_path
from lib.model import data, store
from lib.video import list_images, read_image

CLIP = "jamie_oliver/video_oliver_voxceleb_00086.mp4"


@pytest.fixture
def clip(faces_of, tmp_path):
    """A private copy of 13 faces of a real clip and their alignments file, extracted by the real CLI."""
    faces = faces_of(CLIP, 10)
    shutil.copytree(faces, tmp_path / "faces")
    shutil.copy(faces.parent / "alignments.json", tmp_path / "alignments.json")
    return tmp_path / "faces", tmp_path / "alignments.json"


def _edit(path, change):
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


def _first(doc):
    return next(iter(doc["frames"].values()))[0]


# ---------------------------------------------------------------------------------------------- 1. path traversal
@pytest.mark.parametrize("escape", ["relative", "absolute"])
def test_frame_names_read_from_an_alignments_file_never_reach_outside_the_frames_folder(clip, tmp_path, escape):
    _, alignments = clip
    frames, moved = tmp_path / "frames", tmp_path / "moved"
    frames.mkdir()
    cv2.imwrite(str(frames / "a.png"), np.zeros((8, 8, 3), np.uint8))
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    name = "../victim.png" if escape == "relative" else str(victim)
    _edit(alignments, lambda doc: doc["frames"].update({name: [], "a.png": []}))
    proc = run_cli("tools.py", "alignments", "-j", "no-faces", "-p", alignments, "-i", frames,
                   "--move-to", moved, check=False)
    assert_clean_failure(proc, "not a plain file name")
    assert victim.read_bytes() == b"precious" and not moved.exists()


def test_safe_child_refuses_separators_dots_nul_and_links_out_of_the_folder(tmp_path):
    from lib.fileio import safe_child
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "outside.png").write_bytes(b"x")
    os.symlink(tmp_path / "outside.png", folder / "link.png")
    os.symlink(folder / "ok.png", folder / "inner.png")
    for name in ("../x.png", "/etc/passwd", "a/b.png", "..", ".", "", "a\x00.png", "a\\b.png", "link.png"):
        with pytest.raises(FaceswapError, match="refusing"):
            safe_child(folder, name)
    assert safe_child(folder, "ok.png") == folder / "ok.png"
    assert safe_child(folder, "inner.png") == folder / "inner.png"


# ---------------------------------------------------------------------------------------------- 5. alignments
DEEP = 100_000


@pytest.mark.parametrize("case, words", [
    ("box of 1e30", ["box", "valid integer"]),
    ("source 'hello'", ["source", "dictionary"]),
    (f"nested {DEEP} deep", ["nested too deeply"]),
    ("landmarks of 1e30", ["landmarks", "less than or equal"]),
    ("version '1' as text", ["version", "'1'", "not a whole number"]),
    ("matrix of another face", ["different faces"]),
    ("mask PNG of 100000 px", ["mask", "100000x100000"]),
])
def test_hostile_alignments_files_are_one_clear_error(clip, case, words):
    _, path = clip
    if case.startswith("nested"):
        path.write_text('{"format": "faceswap-alignments", "version": 1, "source": ' + "[" * DEEP + "]" * DEEP
                        + ', "frames": {}}')
    else:
        big_png = cv2.imencode(".png", np.zeros((8, 8), np.uint8))[1].tobytes()
        big_png = big_png[:16] + struct.pack(">II", 100000, 100000) + big_png[24:]
        import base64
        change = {
            "box of 1e30": lambda d: _first(d).update(box=[1e30, 0, 10, 10]),
            "source 'hello'": lambda d: d.update(source="hello"),
            "landmarks of 1e30": lambda d: _first(d).update(landmarks=[[1e30, 1e30]] * 68),
            "version '1' as text": lambda d: d.update(version="1"),
            "matrix of another face": lambda d: _first(d).update(matrix=[[0.01, 0, 0], [0, 0.01, 0]]),
            "mask PNG of 100000 px": lambda d: _first(d)["masks"].update(big=base64.b64encode(big_png).decode()),
        }[case]
        _edit(path, change)
    proc = run_cli("tools.py", "alignments", "-j", "stats", "-p", path, check=False)
    assert_clean_failure(proc, str(path), *words)
    with pytest.raises(FaceswapError):
        Alignments.load(path)


def test_version_given_as_text_is_not_reported_as_a_newer_version(clip):
    _, path = clip
    _edit(path, lambda d: d.update(version="1"))
    with pytest.raises(FaceswapError) as err:
        Alignments.load(path)
    assert "reads up to" not in str(err.value) and "'1'" in str(err.value)


# ---------------------------------------------------------------------------------------------- 5. face PNGs
def _with_meta_chunk(source, target, body: bytes):
    """``source`` PNG with its faceswap chunk replaced by one holding ``body`` (after the keyword)."""
    raw = source.read_bytes()
    start = raw.index(b"iTXt" + _PNG_KEY) - 4
    length = struct.unpack(">I", raw[start:start + 4])[0]
    target.write_bytes(raw[:start] + _chunk(b"iTXt", _PNG_KEY + b"\x00" + body) + raw[start + 12 + length:])
    return target


def _meta_body(meta) -> bytes:
    return b"\x01\x00\x00\x00" + zlib.compress(json.dumps(meta).encode())


@pytest.mark.parametrize("case, words", [
    ("empty chunk", ["damaged chunk"]),
    ("version '2'", ["version '2'", "not a whole number"]),
    ("landmarks 'abc'", ["landmarks", "valid list"]),
    ("NaN landmarks", ["landmarks", "finite"]),
    ("frame '../../x.png'", ["frame", "plain file name"]),
])
def test_hostile_face_png_metadata_is_one_clear_error(clip, case, words):
    faces, _ = clip
    face = sorted(faces.iterdir())[0]
    meta = read_face_meta(face)
    body = b"" if case == "empty chunk" else _meta_body(dict(meta, **{
        "version '2'": {"version": "2"}, "landmarks 'abc'": {"landmarks": "abc"},
        "NaN landmarks": {"landmarks": [[float("nan"), float("nan")]] * 68},
        "frame '../../x.png'": {"frame": "../../x.png"}}[case]))
    _with_meta_chunk(face, face, body)
    with pytest.raises(FaceswapError, match="re-extract"):
        read_face_meta(face)
    proc = run_cli("tools.py", "alignments", "-j", "leftover-faces", "-p", faces.parent / "alignments.json",
                   "-f", faces, check=False)
    assert_clean_failure(proc, face.name, *words)


def test_a_metadata_chunk_inflating_to_300_mb_is_refused_without_inflating_it(clip, tmp_path):
    faces, _ = clip
    bomb = b"\x01\x00\x00\x00" + zlib.compress(b'{"a": "' + b" " * 300_000_000 + b'"}', 9)
    path = _with_meta_chunk(sorted(faces.iterdir())[0], tmp_path / "bomb.png", bomb)
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(FaceswapError, match="inflating to over"):
            read_face_meta(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6, f"{peak / 1e6:.0f} MB used to refuse it"


def test_nan_landmark_faces_are_refused_before_training_instead_of_training_at_loss_zero(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        landmarks = MEAN_FACE * 100 + 60
        meta = {"landmarks": landmarks.tolist(), "matrix": align_matrix(landmarks).tolist(), "size": 128,
                "centering": "face"}
        if i == 7:
            meta["landmarks"] = [[float("nan")] * 2] * 68
        write_face_png(folder / f"f_{i}.png", rng.integers(0, 255, (128, 128, 3), np.uint8), meta)
    with pytest.raises(FaceswapError, match="f_7.png.*finite"):
        data.load_faces(folder, "A", 64, 64)


# ---------------------------------------------------------------------------------------------- 5, 7. images
def _png_claiming(width, height) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    raw = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return raw[:8] + _chunk(b"IHDR", ihdr) + raw[33:]


def test_a_png_header_claiming_100000_px_square_is_one_clear_error(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "claim.png").write_bytes(_png_claiming(100000, 100000))
    proc = run_cli("faceswap.py", "extract", "-i", photos, "-o", tmp_path / "faces", check=False)
    assert_clean_failure(proc, "claim.png", "100000x100000", "FACESWAP_MAX_IMAGE_PIXELS")


@pytest.fixture(scope="module")
def png_bomb(tmp_path_factory):
    """An 875 KB PNG of 30000x30000 black pixels (2.7 GB decoded), written without holding the pixels."""
    width = height = 30000
    deflate, row = zlib.compressobj(9), b"\x00" * (width + 1)
    idat = b"".join([deflate.compress(row * 1000) for _ in range(height // 1000)] + [deflate.flush()])
    png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png)
    return path


def test_an_875_kb_png_of_30000_px_square_is_refused_from_its_header_before_decoding(png_bomb):
    assert png_bomb.stat().st_size < 1_000_000
    started = time.perf_counter()
    with pytest.raises(FaceswapError, match="30000x30000 pixels, over the limit"):
        read_image(png_bomb)
    assert time.perf_counter() - started < 1.0   # decoding it takes minutes and 2.7 GB


def test_the_pixel_limit_is_settable(tmp_path, monkeypatch):
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), np.zeros((64, 64, 3), np.uint8))
    monkeypatch.setenv("FACESWAP_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(FaceswapError, match="64x64 pixels, over the limit"):
        read_image(path)
    monkeypatch.setenv("FACESWAP_MAX_IMAGE_PIXELS", "5e3")
    assert read_image(path).shape == (64, 64, 3)
    monkeypatch.setenv("FACESWAP_MAX_IMAGE_PIXELS", "lots")
    with pytest.raises(FaceswapError, match="not a positive number"):
        read_image(path)


# ---------------------------------------------------------------------------------------------- 4, 5, 8. models
def _model(folder, iterations=5, value=0.5, **meta_changes):
    weights = [np.full((8, 4), value, np.float32), np.full((4,), value, np.float32)]
    meta = {"plugin": "original", "settings": {}, "iterations": iterations, "input_size": 64, "output_size": 64}
    return store.save(folder, meta, weights, [np.zeros((8, 4), np.float32)])


def _rewrite_meta(path, change):
    """Rewrite a model file's meta in place (arrays unchanged), as a hostile or careless editor would."""
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(bytes(arrays["meta"]))
    change(meta, arrays)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize("case, words", [
    ("weights 5", ["weights", "valid list"]),
    ("version '1'", ["version '1'", "not a whole number"]),
    ("input_size -3", ["input_size"]),
    ("settings nested", ["settings"]),
])
def test_hostile_model_meta_is_one_clear_error(tmp_path, case, words):
    path = _model(tmp_path)
    _rewrite_meta(path, lambda meta, arrays: meta.update({
        "weights 5": {"weights": 5}, "version '1'": {"version": "1"}, "input_size -3": {"input_size": -3},
        "settings nested": {"settings": {"a": [[[1]]]}}}[case]))
    assert_clean_failure(run_cli("tools.py", "model", "-j", "info", "-m", tmp_path, check=False), *words)


def test_a_model_with_nan_weights_is_refused_before_convert_writes_a_frame(clip, tmp_path):
    faces, alignments = clip
    model = tmp_path / "model"
    path = _model(model)
    _rewrite_meta(path, lambda meta, arrays: arrays.update(w0001=np.array([np.nan, 0, 0, 0], np.float32)))
    with pytest.raises(FaceswapError, match="NaN/inf weights"):
        store.load_model(model)
    out = tmp_path / "out.mp4"
    proc = run_cli("faceswap.py", "convert", "-i", shared(CLIP), "-p", alignments, "-m", model, "-o", out,
                   check=False)
    assert_clean_failure(proc, "NaN/inf weights")
    assert not out.exists()
    scan = run_cli("tools.py", "model", "-j", "nan-scan", "-m", model, check=False)
    assert_clean_failure(scan, "NaN/inf")
    assert "weight 1: 1 of 4 values are NaN/inf" in scan.stdout


def test_nan_weights_are_never_saved_and_the_message_names_the_real_last_good_save(tmp_path):
    _model(tmp_path, iterations=5)
    before = (tmp_path / "model.npz").read_bytes()
    weights = [np.full((8, 4), np.nan, np.float32)]
    with pytest.raises(FaceswapError, match=r"NaN/inf by iteration 9.*last good save \(iteration 5\) is kept"):
        store.save(tmp_path, {"plugin": "original", "settings": {}, "iterations": 9, "input_size": 64,
                              "output_size": 64}, weights)
    assert (tmp_path / "model.npz").read_bytes() == before


def test_model_info_json_ignores_files_in_snapshots_that_are_not_snapshots(tmp_path):
    _model(tmp_path, iterations=6)
    store.snapshot(tmp_path)
    shutil.copy(tmp_path / "snapshots" / "model_6.npz", tmp_path / "snapshots" / "model_6 (copy).npz")
    shutil.copy(tmp_path / "snapshots" / "model_6.npz", tmp_path / "snapshots" / "model_x.npz")
    out = run_cli("tools.py", "model", "-j", "info", "--json", "-m", tmp_path)
    assert json.loads(out.stdout)["snapshots"] == [6]
    assert "snapshots    6" in run_cli("tools.py", "model", "-j", "info", "-m", tmp_path).stdout


def test_restore_over_a_broken_model_says_where_the_broken_one_went(tmp_path):
    _model(tmp_path, iterations=1)
    _model(tmp_path, iterations=2)
    backup = (tmp_path / "model.npz.bak").read_bytes()
    (tmp_path / "model.npz").write_bytes(b"broken" * 100)
    proc = run_cli("tools.py", "model", "-j", "restore", "-m", tmp_path)
    assert "broken and is kept as model.npz.corrupt" in proc.stderr and "is now model.npz.bak" not in proc.stderr
    assert (tmp_path / "model.npz.corrupt").read_bytes() == b"broken" * 100
    assert (tmp_path / "model.npz").read_bytes() == backup and store.read_meta(tmp_path)["iterations"] == 1


def test_a_model_file_that_inflates_far_beyond_its_size_is_refused_unread(tmp_path):
    path = _model(tmp_path)
    import zipfile
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    zeros = np.zeros(50_000_000, np.float32)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
        with archive.open("o0001.npy", "w") as member:
            np.lib.format.write_array(member, zeros)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(FaceswapError, match="inflates far beyond"):
        store.read_file(path)


# ---------------------------------------------------------------------------------------------- 6. temp files
def test_temp_files_of_a_killed_write_are_hidden_from_listings_and_cleaned_by_a_later_run(tmp_path):
    from lib.fileio import remove_stale_temps
    folder = tmp_path / "faces"
    folder.mkdir()
    cv2.imwrite(str(folder / "real.png"), np.zeros((8, 8, 3), np.uint8))
    dead = 2 ** 22 + 12345          # above pid_max on most systems: no such process
    stale = folder / f".real2.png.{dead}-abc123.png"
    stale.write_bytes(b"")
    os.utime(stale, (0, 0))
    with atomic_path(folder / "live.png") as live:     # a temp of this (live) process stays
        live.write_bytes(b"")
        assert [p.name for p in list_images(folder)] == ["real.png"]
        assert remove_stale_temps(folder) == 1
        assert not stale.exists() and live.exists()
    assert sorted(p.name for p in folder.iterdir()) == ["live.png", "real.png"]


# ---------------------------------------------------------------------------------------------- 8. smaller
@pytest.fixture
def read_only(tmp_path):
    """A folder nothing can be written into (chattr +i for root, whom chmod does not stop)."""
    import subprocess
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() == 0:
        made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    else:
        folder.chmod(0o555)
        made = True
    try:
        (folder / ".probe").write_bytes(b"")
        (folder / ".probe").unlink()
        made = False
    except OSError:
        pass
    if not made:
        pytest.skip("cannot make a read-only folder here")
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
    else:
        folder.chmod(0o755)


def test_train_into_a_read_only_folder_fails_before_training(faces_of, read_only):
    faces = faces_of(CLIP, 4)
    proc = run_cli("faceswap.py", "train", "-A", faces, "-B", faces, "-m", read_only / "model", "-i", "1000",
                   "-t", "lightweight", "-O", "width=0.125", "-O", "dense=64", "-b", "4", check=False)
    assert_clean_failure(proc, "read-only", str(read_only))
    assert "from iteration" not in proc.stderr     # refused before the faces were loaded and training began


@pytest.mark.parametrize("content", [b"[1, 2]", b"[" * DEEP + b"]" * DEEP, b'{"version": 2, "extract_a": 5}'])
def test_a_garbage_workspace_state_is_redone_with_a_warning_not_a_crash(tmp_path, content, caplog):
    from lib.jobs.swap import Workspace
    (tmp_path / "state.json").write_bytes(content)
    assert Workspace(tmp_path).state == {}
    assert "workspace state" in caplog.text


WARN = ("import sys; sys.path.insert(0, {root!r}); import numpy as np; from lib import cli; "
        "cli._setup_logging({level!r}); np.log(np.zeros(3) - 1)")


def test_numpy_warnings_stay_off_the_console_unless_debugging():
    import subprocess
    import sys
    from conftest import ROOT
    quiet = subprocess.run([sys.executable, "-c", WARN.format(root=str(ROOT), level="info")], capture_output=True,
                           text=True)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    debug = subprocess.run([sys.executable, "-c", WARN.format(root=str(ROOT), level="debug")], capture_output=True,
                           text=True)
    assert "RuntimeWarning: invalid value encountered in log" in debug.stderr
    assert all(line.startswith(("WARNING", "DEBUG", " ", "  ")) for line in debug.stderr.splitlines() if line)
