"""Every command as a form: schemas read from the argparse definitions the CLI uses, and forms parsed back.

The GUI has no list of options of its own. For a command it builds the same parser the CLI builds (the
command module's ``add_arguments``), walks its actions and describes each visible option as a field: flags,
kind (bool, choice, int, float, text, path), choices (which come from the plugin registry), default, help,
required, multiple, and whether a path names a file, a folder or either. A new flag or plugin shows up in
the GUI with no GUI code.

A submitted form goes back through that parser without an argv: each field's strings are converted and
checked by the action's own ``type`` and ``choices`` (``ArgumentParser._get_values``) and stored by the
action itself, so a form is accepted or refused exactly as the same values on the command line would be.
The older faceswap's spellings that lib/upstream.py adds to the CLI's parser are for typed command lines;
forms show and take our own (its hidden legacy options are never fields).
"""
from __future__ import annotations

import argparse
import importlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lib.errors import FaceswapError

# Commands that are not work to run from a form: the servers and the GUI itself.
NOT_FORMS = frozenset({"gui", "serve", "worker", "client"})

FOLDER_METAVARS = {"DIR", "FOLDER"}
FILE_METAVARS = {"FILE", "PNG", "VIDEO"}
ANY_PATH_METAVARS = {"PATH", "INPUT", "PHOTO", "VIDEO|DIR"}


def programs() -> dict[str, dict[str, str]]:
    """``{program: {command: module path}}`` as faceswap.py and tools.py define them, forms only."""
    import faceswap
    import tools
    return {"faceswap.py": {k: v for k, v in faceswap.COMMANDS.items() if k not in NOT_FORMS},
            "tools.py": {k: v for k, v in tools.TOOLS.items() if k not in NOT_FORMS}}


def commands() -> dict[str, tuple[str, str]]:
    """``{command: (program, module path)}``; tool names never clash with faceswap.py's commands."""
    out: dict[str, tuple[str, str]] = {}
    for program, table in programs().items():
        for name, module in table.items():
            out.setdefault(name, (program, module))
    return out


def module_of(command: str):
    """The command's module (scripts/... or scripts/tools/...), imported."""
    try:
        _, module_path = commands()[command]
    except KeyError:
        raise FaceswapError(f"unknown command '{command}': choose one of {', '.join(commands())}") from None
    return importlib.import_module(module_path)


def build_parser(command: str) -> argparse.ArgumentParser:
    """The command's own parser, built by its module exactly as the CLI builds it."""
    module = module_of(command)
    program, _ = commands()[command]
    parser = argparse.ArgumentParser(prog=f"{program} {command}", description=(module.__doc__ or "").strip(),
                                     add_help=False, exit_on_error=False)
    module.add_arguments(parser)
    return parser


# ---------------------------------------------------------------------------------------------- schema
@dataclass
class Field:
    """One option of a command, as a form shows it."""
    id: str                      # unique in the command: the long flag without its dashes
    dest: str                    # the Namespace attribute (shared by e.g. --smooth and --no-smooth)
    flags: list[str]
    help: str
    kind: str                    # bool | choice | int | float | text | path
    path: str | None = None      # path fields: file | folder | any
    multiple: bool = False       # several values (nargs + or *, append, extend)
    required: bool = False
    default: Any = None
    choices: list | None = None
    const: Any = None            # bool fields that store a value (store_const), e.g. --no-smooth -> 0.0
    metavar: str | None = None
    group: str = "options"
    nargs: Any = None

    def to_dict(self) -> dict:
        return asdict(self)


