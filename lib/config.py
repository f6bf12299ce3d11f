"""The ``-C FILE`` config file: a TOML file of option defaults, one ``[command]`` table each.

A config file is read like any other file we are handed: its size is capped before it is parsed, its shape is
validated (pydantic: tables of ``option = value``, where a value is text, a finite number, true/false or a flat
list of those), and every value of the running command's table goes through that option's own argparse action
(lib/gui/forms.py ``store``: its nargs, type and choices), so a value is accepted or refused exactly as the same
words on the command line (or in a GUI form) would be. Anything wrong is one FaceswapError naming the file, the
table and the option, and saying what to do. The GUI writes these files (forms.defaults_toml).
"""
from __future__ import annotations

import argparse
import stat
import tomllib
from pathlib import Path
from typing import Annotated, Union

from pydantic import Field, StrictBool, StrictInt, TypeAdapter, ValidationError

from lib.errors import FaceswapError

MAX_BYTES = 1 << 20   # a config holds a few dozen options: 1 MiB is far beyond any real one
MAX_ITEMS = 4096      # values in one list option (e.g. a batch of inputs)
MAX_TEXT = 4096       # characters in one value

_Float = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_Text = Annotated[str, Field(strict=True, max_length=MAX_TEXT)]
_Scalar = Union[StrictBool, StrictInt, _Float, _Text]
_Value = Union[_Scalar, Annotated[list[_Scalar], Field(max_length=MAX_ITEMS)]]
_Name = Annotated[str, Field(strict=True, min_length=1, max_length=64)]
_DOCUMENT = TypeAdapter(dict[_Name, dict[_Name, _Value]])
_SCALAR = TypeAdapter(_Scalar)


def read(path, tables=None) -> dict:
    """The whole document, its shape checked: ``{table: {option: value}}`` (option names as written).
    ``tables``: the table names a config may hold (every command's name); others are refused as typos."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise FaceswapError(f"config file {path} is not a file: pass a .toml file to -C")
        if info.st_size > MAX_BYTES:
            raise _too_big(path, info.st_size)
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise FaceswapError(f"config file not found: {path}") from None
    except OSError as err:
        raise FaceswapError(f"cannot read config file {path}: {err.strerror or err}") from None
    if len(raw) > MAX_BYTES:
        raise _too_big(path, len(raw))
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise FaceswapError(f"config file {path} is not UTF-8 text: save it as UTF-8") from None
    except tomllib.TOMLDecodeError as err:
        raise FaceswapError(f"config file {path} is not valid TOML: {err}") from None
    except (RecursionError, ValueError) as err:   # nesting past Python's stack; a number of 5000 digits
        why = "nested too deeply" if isinstance(err, RecursionError) else str(err).split(";")[0]
        raise FaceswapError(f"config file {path} is not a valid config ({why}): write option = value lines "
                            f"under [command] tables") from None
    unknown = sorted(name for name, value in doc.items() if isinstance(value, (dict, list)) and tables is not None
                     and name not in tables)
    if unknown:
        raise FaceswapError(f"config file {path}: [{_name(unknown[0])}] is not a command (the commands are "
                            f"{', '.join(sorted(tables))}): fix or remove that table")
    try:
        _DOCUMENT.validate_python(doc)
    except ValidationError as err:
        raise FaceswapError(f"config file {path}: {_shape_problem(doc, err)}") from None
    return doc


def _too_big(path, size: int) -> FaceswapError:
    return FaceswapError(f"config file {path} is {size / 1e6:.1f} MB, a config holds a few options (at most "
                         f"{MAX_BYTES >> 20} MiB): check it is the right file")


def _shape_problem(doc: dict, err: ValidationError) -> str:
    """What is wrong with the document's shape, located as ``[table] option``, and what to write instead."""
    loc = err.errors(include_url=False)[0]["loc"]
    table = str(loc[0])
    value = doc.get(table)
    if loc[1:2] == ("[key]",):
        return f"table name {_short(table)} is not a command name: fix the table name"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"[[{_name(table)}]] (an array of tables) is not a config table: write [{_name(table)}] once"
    if not isinstance(value, dict):
        return (f"{_name(table)} = {_short(value)} is outside any [command] table: put it under the table of the "
                f"command it is for, e.g. [extract]")
    key = str(loc[1])
    if loc[2:3] == ("[key]",):
        return f"[{_name(table)}] {_short(key)} is not an option name: options are named as in --help"
    return f"[{_name(table)}] {_name(key)}: {_what(value[key])} is not an option value: {_HOW}"


_HOW = ("give text, a number, true/false or a [list] of those, as the option takes on the command line "
        "(see --help)")


