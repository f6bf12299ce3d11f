"""Fuzzing every loader of a file a user may be handed (hypothesis; see tests/fuzzing.py): alignments files,
face-PNG metadata, model files (meta and weights), workspace state, -C config files and image headers.

Each loader gets FACESWAP_FUZZ_CASES drawn inputs (3000 by default): documents made from the format's own schema,
valid documents with a few values broken, and damaged bytes. It must return valid data or raise FaceswapError
in one line naming the file; never another exception, never a write, never much memory. Derandomized: CI runs
the same cases every time, and a failure is shrunk to a small case hypothesis prints."""
import argparse
import contextlib
import datetime
import io
import json
import re
import struct
import sys
import tomllib
import zlib
from collections import Counter

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fuzzing
from fuzzing import Deep, Schema, damaged, dumps, mutated
from lib.alignments import Alignments, Document, Face
from lib.errors import FaceswapError
from lib.faces import MEAN_FACE, _PNG_KEY, _chunk, encode_face_png, read_face_meta
from lib.model import store
from lib.validate import MAX_COORD, plain_name
from lib.video import read_image


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """(inputs folder, an empty current folder): whatever a loader writes anywhere near shows up."""
    inputs, here = tmp_path / "inputs", tmp_path / "cwd"
    inputs.mkdir()
    here.mkdir()
    monkeypatch.chdir(here)
    return inputs


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


# ---------------------------------------------------------------------------------------------- alignments
@pytest.mark.slow
def test_fuzzed_alignments_files_load_valid_or_fail_with_our_error(folders):
    good = Alignments({"path": "clip.mp4", "frame_count": 3, "fps": 25.0, "width": 640, "height": 360})
    good.frames = {"clip_000000.png": [_face()], "clip_000001.png": [], "clip_000002.png": [_face(5), _face(9)]}
    raw = good.to_bytes()
    doc, schema = json.loads(raw), Schema(Document.model_json_schema())
    path = folders / "alignments.json"

    def draw_input(data):
        kind = data.draw(st.sampled_from(["edited", "edited", "schema", "bytes"]), label="kind")
        path.write_bytes(dumps(data.draw(mutated(doc, schema))) if kind == "edited" else
                         dumps(data.draw(schema.values())) if kind == "schema" else data.draw(damaged(raw)))
        return path

    def valid(alignments):
        for name, faces in alignments.frames.items():
            plain_name(name)                                  # a frame name never leaves its folder
            for face in faces:
                _valid_face(face.landmarks, face.matrix)
                assert face.box.shape == (4,) and np.abs(face.box).max() <= MAX_COORD
                for mask_name in face.masks:
                    with contextlib.suppress(FaceswapError):  # a damaged mask is our error when it is read
                        assert face.masks[mask_name].shape[0] <= 1024
        again = Alignments._from_bytes(alignments.to_bytes(), path, "")   # what loads, saves and loads again
        assert list(again.frames) == list(alignments.frames)

    counts = fuzzing.run("alignments", draw_input, Alignments.load, valid, folders)
    assert counts["refused"] > fuzzing.CASES / 4 and counts["loaded"] > fuzzing.CASES / 20