def visible_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options a user can give: not --help, not the hidden legacy aliases (help=SUPPRESS)."""
    return [a for a in parser._actions
            if a.help is not argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
            and a.dest is not argparse.SUPPRESS]


def field_id(action: argparse.Action) -> str:
    longs = [s for s in action.option_strings if s.startswith("--")]
    flag = (longs or action.option_strings or [action.dest])[0]
    return flag.lstrip("-")


def _json(value):
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _number_kind(type_fn) -> str | None:
    """int / float for a number type (int, float, or one of our checked types such as positive_int)."""
    if type_fn is int:
        return "int"
    if type_fn is float:
        return "float"
    if type_fn is None or type_fn in (str, Path):
        return None
    for sample in ("1", "0.5"):
        try:
            value = type_fn(sample)
        except Exception:  # noqa: BLE001 - any refusal just means "not this kind"
            continue
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return "int"
        if isinstance(value, float):
            return "float"
    return None


def _path_kind(action: argparse.Action) -> str | None:
    metavar = action.metavar if isinstance(action.metavar, str) else None
    if metavar in FOLDER_METAVARS:
        return "folder"
    if metavar in FILE_METAVARS:
        return "file"
    if metavar in ANY_PATH_METAVARS or action.type is Path:
        return "any"
    return None


def _help(parser, action) -> str:
    text = action.help or ""
    try:
        params = dict(vars(action), prog=parser.prog)
        params = {k: getattr(v, "__name__", v) for k, v in params.items()}
        return text % params if "%" in text else text
    except (KeyError, TypeError, ValueError):
        return text


def describe(action: argparse.Action, parser: argparse.ArgumentParser, group: str = "options") -> Field:
    multiple = action.nargs in ("+", "*") or isinstance(action.nargs, int) and action.nargs > 1 \
        or isinstance(action, (argparse._AppendAction, argparse._ExtendAction))
    if action.nargs == 0:   # store_true / store_false / store_const: a checkbox
        const = None if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)) \
            else _json(action.const)
        return Field(field_id(action), action.dest, list(action.option_strings), _help(parser, action), "bool",
                     default=False, const=const, required=action.required, group=group)
    if action.choices is not None:
        kind, path = "choice", None
    else:
        path = _path_kind(action)
        kind = "path" if path else (_number_kind(action.type) or "text")
    return Field(field_id(action), action.dest, list(action.option_strings), _help(parser, action), kind,
                 path=path, multiple=bool(multiple), required=action.required, default=_json(action.default),
                 choices=None if action.choices is None else [_json(c) for c in action.choices],
                 metavar=action.metavar if isinstance(action.metavar, str) else None, group=group,
                 nargs=action.nargs)


def _groups(parser) -> dict[int, str]:
    """``id(action) -> group title`` for options declared in an argument group."""
    out = {}
    for group in parser._action_groups:
        title = group.title or "options"
        if title in ("positional arguments", "optional arguments", "options"):
            title = "options"
        for action in group._group_actions:
            out[id(action)] = title
    return out


def schema(command: str) -> dict:
    """The form of ``command``: its help and its fields, in the order ``--help`` lists them."""
    parser = build_parser(command)
    program, _ = commands()[command]
    module = module_of(command)
    doc = (module.__doc__ or "").strip()
    groups = _groups(parser)
    fields = [describe(a, parser, groups.get(id(a), "options")) for a in visible_actions(parser)]
    return {"command": command, "program": program, "help": doc.splitlines()[0] if doc else "",
            "description": doc, "fields": [f.to_dict() for f in fields]}


def catalogue() -> list[dict]:
    """Every form command with its program and one-line help, without building their parsers."""
    from lib.cli import _short_help
    return [{"command": name, "program": program, "help": _short_help(module)}
            for name, (program, module) in commands().items()]


# ---------------------------------------------------------------------------------------------- parse
def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None and str(v).strip() != ""]
    text = str(value)
    return [] if text.strip() == "" else [text]


def _given(value, action) -> bool:
    """A field counts as given when it holds something; an empty list is given only for nargs='*'."""
    if value is None:
        return False
    if action.nargs == 0:
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if isinstance(value, (list, tuple)):
        return bool(_strings(value)) or (action.nargs == "*" and not isinstance(action, argparse._AppendAction))
    return str(value).strip() != ""


def _flag(action) -> str:
    return "/".join(action.option_strings) or action.dest


def parse(command: str, values: dict, confine=None) -> argparse.Namespace:
    """The Namespace the CLI would build for these form values (``{field id: value}``), or one FaceswapError.

    ``confine(text) -> str``, when given, is applied to every path field's strings first (the GUI keeps
    paths inside its root folder; see lib/gui/files.py).
    """
    if not isinstance(values, dict):
        raise FaceswapError("a form is a table of field = value")
    parser = build_parser(command)
    actions = {field_id(a): a for a in visible_actions(parser)}
    unknown = sorted(set(values) - set(actions))
    if unknown:
        raise FaceswapError(f"{command}: unknown option(s) {', '.join(unknown)}")
    if confine is not None:
        values = confine_values(command, values, confine, parser)
    namespace = argparse.Namespace()
    for action in parser._actions:
        if action.dest is not argparse.SUPPRESS and action.default is not argparse.SUPPRESS \
                and not hasattr(namespace, action.dest):
            setattr(namespace, action.dest, action.default)
    for dest, value in parser._defaults.items():
        if not hasattr(namespace, dest):
            setattr(namespace, dest, value)
    seen: set[int] = set()
    for key, action in actions.items():
        try:
            if store(parser, action, namespace, values.get(key)):
                seen.add(id(action))
        except ValueError as err:
            raise FaceswapError(f"{command} {_flag(action)}: {err}") from None
    missing = [_flag(a) for a in parser._actions if a.required and id(a) not in seen]
    if missing:
        raise FaceswapError(f"{command}: the following options are required: {', '.join(missing)}")
    for action in parser._actions:   # string defaults go through the type, as argparse does
        if id(action) not in seen and isinstance(action.default, str) and action.dest is not argparse.SUPPRESS \
                and getattr(namespace, action.dest, None) is action.default:
            setattr(namespace, action.dest, parser._get_value(action, action.default))
    return namespace


def is_path(action: argparse.Action) -> bool:
    return action.choices is None and action.nargs != 0 and _path_kind(action) is not None


def confine_values(command: str, values: dict, confine, parser=None) -> dict:
    """A copy of ``values`` with every path field's strings passed through ``confine`` (e.g. made absolute
    inside the GUI's root, refusing anything outside it)."""
    if not isinstance(values, dict):
        raise FaceswapError("a form is a table of field = value")
    parser = parser or build_parser(command)
    out = dict(values)
    for action in visible_actions(parser):
        key = field_id(action)
        if key in out and is_path(action) and _given(out[key], action):
            strings = [confine(s) for s in _strings(out[key])]
            out[key] = strings if isinstance(out[key], (list, tuple)) else strings[0]
    return out


