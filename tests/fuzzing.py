"""Property-based fuzzing of the file loaders (hypothesis), shared by tests/test_untrusted_fuzz.py.

Three kinds of hostile input, all drawn by hypothesis so a failure shrinks to a small replayable case:
- documents made from a format's JSON schema (``Model.model_json_schema()``): every value mostly within the
  schema, sometimes just past one of its bounds, of another type, or a hostile special (NaN, 1e308, a name
  with '..', a list nested 100,000 deep);
- a valid document with one to three of its values replaced the same way, keys dropped or renamed, lists cut
  or doubled (:func:`mutated`), so that most of it stays good and the loader's deeper checks are reached;
- byte-level damage to a valid file: bytes flipped, spans cut, copied or filled with tokens that upset parsers.

:func:`run` runs a loader over ``cases`` of them and asserts the contract of every loader: it returns valid data
or raises FaceswapError (one line naming the file), never another exception; it writes nothing, anywhere; its
memory stays bounded (the process's peak resident size, reset before the run, so native allocations by
OpenCV, zlib or NumPy count too). Runs are derandomized: CI replays exactly the same cases.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from lib.errors import FaceswapError

# Cases per loader in `make test-all`; FACESWAP_FUZZ_CASES=20000 digs deeper (e.g. before a release), and
# FACESWAP_FUZZ_SEED=N draws other cases than CI's (the same ones again with the same N).
CASES = int(os.environ.get("FACESWAP_FUZZ_CASES", 3000))
SEED = os.environ.get("FACESWAP_FUZZ_SEED")
MEMORY_LIMIT_MB = 100   # peak resident growth while one drawn input loads

DEEP = 100_000          # a list nested this deep (json.dumps cannot write it: see dumps)
MAX_DEPTH = 12          # schema nesting followed when drawing documents (ours are at most 7 deep)
HOSTILE_TEXT = ["", ".", "..", "../../victim.png", "/etc/passwd", "C:\\Windows\\x.png", "a/b.png", "a\x00b",
                "\u202eevil", "x" * 5000, "1", "nan", "-1", "face", "head"]
HOSTILE_NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 63, 2 ** 70, -2 ** 70, 1e30, -1e30, 1e308, 5e-324, 0.5, -0.0]
HOSTILE_SPECIAL = [float("nan"), float("inf"), float("-inf")]
PARSER_TOKENS = [b"[", b"{", b"]", b"}", b'"', b",", b":", b"\\", b"\x00", b"\xff\xfe", b"\xc3", b"NaN",
                 b"Infinity", b"-", b"1e999", b"9" * 5000, b"[" * 5000, b"true", b"null", b"\n", b"\r\n\r\n",
                 b"\x89PNG\r\n\x1a\n", b"IEND", b"IDAT", b"PK\x03\x04", b"\xff\xd8\xff"]


def fuzz_settings(cases: int):
    """``cases`` examples, no deadline (the machine is shared), the same examples on every run, nothing saved
    in a .hypothesis folder."""
    return settings(max_examples=cases, deadline=None, derandomize=SEED is None, database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


# ---------------------------------------------------------------------------------------------- JSON schemas
class Schema:
    """A JSON schema (pydantic's ``model_json_schema()``) and strategies derived from it."""

    def __init__(self, schema: dict):
        self.root = schema
        self.defs = schema.get("$defs", {})
        self._made: dict = {}   # strategies by (kind, node, depth): building them is most of a case's cost

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.defs[node["$ref"].rsplit("/", 1)[1]]
        return node

    def node_at(self, path: tuple) -> dict:
        """The schema node that describes the value at ``path`` in a document ({} where none does)."""
        node = self.resolve(self.root)
        for part in path:
            node = self._choose(node)
            if isinstance(part, str):
                props = node.get("properties", {})
                extra = node.get("additionalProperties", {})
                node = props.get(part, extra if isinstance(extra, dict) else {})
            else:
                prefix = node.get("prefixItems")
                node = prefix[part] if prefix and part < len(prefix) else node.get("items", {})
            node = self.resolve(node)
        return self._choose(node)

    def _choose(self, node: dict) -> dict:
        """The non-null branch of an ``anyOf`` (``X | None``): the shape a document usually has there."""
        node = self.resolve(node)
        if "anyOf" in node:
            options = [self.resolve(o) for o in node["anyOf"] if self.resolve(o).get("type") != "null"]
            return options[0] if options else node
        return node

    # -------------------------------------------------------------------------------- strategies
    def _cached(self, kind: str, node: dict, depth: int, make) -> st.SearchStrategy:
        key = (kind, id(node), depth)
        if key not in self._made:
            self._made[key] = (node, make())   # the node is kept so that its id stays its own
        return self._made[key][1]

    def values(self, node: dict | None = None, depth: int = 0) -> st.SearchStrategy:
        """Values of ``node``: mostly within it (at and near its bounds), sometimes just outside or hostile."""
        node = self.resolve(self.root if node is None else node)
        if depth >= MAX_DEPTH:   # only a self-referring schema gets here
            return self.wrong(node, depth)
        return self._cached("values", node, depth, lambda: st.one_of(
            *[self.valid(node, depth)] * 3, self.wrong(node, depth)))   # one value in four is wrong

    def valid(self, node: dict, depth: int = 0) -> st.SearchStrategy:
        node = self.resolve(node)
        return self._cached("valid", node, depth, lambda: self._valid(node, depth))

    def _valid(self, node: dict, depth: int) -> st.SearchStrategy:
        if "anyOf" in node:
            return st.one_of([self.valid(option, depth) for option in node["anyOf"]])
        if "const" in node:
            return st.just(node["const"])
        if "enum" in node:
            return st.sampled_from(node["enum"])
        kind = node.get("type")
        if kind == "object":
            return self._object(node, depth)
        if kind == "array":
            return self._array(node, depth)
        if kind == "string":
            low, high = node.get("minLength", 0), min(node.get("maxLength", 80), 80)
            return st.one_of(st.text(min_size=low, max_size=high), st.sampled_from(HOSTILE_TEXT[:10]))
        if kind in ("integer", "number"):
            return _numbers(node, within=True)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        return _json_values()

    def wrong(self, node: dict, depth: int = 0) -> st.SearchStrategy:
        """Values that break ``node``: past its bounds, another type, too long, hostile specials, deep nests."""
        node = self.resolve(node)
        return self._cached("wrong", node, depth, lambda: self._wrong(node, depth))

    def _wrong(self, node: dict, depth: int) -> st.SearchStrategy:
        kind = node.get("type")
        options = [st.sampled_from(HOSTILE_TEXT + HOSTILE_NUMBERS + HOSTILE_SPECIAL + [None, True, False, [], {}]),
                   st.just(Deep(DEEP)), st.just(Deep(900))]
        if kind in ("integer", "number"):
            options.append(_numbers(node, within=False))
        if kind == "array" and node.get("maxItems", 10 ** 9) < 1000:
            options.append(self.valid(node, depth).map(lambda v: v + v[:1] if v else [None]))
        if kind == "array" and node.get("minItems", 0) > 0:
            options.append(self.valid(node, depth).map(lambda v: v[:-1]))
        if kind == "object" and node.get("required"):
            options.append(st.tuples(self._object(node, depth), st.sampled_from(node["required"]))
                           .map(lambda pair: {k: v for k, v in pair[0].items() if k != pair[1]}))
        return st.one_of(options)

    def _object(self, node: dict, depth: int) -> st.SearchStrategy:
        props = node.get("properties", {})
        required = set(node.get("required", ()))
        fixed = {k: self.values(v, depth + 1) for k, v in props.items() if k in required}
        optional = {k: self.values(v, depth + 1) for k, v in props.items() if k not in required}
        base = st.fixed_dictionaries(fixed, optional=optional)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) or extra is True:
            value = self.values(extra, depth + 1) if isinstance(extra, dict) else _json_values()
            names = st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE_TEXT))
            base = st.tuples(base, st.dictionaries(names, value, max_size=3)).map(lambda p: {**p[1], **p[0]})
        return base

    def _array(self, node: dict, depth: int) -> st.SearchStrategy:
        prefix = node.get("prefixItems")
        if prefix:
            return st.tuples(*[self.values(p, depth + 1) for p in prefix]).map(list)
        item = self.values(node.get("items", {}), depth + 1)
        low, high = node.get("minItems", 0), node.get("maxItems", 4)
        if low >= 8:   # long fixed lists (68 landmarks, 128 identity values): one drawn item, a few others
            return st.tuples(item, st.lists(st.tuples(st.integers(0, low - 1), item), max_size=3)).map(
                lambda p: _patched([p[0]] * low, p[1]))
        return st.lists(item, min_size=low, max_size=min(high, low + 3))