# ---------------------------------------------------------------------------------------------- face PNGs
@pytest.mark.slow
def test_fuzzed_face_pngs_load_valid_metadata_or_fail_with_our_error(folders):
    from lib.faces import FaceMeta
    face = _face()
    meta = {"source": "clip.mp4", "frame": "clip_000001.png", "frame_index": 1, "face_index": 0, "size": 32,
            "centering": "face", "landmarks": face.landmarks.tolist(), "matrix": face.matrix.tolist(),
            "identity": face.identity.tolist(), "detector": "dlib-hog", "score": 1.2}
    image = np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)
    raw = encode_face_png(image, meta)
    schema = Schema(FaceMeta.model_json_schema())
    start = raw.index(b"iTXt" + _PNG_KEY) - 4
    length = struct.unpack(">I", raw[start:start + 4])[0]
    body = raw[start + 8 + len(_PNG_KEY) + 1:start + 8 + length]      # flags, method, language, keyword, text
    path = folders / "face.png"

    def with_chunk(chunk: bytes) -> bytes:
        return raw[:start] + chunk + raw[start + 12 + length:]

    def draw_input(data):
        kind = data.draw(st.sampled_from(["edited", "edited", "schema", "chunk", "bytes"]), label="kind")
        if kind in ("edited", "schema"):
            text = dumps(data.draw(mutated(dict(meta, version=1), schema)) if kind == "edited" else
                         data.draw(schema.values()))
            compressed = data.draw(st.booleans())
            packed = b"\x01\x00\x00\x00" + zlib.compress(text) if compressed else b"\x00\x00\x00\x00" + text
            path.write_bytes(with_chunk(_chunk(b"iTXt", _PNG_KEY + b"\x00" + packed)))
        elif kind == "chunk":                           # a damaged chunk: flags, deflate stream, length field
            chunk = _chunk(b"iTXt", _PNG_KEY + b"\x00" + data.draw(damaged(body)))
            if data.draw(st.booleans()):
                claimed = data.draw(st.sampled_from([0, 1, len(_PNG_KEY), 2 ** 20 + 1, 2 ** 31, 2 ** 32 - 1]))
                chunk = struct.pack(">I", claimed) + chunk[4:]
            path.write_bytes(with_chunk(chunk))
        else:
            path.write_bytes(data.draw(damaged(raw)))
        return path

    def load(where):
        return read_face_meta(where), read_image(where)

    def valid(result):
        found, decoded = result
        if found is not None:
            _valid_face(found["landmarks"], found["matrix"])
            if found.get("frame") is not None:
                plain_name(found["frame"])
        assert decoded.dtype == np.uint8 and decoded.ndim == 3

    counts = fuzzing.run("face PNGs", draw_input, load, valid, folders)
    assert counts["refused"] > fuzzing.CASES / 4 and counts["loaded"] > fuzzing.CASES / 20


# ---------------------------------------------------------------------------------------------- models
@pytest.mark.slow
def test_fuzzed_model_files_load_valid_or_fail_with_our_error(folders):
    weights = [np.full((8, 4), 0.5, np.float32), np.full((4,), 0.25, np.float32)]
    meta = {"plugin": "original", "settings": {"width": 0.5}, "iterations": 12, "input_size": 64,
            "output_size": 64, "history": [[10, 0.1, 0.2]], "centering": "face", "coverage": 0.8}
    saved = store.save(folders.parent / "model", meta, weights, [np.zeros((8, 4), np.float32)])
    raw = saved.read_bytes()
    with np.load(saved) as archive:
        arrays = {name: archive[name] for name in archive.files}
    good_meta = json.loads(bytes(arrays["meta"]))
    schema = Schema(store.ModelMeta.model_json_schema())
    path = folders / "model.npz"
    odd_arrays = st.sampled_from([
        np.full((8, 4), np.nan, np.float32), np.full((4,), np.inf, np.float32), np.zeros((3, 3), np.float32),
        np.zeros((8, 4), np.int64), np.zeros((8, 4), np.float16), np.zeros((8, 4), bool), np.float32(1.0),
        np.zeros((8, 4), np.complex64), np.array([{"pickled": 1}, None], object),
        np.zeros((8, 4), [("a", np.float32)]), np.zeros((0,), np.float32), np.zeros((8, 4, 1), np.float32)])

    def draw_input(data):
        kind = data.draw(st.sampled_from(["edited", "edited", "schema", "arrays", "bytes"]), label="kind")
        if kind == "bytes":
            path.write_bytes(data.draw(damaged(raw)))
            return path
        changed = dict(arrays)
        if kind == "arrays":
            for name in data.draw(st.lists(st.sampled_from(["w0000", "w0001", "o0000", "w0002", "meta"]),
                                           min_size=1, max_size=2)):
                changed[name] = data.draw(odd_arrays)
        else:
            text = dumps(data.draw(mutated(good_meta, schema)) if kind == "edited" else data.draw(schema.values()))
            changed["meta"] = np.frombuffer(text, np.uint8)
        with open(path, "wb") as handle:
            np.savez(handle, **changed)
        return path

    def valid(result):
        meta_, weights_, optimizer_ = result
        assert isinstance(meta_["iterations"], int) and meta_["iterations"] >= 0
        assert 8 <= meta_["input_size"] <= 4096 and isinstance(meta_["settings"], dict)
        assert len(weights_) == len(meta_["weights"])
        for w, shape in zip(weights_, meta_["weights"]):
            assert list(w.shape) == shape and np.issubdtype(w.dtype, np.floating) and np.isfinite(w).all()

    counts = fuzzing.run("model files", draw_input, store.read_file, valid, folders)
    assert counts["refused"] > fuzzing.CASES / 4 and counts["loaded"] > fuzzing.CASES / 20


