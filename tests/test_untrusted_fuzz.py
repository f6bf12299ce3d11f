"""Fuzzing every loader of a file a user may be handed: seeded random mutations of a valid alignments file, face
PNG, model file, image and workspace state. Each load must either give valid data or raise FaceswapError,
never another exception, never write anything, and never take much memory. Seeded, so a failure replays."""
import copy
import json
import os
import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from lib.alignments import Alignments, Face
from lib.errors import FaceswapError
from lib.faces import MEAN_FACE, _PNG_KEY, _chunk, align_matrix, encode_face_png, read_face_meta
from lib.model import store
from lib.validate import MAX_COORD, plain_name
from lib.video import read_image

# Cases per loader (model files: half): a few seconds each in `make test`; FACESWAP_FUZZ_CASES=5000 digs deeper.
CASES = int(os.environ.get("FACESWAP_FUZZ_CASES", 600))
HOSTILE = [None, True, False, 0, -1, 1.5, 1e30, -1e30, float("nan"), float("inf"), 2 ** 70, "", "abc", "1",
           "../../victim.png", "/etc/passwd", "a\x00b", "x" * 5000, [], {}, [1e30] * 68, [[0.5, 0.5]] * 68,
           [[1, 2, 3], [4, 5, 6]], {"a": [1]}, [[float("nan")] * 2] * 68]


def _paths(node, path=()):
    """Every (path to a value) in a JSON tree."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, path + (i,))


def _mutate_json(doc, rng):
    """``doc`` with one to three random edits: a value replaced by a hostile one, a key dropped or renamed, a
    value nested deeply, a list cut short or doubled."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.integers(1, 4)):
        paths = list(_paths(doc))
        path = paths[rng.integers(len(paths))]
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        key, kind = path[-1], rng.integers(6)
        if kind <= 2:
            parent[key] = copy.deepcopy(HOSTILE[rng.integers(len(HOSTILE))])
        elif kind == 3 and isinstance(parent, dict):
            value = parent.pop(key)
            if rng.random() < 0.5:
                parent[rng.choice(["../x.png", "", "a\x00", str(key) + "_"])] = value
        elif kind == 4:
            parent[key] = f"__DEEP{int(rng.choice([10, 900, 100_000]))}__"   # made by _dumps
        elif isinstance(parent[key], list):
            parent[key] = parent[key][: rng.integers(len(parent[key]) + 1)] if rng.random() < 0.5 \
                else parent[key] * 2
        elif isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
            parent[key] = parent[key] * float(rng.choice([-1, 1e6, 1e-9, 1e300]))
    return doc


def _dumps(doc) -> bytes:
    """JSON text of a mutated ``doc``, its ``__DEEP<n>__`` markers replaced by lists nested n deep (deeper than
    json.dumps itself could write)."""
    text = json.dumps(doc)
    for depth in (10, 900, 100_000):
        text = text.replace(f'"__DEEP{depth}__"', "[" * depth + "]" * depth)
    return text.encode()


def _mutate_bytes(raw: bytes, rng) -> bytes:
    """``raw`` with random bytes flipped, a piece cut out, or cut short."""
    data = bytearray(raw)
    kind = rng.integers(3)
    if kind == 0:
        for _ in range(rng.integers(1, 8)):
            data[rng.integers(len(data))] = rng.integers(256)
    elif kind == 1:
        start = rng.integers(len(data))
        del data[start:start + rng.integers(1, 64)]
    else:
        del data[rng.integers(len(data)):]
    return bytes(data)


def _only_our_error(load, check_valid, cases, seed):
    """Run ``cases`` loads; return counts. Only FaceswapError may come out; what loads must be valid."""
    loaded = refused = 0
    tracemalloc.start()
    try:
        for case in range(cases):
            try:
                result = load(case, np.random.default_rng([seed, case]))
            except FaceswapError as err:
                assert "\n" not in str(err), f"case {case}: error over two lines: {err}"
                refused += 1
                continue
            except Exception as err:  # noqa: BLE001 - what this test looks for
                raise AssertionError(f"case {case} (seed {seed}): {type(err).__name__}: {err}") from err
            check_valid(result)
            loaded += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200e6, f"a load took {peak / 1e6:.0f} MB"
    return loaded, refused


def _face(offset=0.0):
    landmarks = (MEAN_FACE * 120 + 200 + offset).astype(np.float32)
    mask = np.zeros((64, 64), np.uint8)
    mask[10:50, 10:50] = 255
    return Face(np.array([190, 180, 140, 150]), landmarks, 1.25, "dlib-hog",
                np.linspace(-0.2, 0.2, 128).astype(np.float32), {"components": mask})