class Deep:
    """A marker that :func:`dumps` writes as an empty list nested ``depth`` deep."""

    def __init__(self, depth: int):
        self.depth = depth

    def __repr__(self):
        return f"Deep({self.depth})"


def _patched(items: list, changes) -> list:
    for index, value in changes:
        items[index] = value
    return items


def _numbers(node: dict, within: bool) -> st.SearchStrategy:
    """Numbers at, near and (``within=False``) just past a schema node's bounds."""
    is_int = node.get("type") == "integer"
    low = node.get("minimum", node.get("exclusiveMinimum"))
    high = node.get("maximum", node.get("exclusiveMaximum"))
    step = 1 if is_int else 1e-9
    if within:
        lo = low if "minimum" in node else (low + step if low is not None else None)
        hi = high if "maximum" in node else (high - step if high is not None else None)
        edges = [v for v in (lo, hi) if v is not None]
        if is_int:
            drawn = st.integers(min_value=None if lo is None else int(lo), max_value=None if hi is None else int(hi))
        else:
            drawn = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
        return st.one_of(drawn, st.sampled_from(edges)) if edges else drawn
    past = [v for v in ((low - step) if "minimum" in node and low is not None else low,
                        (high + step) if "maximum" in node and high is not None else high) if v is not None]
    other = [1.5] if is_int else [1]   # a float where a whole number goes, a whole number where a float does
    return st.sampled_from(past + other + HOSTILE_SPECIAL + [True])