# ---------------------------------------------------------------------------------------------- workspace state
def _state_schema() -> dict:
    """The document Workspace.mark writes, from its pydantic schema: {"version": 2, "extract_a": entry, ...}."""
    from lib.jobs.swap import StateEntry
    entry = StateEntry.model_json_schema()
    defs = entry.pop("$defs", {})
    return {"type": "object", "required": ["version"], "additionalProperties": entry, "$defs": defs,
            "properties": {"version": {"const": 2}, "extract_a": entry, "extract_b": entry}}


@pytest.mark.slow
def test_fuzzed_workspace_state_is_kept_valid_or_dropped_with_a_warning(folders):
    from lib.jobs.swap import STAGES, Workspace, fingerprint
    video = folders / "a.mp4"
    video.write_bytes(b"not really a video, but it has a fingerprint")
    entry = {"input": fingerprint(video), "done": True}
    doc = {"version": 2, "extract_a": entry, "extract_b": dict(entry, done=False)}
    schema = Schema(_state_schema())
    state = folders / "state.json"

    def draw_input(data):
        kind = data.draw(st.sampled_from(["edited", "edited", "schema", "bytes"]), label="kind")
        state.write_bytes(dumps(data.draw(mutated(doc, schema))) if kind == "edited" else
                          dumps(data.draw(schema.values())) if kind == "schema" else
                          data.draw(damaged(json.dumps(doc).encode())))
        return folders

    kept = Counter()

    def valid(workspace):
        assert isinstance(workspace.state, dict) and set(workspace.state) <= set(STAGES)
        for value in workspace.state.values():
            assert isinstance(value["done"], bool) and isinstance(value["input"]["sha256"], str)
        kept[len(workspace.state)] += 1

    counts = fuzzing.run("workspace state", draw_input, Workspace, valid, folders, names_file=False)
    print(f"workspace state: entries kept per case: {dict(sorted(kept.items()))}", file=sys.stderr)
    assert counts["refused"] == 0 and kept[0] > fuzzing.CASES / 4 and kept[2] > fuzzing.CASES / 20


# ---------------------------------------------------------------------------------------------- config files
def _cli_parser(command: str) -> argparse.ArgumentParser:
    """``command``'s parser exactly as the CLI builds it (the older tool's spellings added)."""
    import faceswap
    import tools
    from lib.cli import build_parser
    prog, table = ("faceswap.py", faceswap.COMMANDS) if command in faceswap.COMMANDS else ("tools.py", tools.TOOLS)
    parser = build_parser(prog, "", table, command)
    return parser._subparsers._group_actions[0].choices[command]


def _option_values(action) -> st.SearchStrategy:
    """Values for one option in a config file, from its argparse definition: its choices, numbers of its type,
    text, true/false; often of the wrong kind, count or shape."""
    from lib.gui.forms import describe
    field = describe(action, argparse.ArgumentParser())
    one = {"bool": st.booleans(), "choice": st.sampled_from(field.choices or ["x"]),
           "int": st.integers(-3, 10 ** 6) | st.sampled_from([0, 1, 2 ** 63 - 1, -2 ** 63]),
           "float": st.floats(-10, 1e4, allow_nan=False) | st.integers(-3, 100),
           "text": st.text(max_size=12), "path": st.text(max_size=12)}[field.kind]
    right = st.lists(one, min_size=1, max_size=3) if field.multiple else one
    wrong = st.one_of(
        st.sampled_from(["", " ", "abc", "nope", "1.5", "-1", "1e400", "../x", "a\x00b", "x" * 5000, True, 2 ** 64,
                         float("nan"), float("inf"), 1e308, [], [[1]], {"a": 1}, {}, datetime.date(2020, 1, 2),
                         datetime.time(1, 2), Deep(50), Deep(5000)]),
        st.lists(st.one_of(one, st.text(max_size=5), st.booleans()), max_size=4),
        st.dictionaries(st.text(max_size=5), one, max_size=2))
    return st.one_of(right, right, right, wrong)