def _valid_face(landmarks, matrix):
    landmarks, matrix = np.asarray(landmarks, np.float64), np.asarray(matrix, np.float64)
    assert landmarks.shape == (68, 2) and matrix.shape == (2, 3)
    assert np.isfinite(landmarks).all() and np.abs(landmarks).max() <= MAX_COORD and np.isfinite(matrix).all()
    assert abs(np.linalg.det(matrix[:, :2])) > 0


def _nothing_written(folder, before):
    assert sorted(p.name for p in folder.iterdir()) == before, "a loader wrote a file"


# ---------------------------------------------------------------------------------------------- the loaders
def test_fuzzed_alignments_files_load_valid_or_fail_with_our_error(tmp_path):
    good = Alignments({"path": "clip.mp4", "frame_count": 3, "fps": 25.0, "width": 640, "height": 360})
    good.frames = {"clip_000000.png": [_face()], "clip_000001.png": [], "clip_000002.png": [_face(5), _face(9)]}
    doc = json.loads(good.to_bytes())
    raw = good.to_bytes()
    path = tmp_path / "alignments.json"

    def load(case, rng):
        path.write_bytes(_mutate_bytes(raw, rng) if case % 5 == 4 else
                         _dumps(_mutate_json(doc, rng)))
        return Alignments.load(path)

    def valid(alignments):
        for name, faces in alignments.frames.items():
            plain_name(name)
            for face in faces:
                _valid_face(face.landmarks, face.matrix)
                assert face.box.shape == (4,) and np.abs(face.box).max() <= MAX_COORD
                for mask_name in face.masks:
                    try:
                        assert face.masks[mask_name].shape[0] <= 1024
                    except FaceswapError:
                        pass   # a damaged mask is refused when it is read, with our error
        alignments.to_bytes()

    loaded, refused = _only_our_error(load, valid, CASES, seed=11)
    _nothing_written(tmp_path, ["alignments.json"])
    print(f"alignments: {CASES} cases, {loaded} loaded valid, {refused} refused with one clear line")
    assert refused > CASES / 4 and loaded > 10, "the mutations should hit both outcomes"


def test_fuzzed_face_pngs_load_valid_metadata_or_fail_with_our_error(tmp_path):
    face = _face()
    meta = {"source": "clip.mp4", "frame": "clip_000001.png", "frame_index": 1, "face_index": 0, "size": 32,
            "centering": "face", "landmarks": face.landmarks.tolist(), "matrix": face.matrix.tolist(),
            "identity": face.identity.tolist(), "detector": "dlib-hog", "score": 1.2}
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)
    raw = encode_face_png(image, meta)
    path = tmp_path / "face.png"

    def load(case, rng):
        if case % 4 == 3:                              # damaged bytes anywhere in the file
            path.write_bytes(_mutate_bytes(raw, rng))
        elif case % 4 == 2:                            # a damaged chunk: its length, flags or deflate stream
            start = raw.index(b"iTXt" + _PNG_KEY) - 4
            length = struct.unpack(">I", raw[start:start + 4])[0]
            body = _mutate_bytes(raw[start + 8 + len(_PNG_KEY) + 1:start + 8 + length], rng)
            chunk = _chunk(b"iTXt", _PNG_KEY + b"\x00" + body)
            if rng.random() < 0.3:
                chunk = struct.pack(">I", int(rng.choice([0, 2 ** 31, 2 ** 32 - 1]))) + chunk[4:]
            path.write_bytes(raw[:start] + chunk + raw[start + 12 + length:])
        else:                                          # hostile values in well-formed JSON
            text = _dumps(_mutate_json(dict(meta, version=1), rng))
            chunk = _chunk(b"iTXt", _PNG_KEY + b"\x00\x01\x00\x00\x00" + zlib.compress(text))
            path.write_bytes(raw[:33] + chunk + raw[raw.index(b"IDAT") - 4:])
        return read_face_meta(path), path

    def valid(result):
        found, where = result
        if found is not None:
            _valid_face(found["landmarks"], found["matrix"])
            if found.get("frame") is not None:
                plain_name(found["frame"])
        try:
            assert read_image(where).ndim == 3
        except FaceswapError:
            pass

    loaded, refused = _only_our_error(load, valid, CASES, seed=12)
    _nothing_written(tmp_path, ["face.png"])
    print(f"face PNGs: {CASES} cases, {loaded} loaded valid, {refused} refused with one clear line")
    assert refused > CASES / 4 and loaded > 10