def _what(value) -> str:
    """The offending value in a few words (never recursing into it: it may be nested thousands deep)."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            return f"a list of {len(value)} values (at most {MAX_ITEMS})"
        inner = next((v for v in value if isinstance(v, (dict, list)) or not _plain(v)), None)
        return f"a list holding {_what(inner) if not isinstance(inner, list) else 'a list'}"
    if isinstance(value, str):
        return f"text of {len(value)} characters (at most {MAX_TEXT})"
    if isinstance(value, float):
        return f"{value} (not a finite number)"
    return f"a {type(value).__name__} ({_short(value)})"


def _plain(value) -> bool:
    try:
        _SCALAR.validate_python(value)
        return True
    except ValidationError:
        return False


def _name(text: str) -> str:
    """A table or option name as read from the file, shown on one line: escaped, cut to 40 characters."""
    return repr(text[:40])[1:-1] + ("..." if len(text) > 40 else "")


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------------------------------------- one command
def defaults(path, command: str, parser: argparse.ArgumentParser | None = None, tables=None) -> dict:
    """``{dest: value}`` of ``command``'s table, for ``parser.set_defaults``.

    With ``parser`` (the command's own, as the CLI builds it) every option name must be one of its options and
    every value goes through that option's argparse action, so it is converted and checked as the command line
    would; without it the values are returned as written (option names with ``-`` read as ``_``).
    ``tables``: as for :func:`read`."""
    doc = read(path, tables)
    section = doc.get(command, {})
    values: dict = {}
    for key, value in section.items():
        dest = key.replace("-", "_")
        if dest in values:
            raise FaceswapError(f"config file {path}: [{command}] names option {dest} twice (as '-' and '_'): "
                                f"keep one")
        values[dest] = value
    if parser is None:
        return values
    by_dest: dict[str, list[argparse.Action]] = {}
    from lib.gui.forms import visible_actions
    for action in visible_actions(parser):
        by_dest.setdefault(action.dest, []).append(action)
    unknown = sorted(set(values) - set(by_dest))
    if unknown:
        names = ", ".join(map(_name, unknown))
        raise FaceswapError(f"config file {path}: [{command}] has unknown option(s) {names}: options "
                            f"are named as in '{parser.prog} --help', without the dashes (e.g. "
                            f"{_example(by_dest)})")
    out = {}
    for dest, value in values.items():
        try:
            out[dest] = _convert(parser, by_dest[dest], value)
        except ValueError as err:
            flags = "/".join(next(a for a in by_dest[dest] if a.option_strings).option_strings)
            raise FaceswapError(f"config file {path}: [{command}] {dest}: {err}: fix or remove it (it takes what "
                                f"{flags} takes on the command line; see '{parser.prog} --help')") from None
    return out


def _example(by_dest: dict) -> str:
    return next((d for d, acts in by_dest.items() if "_" in d and acts[0].nargs != 0), next(iter(by_dest), "size"))


def _convert(parser: argparse.ArgumentParser, actions: list[argparse.Action], value):
    """``value`` as the option's dest would hold it after the same words on the command line.

    A dest shared by a value option and a switch (``--smooth N`` / ``--no-smooth``) takes the value option's
    values; a switch alone takes true (given) or false (its default)."""
    from lib.gui.forms import store
    takes = [a for a in actions if a.nargs != 0]
    if not takes:
        if not isinstance(value, bool):
            raise ValueError(f"{_short(value)} is not true or false (it is a switch)")
        action = actions[0]
        if not value:
            return action.default
        namespace = argparse.Namespace()
        store(parser, action, namespace, True)
        return getattr(namespace, action.dest)
    action = takes[0]
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"{str(item).lower()} is not a value of this option (it is not a switch)")
        if isinstance(item, str) and not item.strip():
            raise ValueError("an empty value")
        if isinstance(item, str) and "\x00" in item:
            raise ValueError("a NUL character, which no command line (nor file name) can hold")
    strings = [repr(item) if isinstance(item, float) else str(item) for item in items]
    if isinstance(value, list) and action.nargs in (None, "?") and not isinstance(action, argparse._AppendAction):
        raise ValueError(f"a list of {len(strings)} values, but the option takes one value")
    if not strings and action.nargs != "*":
        raise ValueError("an empty list")
    namespace = argparse.Namespace()
    store(parser, action, namespace, strings if isinstance(value, list) else strings[0])
    return getattr(namespace, action.dest)


def command_names() -> list[str] | None:
    """Every command of faceswap.py and tools.py: the tables a config file may hold (None where the two
    programs cannot be imported, e.g. from another project: then any table name is let through)."""
    try:
        import faceswap
        import tools
    except ImportError:
        return None
    return sorted({*faceswap.COMMANDS, *tools.TOOLS})