@st.composite
def config_documents(draw, parsers):
    """A config document for one of ``parsers``' commands: {table: {option: value}} (dest names, some written
    with '-'), with wrong tables, unknown options and values of every wrong kind now and then."""
    command = draw(st.sampled_from(sorted(parsers)))
    actions = _visible(parsers[command])
    table = {}
    for action in draw(st.lists(st.sampled_from(actions), max_size=5, unique_by=lambda a: a.dest)):
        key = action.dest.replace("_", "-") if draw(st.integers(0, 5)) == 0 else action.dest
        table[key] = draw(_option_values(action))
    if draw(st.integers(0, 7)) == 0:
        table[draw(st.sampled_from(["nope", "batch", "-", "a.b", "help", "config", "_run", "x" * 70, "a\nb"]))] = 1
    doc = {command: table}
    if draw(st.integers(0, 5)) == 0:
        doc.update(draw(st.sampled_from([{"extarct": {"size": 1}}, {"size": 5}, {"train": {"batch_size": "x"}},
                                         {"convert": [{"a": 1}]}, {"x" * 70: {}}, {"": {"a": 1}}])))
    return command, doc


def _visible(parser):
    from lib.gui.forms import visible_actions
    return visible_actions(parser)


def toml_text(doc: dict) -> str:
    """TOML for a drawn document: tables, scalars, arrays, inline tables, dates, nests; a top-level list (of
    tables) as an array of tables, a top-level scalar before the first table."""
    lines = []
    for name, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"[{_toml_key(name)}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
        elif isinstance(table, list):
            for item in table:
                lines.append(f"[[{_toml_key(name)}]]")
                lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in item.items()]
        else:
            lines.insert(0, f"{_toml_key(name)} = {_toml_value(table)}")
    return "\n".join(lines) + "\n"


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key).replace("\x7f", "\\u007f")


def _toml_value(value) -> str:
    if isinstance(value, Deep):
        return "[" * value.depth + "]" * value.depth
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else "inf" if value == float("inf") else "-inf" if value == float("-inf") \
            else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


@pytest.mark.slow
def test_fuzzed_config_files_give_the_command_line_values_or_fail_with_our_error(folders):
    from lib import config
    from lib.gui.forms import defaults_toml, parse
    tables = config.command_names()
    parsers = {command: _cli_parser(command) for command in tables}
    saved = defaults_toml("convert", parse("convert", {"input": "a.mp4", "output": "b.mp4", "model-dir": "m",
                                                       "mask-type": "components", "mask-blur": "7.5",
                                                       "no-smooth": True, "writer": "ffmpeg"}))
    path = folders / "config.toml"
    drawn = {}

    def draw_input(data):
        if data.draw(st.integers(0, 3), label="bytes?") == 0:       # damaged bytes of what the GUI saves
            drawn["command"] = "convert"
            path.write_bytes(data.draw(damaged(saved.encode())))
        else:
            drawn["command"], doc = data.draw(config_documents(parsers))
            path.write_text(toml_text(doc), encoding="utf-8")
        return path

    def load(where):
        return config.defaults(where, drawn["command"], parsers[drawn["command"]], tables)

    def valid(values):
        written = tomllib.loads(path.read_text(encoding="utf-8")).get(drawn["command"], {})
        _same_as_command_line(parsers[drawn["command"]], written, values)

    counts = fuzzing.run("config files", draw_input, load, valid, folders)
    assert counts["refused"] > fuzzing.CASES / 4 and counts["loaded"] > fuzzing.CASES / 10