def _json_values() -> st.SearchStrategy:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=8)


def dumps(doc) -> bytes:
    """JSON bytes of a drawn document: NaN/inf as Python writes them, the first few Deep markers as lists
    nested that deep (the rest as [], so that a doubled list of them stays a small file)."""
    def marker(node):
        if not isinstance(node, Deep):
            raise TypeError(f"{type(node).__name__} is not JSON")
        return f"__DEEP_{node.depth}__"

    seen = []

    def nest(match):
        seen.append(match)
        depth = int(match.group(1)) if len(seen) <= 3 else 1
        return "[" * depth + "]" * depth

    text = re.sub(r'"__DEEP_(\d+)__"', nest, json.dumps(doc, default=marker))
    return text.encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------------------------- mutations
@st.composite
def a_path(draw, doc) -> tuple:
    """A path to one value inside ``doc`` (not the root), found by walking down from the root and stopping
    at each level with odds of one in three, so that deep values (a landmark's x) are reached often enough."""
    path, node = (), doc
    while isinstance(node, (dict, list)) and node:
        keys = list(node) if isinstance(node, dict) else range(len(node))
        key = keys[draw(st.integers(0, len(keys) - 1))]
        path, node = path + (key,), node[key]
        if draw(st.integers(0, 2)) == 0:
            break
    return path


@st.composite
def mutated(draw, doc, schema: Schema, edits: int = 3):
    """``doc`` with one to ``edits`` of its values replaced by drawn ones (from the schema node at that place:
    valid, past its bounds or hostile), or a key dropped or renamed, or a list cut short or doubled."""
    doc = json.loads(json.dumps(doc))   # a deep copy, at C speed
    for _ in range(draw(st.integers(1, edits))):
        path = draw(a_path(doc))
        if not path:
            break
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        how = draw(st.sampled_from(["value", "value", "value", "wrong", "drop", "rename", "resize", "scale"]))
        if how == "value":
            parent[key] = copy.deepcopy(draw(schema.values(schema.node_at(path), depth=len(path))))
        elif how == "wrong":
            parent[key] = copy.deepcopy(draw(schema.wrong(schema.node_at(path), depth=len(path))))
        elif how == "drop" and isinstance(parent, dict):
            del parent[key]
        elif how == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(HOSTILE_TEXT))] = parent.pop(key)
        elif how == "resize" and isinstance(parent[key], list):
            items = parent[key]
            parent[key] = items[:draw(st.integers(0, len(items)))] if draw(st.booleans()) else items * 2
        elif how == "scale" and isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
            parent[key] = parent[key] * draw(st.sampled_from([-1, 1e6, 1e-9, 1e300, 0]))
    return doc