def store(parser: argparse.ArgumentParser, action: argparse.Action, namespace: argparse.Namespace, raw) -> bool:
    """Store the value ``raw`` (a bool for a flag; text, a number or a list of them otherwise) in ``namespace``
    as the same words on the command line would: the action's own nargs, type and choices convert and check it.
    False when ``raw`` is empty (nothing given). Raises ValueError with argparse's words for a bad value.
    The GUI's forms and the CLI's ``-C`` config files (lib/config.py) both check their values here."""
    if not _given(raw, action):
        return False
    flag = action.option_strings[0] if action.option_strings else None
    if action.nargs == 0:
        action(parser, namespace, None, flag)
        return True
    strings = _strings(raw)
    try:
        if isinstance(action, argparse._AppendAction) and action.nargs in (None, "?"):
            for text in strings:   # each value is one more use of the flag
                action(parser, namespace, parser._get_values(action, [text]), flag)
            return True
        _check_count(action, strings)
        if action.nargs in (None, "?"):
            strings = strings[:1] if len(strings) == 1 else strings
        action(parser, namespace, parser._get_values(action, list(strings)), flag)
    except argparse.ArgumentError as err:
        raise ValueError(err.message) from None
    except argparse.ArgumentTypeError as err:
        raise ValueError(str(err)) from None
    return True


def _check_count(action, strings: list[str]) -> None:
    nargs = action.nargs
    if nargs in (None, "?") and len(strings) > 1:
        raise argparse.ArgumentError(action, "expected one argument")
    if nargs == "+" and not strings:
        raise argparse.ArgumentError(action, "expected at least one argument")
    if isinstance(nargs, int) and len(strings) != nargs:
        raise argparse.ArgumentError(action, f"expected {nargs} arguments")


def defaults_toml(command: str, namespace: argparse.Namespace, keys: list[str] | None = None) -> str:
    """A ``-C`` config file (TOML) with one ``[command]`` table holding the options of ``namespace`` that
    differ from the command's defaults (or exactly ``keys``, dest names): what lib/cli.py reads back."""
    parser = build_parser(command)
    defaults = {}
    for action in parser._actions:
        if action.dest is not argparse.SUPPRESS and action.dest not in defaults:
            defaults[action.dest] = action.default
    rows = []
    for dest in keys if keys is not None else list(defaults):
        if dest not in defaults:
            raise FaceswapError(f"{command} has no option '{dest}'")
        value = getattr(namespace, dest, None)
        if keys is None and (value is None or _json(value) == _json(defaults[dest])):
            continue
        if value is None:
            continue
        rows.append(f"{dest} = {_toml_value(_json(value))}")
    return f"[{command}]\n" + "".join(row + "\n" for row in rows)


def _toml_value(value) -> str:
    import json
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # a JSON string literal is a valid TOML basic string (both escape \ and " the same way)
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


__all__ = ["Field", "build_parser", "catalogue", "commands", "defaults_toml", "parse", "schema", "store"]