def _same_as_command_line(parser, written: dict, values: dict) -> None:
    """Each option a config file set holds what the same words on the command line give: ``written`` is the
    config's table as TOML reads it, ``values`` what lib/config.py made of it."""
    required, by_dest = [], {}
    for action in _visible(parser):
        by_dest.setdefault(action.dest, []).append(action)
        if action.required:   # the command's required options, given on the command line
            required += [action.option_strings[-1], action.choices[0] if action.choices else "1"]
    assert set(values) == {key.replace("-", "_") for key in written}
    for key, value in written.items():
        dest = key.replace("-", "_")
        if by_dest[dest][0].required:
            continue
        takes = [a for a in by_dest[dest] if a.nargs != 0]
        words = [repr(v) if isinstance(v, float) else str(v) for v in (value if isinstance(value, list) else [value])]
        if not takes:
            argv = [by_dest[dest][0].option_strings[-1]] if value else []
        elif isinstance(takes[0], argparse._AppendAction):
            argv = [f"{takes[0].option_strings[-1]}={word}" for word in words]
        elif takes[0].nargs in (None, "?"):
            argv = [f"{takes[0].option_strings[-1]}={words[0]}"]
        elif any(word.startswith("-") for word in words):
            continue   # several values starting with '-' cannot be typed on a command line at all
        else:
            argv = [takes[0].option_strings[-1], *words]
        with contextlib.redirect_stderr(io.StringIO()):
            cli = parser.parse_args(required + argv)
        assert getattr(cli, dest) == values[dest], (key, value, argv)


@given(option=st.sampled_from(["size", "min_size", "detector", "every_n", "ref_threshold", "batch_size",
                               "centering", "identity"]),
       value=st.one_of(st.integers(-5, 5000), st.floats(allow_nan=False, allow_infinity=False, width=32),
                       st.sampled_from(["yunet", "haar", "s3fd", "x", "0", "12", "-3", "1e3", "08", " 7", "1_0"])))
@fuzzing.fuzz_settings(300)
def test_a_config_value_is_accepted_exactly_when_the_command_line_accepts_it(tmp_path_factory, option, value):
    from lib import config
    parser = _cli_parser("extract")
    path = tmp_path_factory.getbasetemp() / "agree.toml"
    path.write_text(f"[extract]\n{option} = {_toml_value(value)}\n")
    word = repr(value) if isinstance(value, float) else str(value)
    try:
        from_config = config.defaults(path, "extract", parser)[option]
    except FaceswapError:
        from_config = "refused"
    flag = next(a for a in _visible(parser) if a.dest == option).option_strings[-1]
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            from_cli = getattr(parser.parse_args(["-i", "a.mp4", "-o", "out", f"{flag}={word}"]), option)
        except SystemExit:
            from_cli = "refused"
    assert from_config == from_cli


# ---------------------------------------------------------------------------------------------- images
def _claim_size(data: bytes, ext: str, width: int, height: int) -> bytes:
    """``data`` (an image file) with its header claiming ``width`` x ``height`` pixels, the rest kept."""
    out = bytearray(data)
    if ext == ".png":
        out[16:24] = struct.pack(">II", width, height)
        out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])) & 0xFFFFFFFF)   # a header that checks out
    elif ext == ".bmp":
        out[18:26] = struct.pack("<ii", min(width, 2 ** 31 - 1), min(height, 2 ** 31 - 1))
    elif ext == ".jpg":
        at = data.index(b"\xff\xc0") + 5
        out[at:at + 4] = struct.pack(">HH", min(height, 65535), min(width, 65535))
    elif ext == ".webp" and data[12:16] == b"VP8 ":
        out[26:30] = struct.pack("<HH", min(width, 16383), min(height, 16383))
    elif ext == ".tif":
        offset = struct.unpack("<I", data[4:8])[0]
        for i in range(struct.unpack("<H", data[offset:offset + 2])[0]):
            at = offset + 2 + 12 * i
            tag, kind = struct.unpack("<HH", data[at:at + 4])
            if tag in (256, 257):
                value = min(width if tag == 256 else height, 65535 if kind == 3 else 2 ** 32 - 1)
                out[at + 8:at + 12] = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
    elif ext == ".hdr":
        at = data.index(b"-Y ")
        out = bytearray(data[:at] + f"-Y {height} +X {width}".encode() + data[data.index(b"\n", at):])
    elif ext in (".ppm", ".pfm"):
        kind, _, rest = data.split(b"\n", 2)
        out = bytearray(kind + b"\n" + f"{width} {height}".encode() + b"\n" + rest)
    return bytes(out)