def test_fuzzed_model_files_load_valid_or_fail_with_our_error(tmp_path):
    folder = tmp_path / "model"
    weights = [np.full((8, 4), 0.5, np.float32), np.full((4,), 0.25, np.float32)]
    meta = {"plugin": "original", "settings": {"width": 0.5}, "iterations": 12, "input_size": 64,
            "output_size": 64, "history": [[10, 0.1, 0.2]], "centering": "face", "coverage": 0.8}
    path = store.save(folder, meta, weights, [np.zeros((8, 4), np.float32)])
    raw = path.read_bytes()
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    good_meta = json.loads(bytes(arrays["meta"]))
    fuzzed = tmp_path / "fuzzed.npz"

    def load(case, rng):
        if case % 3 == 2:
            fuzzed.write_bytes(_mutate_bytes(raw, rng))
        else:
            changed = dict(arrays, meta=np.frombuffer(_dumps(_mutate_json(good_meta, rng)), np.uint8))
            if case % 3 == 1:
                name = str(rng.choice(["w0000", "w0001", "o0000"]))
                changed[name] = [np.full((8, 4), np.nan, np.float32), np.zeros((3, 3), np.float32),
                                 np.zeros((8, 4), np.int64), np.zeros((8, 4), np.float16)][rng.integers(4)]
            with open(fuzzed, "wb") as handle:
                np.savez(handle, **changed)
        return store.read_file(fuzzed)

    def valid(result):
        meta_, weights_, optimizer_ = result
        assert isinstance(meta_["iterations"], int) and meta_["iterations"] >= 0
        assert 8 <= meta_["input_size"] <= 4096 and isinstance(meta_["settings"], dict)
        for w, shape in zip(weights_, meta_["weights"]):
            assert list(w.shape) == shape and np.isfinite(w).all()

    cases = CASES // 2
    loaded, refused = _only_our_error(load, valid, cases, seed=13)
    _nothing_written(folder, ["model.npz"])
    print(f"model files: {cases} cases, {loaded} loaded valid, {refused} refused with one clear line")
    assert refused > cases / 4 and loaded > 5


def test_fuzzed_image_headers_decode_within_the_pixel_limit_or_fail_with_our_error(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (24, 32, 3), np.uint8)
    raws = {ext: cv2.imencode(ext, image)[1].tobytes() for ext in (".png", ".jpg", ".bmp", ".webp", ".tif")}

    def load(case, rng):
        ext = list(raws)[case % len(raws)]
        data = bytearray(raws[ext])
        if ext == ".png" and rng.random() < 0.3:    # claim a size, keep the rest
            data[16:24] = struct.pack(">II", *(int(v) for v in rng.choice([1, 30000, 100000, 2 ** 31 - 1], 2)))
        path = tmp_path / f"image{ext}"
        path.write_bytes(_mutate_bytes(bytes(data), rng))
        return read_image(path)

    def valid(decoded):
        assert decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[0] * decoded.shape[1] <= 1e8

    loaded, refused = _only_our_error(load, valid, CASES, seed=14)
    print(f"images: {CASES} cases, {loaded} decoded, {refused} refused with one clear line")
    assert refused > 10 and loaded > 10


def test_fuzzed_workspace_state_is_kept_valid_or_dropped_with_a_warning(tmp_path):
    from lib.jobs.swap import Workspace, fingerprint
    video = tmp_path / "a.mp4"
    video.write_bytes(b"not really a video, but it has a fingerprint")
    entry = {"input": fingerprint(video), "done": True}
    doc = {"version": 2, "extract_a": entry, "extract_b": dict(entry, done=False)}
    state = tmp_path / "state.json"

    def load(case, rng):
        state.write_bytes(_mutate_bytes(json.dumps(doc).encode(), rng) if case % 4 == 3 else
                          _dumps(_mutate_json(doc, rng)))
        return Workspace(tmp_path).state

    def valid(loaded):
        assert isinstance(loaded, dict) and set(loaded) <= {"extract_a", "extract_b"}
        for value in loaded.values():
            assert isinstance(value["done"], bool) and isinstance(value["input"]["sha256"], str)

    loaded, refused = _only_our_error(load, valid, CASES, seed=15)
    _nothing_written(tmp_path, ["a.mp4", "state.json"])
    print(f"workspace state: {CASES} cases, {loaded} loaded (valid entries kept), {refused} refused")
    assert loaded > CASES / 2