@st.composite
def damaged(draw, raw: bytes, ops: int = 4):
    """``raw`` with one to ``ops`` byte-level edits: flipped bytes, a span cut, copied, or a token inserted."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, ops))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "set", "cut", "copy", "insert", "truncate"]))
        if how == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "set":
            data[at] = draw(st.sampled_from([0, 0xFF, 0x7F, 0x80, ord("["), ord("-"), ord("9")]))
        elif how == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif how == "copy":
            size = draw(st.integers(1, 256))
            data[at:at] = data[draw(st.integers(0, len(data) - 1)):][:size]
        elif how == "insert":
            data[at:at] = draw(st.sampled_from(PARSER_TOKENS))
        else:
            del data[at:]
    return bytes(data)


# ---------------------------------------------------------------------------------------------- the harness
def _peak_rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def _reset_peak_rss() -> float:
    """Set the peak resident size to the current one (Linux: /proc/self/clear_refs); returns it in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _peak_rss_mb()


@contextlib.contextmanager
def _stderr_to(sink):
    """Whatever is written to file descriptor 2 meanwhile (C libraries included) ends up in file ``sink``."""
    sink.seek(0)
    sink.truncate()
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()} \
        if folder.exists() else {}


def run(name: str, draw_input, load, check, folder: Path, cases: int = CASES, names_file: bool = True) -> Counter:
    """Fuzz one loader: ``draw_input(data) -> path`` writes a drawn input under ``folder`` and returns it;
    ``load(path)`` is the loader; ``check(result)`` asserts what a successful load must hold.

    Only FaceswapError may come out (one line, naming the file when ``names_file``); the loader writes nothing
    (``folder`` holds only the inputs, the current folder, which the caller makes an empty one, stays empty)
    and prints nothing (the lines C decoders write straight to stderr included); no load raises the peak
    memory by MEMORY_LIMIT_MB. Returns the counts of outcomes."""
    counts: Counter = Counter()
    here = Path.cwd()
    assert not any(here.iterdir()), "run the fuzz in an empty current folder (monkeypatch.chdir)"
    worst = [0.0, 0]
    printed = tempfile.TemporaryFile()

    @fuzz_settings(cases)
    @given(st.data())
    def one(data):
        path = draw_input(data)
        before = _tree(folder)
        baseline = _reset_peak_rss()
        with _stderr_to(printed):
            try:
                result = load(path)
            except FaceswapError as err:
                message = str(err)
                assert "\n" not in message and len(message) < 600 + 2 * len(str(path)), f"not one short line: {message}"
                if names_file:
                    assert Path(path).name in message, f"the error does not name the file: {message}"
                counts["refused"] += 1
            else:
                check(result)
                counts["loaded"] += 1
        printed.seek(0)
        noise = printed.read(300)
        assert not noise, f"the loader printed to stderr: {noise!r}"
        grew = _peak_rss_mb() - baseline
        assert grew < MEMORY_LIMIT_MB, f"loading {path} took {grew:.0f} MB"
        worst[:] = max(worst, [grew, Path(path).stat().st_size if Path(path).is_file() else 0])
        assert _tree(folder) == before, "the loader wrote or removed a file"
        assert not any(here.iterdir()), "the loader wrote into the current folder"

    with printed:
        (seed(int(SEED))(one) if SEED is not None else one)()
    print(f"{name}: {sum(counts.values())} cases, {counts['loaded']} loaded valid, {counts['refused']} refused "
          f"with one clear line; the most memory one took: {worst[0]:.1f} MB (for a file of {worst[1]} bytes)",
          file=sys.stderr)
    return counts