@pytest.mark.slow
def test_fuzzed_images_decode_within_the_pixel_limit_or_fail_with_our_error(folders, monkeypatch):
    limit = 4_000_000                     # settable: a low one keeps claims near it cheap to test
    monkeypatch.setenv("FACESWAP_MAX_IMAGE_PIXELS", str(limit))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (24, 32, 3), np.uint8)
    raws = {ext: cv2.imencode(ext, image)[1].tobytes() for ext in (".png", ".jpg", ".bmp", ".webp", ".tif", ".ppm")}
    raws[".hdr"] = cv2.imencode(".hdr", image.astype(np.float32) / 255)[1].tobytes()
    raws[".pfm"] = cv2.imencode(".pfm", image.astype(np.float32) / 255)[1].tobytes()
    sizes = [0, 1, 24, 2000, 2001, 4000, 30000, 65535, 100000, 2 ** 31 - 1, 2 ** 32 - 1]

    def draw_input(data):
        ext = data.draw(st.sampled_from(sorted(raws)), label="format")
        raw = raws[ext]
        if data.draw(st.booleans(), label="claim a size"):
            raw = _claim_size(raw, ext, data.draw(st.sampled_from(sizes)), data.draw(st.sampled_from(sizes)))
        if data.draw(st.integers(0, 3)) > 0:
            raw = data.draw(damaged(raw))
        path = folders / f"image{data.draw(st.sampled_from(['.png', ext]))}"   # content and name may disagree
        for old in folders.iterdir():
            old.unlink()
        path.write_bytes(raw)
        return path

    def valid(decoded):
        assert decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[2] == 3
        assert decoded.shape[0] * decoded.shape[1] <= limit

    counts = fuzzing.run("images", draw_input, read_image, valid, folders)
    assert counts["refused"] > fuzzing.CASES / 4 and counts["loaded"] > fuzzing.CASES / 20


def _radiance(width: int, height: int) -> bytes:
    """A black Radiance (HDR) picture, run-length encoded: about 64 bytes per 1000 pixels of a row."""
    runs = b"".join(bytes([128 + n, 0]) for n in [127] * (width // 127) + ([width % 127] if width % 127 else []))
    row = b"\x02\x02" + struct.pack(">H", width) + runs * 4
    return f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {height} +X {width}\n".encode() + row * height


def test_a_radiance_image_pillow_cannot_size_is_refused_before_it_is_decoded(tmp_path):
    """A Radiance (HDR) file under a .png name: Pillow cannot read its header, so its size was not checked
    before decoding, and OpenCV decoded 6000x6000 float pixels (~900 MB at its peak) from a 2 MB file."""
    path = tmp_path / "face.png"
    path.write_bytes(_radiance(6000, 6000))
    assert path.stat().st_size < 3_000_000
    before = fuzzing._reset_peak_rss()
    with pytest.raises(FaceswapError, match="face.png"):
        read_image(path)
    assert fuzzing._peak_rss_mb() - before < 100


def test_a_png_chunk_claiming_more_bytes_than_the_file_holds_is_refused_before_it_is_decoded(tmp_path):
    """Found by fuzzing: OpenCV allocates and zeroes what a chunk's length field claims before reading it, so a
    1 KB PNG whose image-data chunk claimed 2 GB took 2 GB and 6 s to fail (here a 512 MB claim)."""
    raw = bytearray(cv2.imencode(".png", np.zeros((24, 32, 3), np.uint8))[1].tobytes())
    at = raw.index(b"IDAT") - 4
    raw[at:at + 4] = struct.pack(">I", 512 << 20)
    path = tmp_path / "face.png"
    path.write_bytes(bytes(raw))
    before = fuzzing._reset_peak_rss()
    with pytest.raises(FaceswapError, match="face.png: not an image or the file is corrupt"):
        read_image(path)
    assert fuzzing._peak_rss_mb() - before < 50
