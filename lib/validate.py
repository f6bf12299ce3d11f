"""Checks for everything read from a file: typed schemas (pydantic) and the one-line error they turn into.

Each file format keeps its own schema beside its loader (lib/alignments.py, lib/faces.py, lib/model/store.py);
this module holds what they share: finite numbers in sane ranges, plain file names, the face geometry every
format stores, JSON parsing that survives hostile nesting, and :func:`check`, which turns the first problem
pydantic finds into a FaceswapError naming the file, the field and what to do.
"""
from __future__ import annotations

import contextlib
import gc
import json
import re
import reprlib
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from lib.errors import FaceswapError

# Pixel coordinates beyond this are nonsense: the image pixel limit (lib/video.py) keeps frames far smaller,
# and anything near float32's range overflows OpenCV's integer maths.
MAX_COORD = 1e6
MAX_NAME = 255          # bytes of a file name on every common file system

Finite = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-1e12, le=1e12)]
Coord = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_COORD, le=MAX_COORD)]
Whole = Annotated[int, Field(strict=True, ge=-int(MAX_COORD), le=int(MAX_COORD))]
Count = Annotated[int, Field(strict=True, ge=0, le=10 ** 12)]
Text = Annotated[str, Field(strict=True, max_length=4096)]
Label = Annotated[str, Field(strict=True, max_length=64)]


def plain_name(name: str) -> str:
    """A file name that stays in its folder: no separators, no ``.``/``..``, no NUL or control characters."""
    if not isinstance(name, str):
        raise ValueError("a file name must be text")
    if name in ("", ".", "..") or "/" in name or "\\" in name or any(ord(c) < 32 for c in name):
        raise ValueError(f"{name!r} is not a plain file name (it must not hold a folder, '..' or control "
                         f"characters)")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME:
        raise ValueError(f"file name of {len(name)} characters is too long")
    return name


PlainName = Annotated[str, Field(strict=True), AfterValidator(plain_name)]
Points68 = Annotated[list[tuple[Coord, Coord]], Field(min_length=68, max_length=68)]
Matrix23 = tuple[tuple[Finite, Finite, Finite], tuple[Finite, Finite, Finite]]
Identity = Annotated[list[Finite], Field(min_length=128, max_length=128)]


class Schema(BaseModel):
    """Base of our file schemas: unknown keys (from a newer minor writer) are ignored, never run or kept."""
    model_config = ConfigDict(extra="ignore", frozen=False)


class FaceGeometry(Schema):
    """Where a face is, as every format stores it: 68 landmarks and the frame -> template matrix. Whether the
    two describe the same face is checked for many faces at once by :func:`bad_geometry` (it is NumPy work)."""
    landmarks: Points68
    matrix: Matrix23
    identity: Identity | None = None
    detector: Label = ""
    score: Finite = 1.0

    def identity_array(self) -> np.ndarray | None:
        return None if self.identity is None else np.asarray(self.identity, np.float32)


def bad_geometry(landmarks: np.ndarray, matrices: np.ndarray) -> tuple[int, str] | None:
    """(index, reason) of the first face whose matrix is degenerate or disagrees with its landmarks, else None.

    ``landmarks`` (N, 68, 2) frame pixels, ``matrices`` (N, 2, 3) frame -> template. A matrix and landmarks that
    disagree (edited, mixed up or garbage numbers) would cut the face in one place and draw its masks in another.
    """
    from lib.faces import INNER, MEAN_FACE
    if not len(landmarks):
        return None
    landmarks, matrices = np.asarray(landmarks, np.float64), np.asarray(matrices, np.float64)
    with np.errstate(all="ignore"):
        scale = np.abs(np.linalg.det(matrices[:, :, :2]))
        inner = landmarks[:, INNER]
        mapped = np.einsum("nij,nkj->nki", matrices[:, :, :2], inner) + matrices[:, None, :, 2]
        error = np.median(np.linalg.norm(mapped - MEAN_FACE[INNER], axis=2), axis=1)
    degenerate = ~(scale > 1e-14)
    mismatch = ~(error < 0.5)
    bad = np.flatnonzero(degenerate | mismatch)
    if not len(bad):
        return None
    first = int(bad[0])
    reason = ("the alignment matrix is degenerate (it maps the face to a point)" if degenerate[first] else
              "the landmarks and the alignment matrix describe different faces")
    return first, reason


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).isidentifier():
            out += f".{part}" if out else str(part)
        else:
            out += f"[{str(part)[:40]!r}]"
    return out


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxstring, _REPR.maxother = 3, 4, 4, 40, 40


def shown(value, limit: int = 40) -> str:
    """A value read from a file, quoted in a one-line error: at most ``limit`` characters, however large or
    deeply nested the value is (reprlib never walks more than a few levels or items of it)."""
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def problem(err: ValidationError) -> str:
    """The first thing wrong, in one short phrase: ``frames['a.png'][0].landmarks[3][0]: should be ...``."""
    first = err.errors(include_url=False)[0]
    got = shown(first.get("input"))
    where = _where(tuple(first["loc"]))
    message = re.sub(r" or instance of \w+", "", first["msg"].replace("Value error, ", "")).replace("Input should",
                                                                                                      "should")
    got = f" (got {got})" if first["type"] not in ("missing", "value_error") else ""
    return (f"{where}: " if where else "") + message + got


def whole_version(value: Any, what: str, hint: str) -> int:
    """A format's version number read from ``what``: a whole number of 0 or more, else one clear error."""
    if type(value) is not int or value < 0:
        raise FaceswapError(f"{what} is corrupt (version {shown(value)} is not a whole number): {hint}")
    return value


def check(schema, data: Any, what: str, hint: str):
    """``data`` validated by ``schema`` (a model class or a type); else one FaceswapError naming ``what``."""
    adapter = schema if isinstance(schema, TypeAdapter) else TypeAdapter(schema)
    try:
        return adapter.validate_python(data)
    except ValidationError as err:
        raise FaceswapError(f"{what} is corrupt ({problem(err)}): {hint}") from None
    except (RecursionError, MemoryError):
        raise FaceswapError(f"{what} is corrupt (nested too deeply or too large): {hint}") from None


@contextlib.contextmanager
def no_gc():
    """Pause the cyclic garbage collector while a large file is parsed and validated: the millions of small
    objects it makes (none in a cycle) would otherwise trigger collection after collection (~40% of the time)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def load_json(raw: bytes | str, what: str, hint: str) -> Any:
    """Parse JSON from a file; corrupt text, bad encodings and hostile nesting are one clear error."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise FaceswapError(f"{what} is corrupt (JSON nested too deeply): {hint}") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise FaceswapError(f"{what} is corrupt ({err}): {hint}") from None
