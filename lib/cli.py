"""The CLI edge shared by faceswap.py and tools.py: argparse from command modules, config, logging, errors.

A command module (``scripts/<name>.py`` or ``scripts/tools/<name>.py``) has a docstring whose first line is
its help, ``add_arguments(parser)`` and ``run(args)``. Only the chosen command's arguments are built, so
``--help`` of one command never imports another's heavy libraries.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
from pathlib import Path
from typing import NamedTuple

from lib import upstream
from lib.errors import FaceswapError

log = logging.getLogger("faceswap")
LEVELS = ("debug", "info", "warning", "error")


def _setup_logging(level: str, logfile: str | None = None) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format="%(levelname)s %(message)s",
                        stream=sys.stderr, force=True)
    if logfile:  # the older tool's -F/--logfile: the same lines, also in a file
        handler = logging.FileHandler(logfile, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger().addHandler(handler)
    # Library warnings (NumPy's "invalid value encountered", deprecations) are log records, shown with -L debug,
    # not raw lines with a source path between our own.
    logging.captureWarnings(True)
    if level != "debug":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        for noisy in ("tensorflow", "absl", "h5py", "matplotlib", "PIL", "py.warnings"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Silence the C++ start-up lines TensorFlow writes straight to stderr while it loads (they bypass
    TF_CPP_MIN_LOG_LEVEL in TF 2.21), so a failing command still prints exactly one line. Import errors
    still raise and are reported at the edge; with -L debug this hook is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def quiet_exec(module):
            sys.stderr.flush()
            saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            try:
                exec_module(module)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                os.close(devnull)
        spec.loader.exec_module = quiet_exec
        return spec


def _first_line(module) -> str:
    return (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""


def _load_config(path: str | None, command: str, parser: argparse.ArgumentParser | None = None) -> dict:
    """``{dest: value}`` of ``command``'s table in the -C file; with ``parser`` each value is checked and
    converted by its option's own argparse action (lib/config.py)."""
    if not path:
        return {}
    from lib import config
    return config.defaults(path, command, parser, config.command_names() if parser is not None else None)


class _Parser(argparse.ArgumentParser):
    """argparse with usage mistakes reported as one ERROR line (the full usage stays behind --help)."""

    def error(self, message):
        print(f"ERROR {self.prog}: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def build_parser(prog: str, description: str, commands: dict[str, str], chosen: str | None):
    parser = _Parser(prog=prog, description=description)
    parser.add_argument("-L", "--loglevel", choices=LEVELS, default="info",
                        help="how much to log; 'debug' also shows tracebacks (default: info)")
    parser.add_argument("-C", "--config", metavar="FILE",
                        help="TOML file of default options, one [command] table each, e.g. [extract] detector = 'dlib-cnn'")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_path in commands.items():
        if name == chosen:
            module = importlib.import_module(module_path)
            cmd = sub.add_parser(name, help=_first_line(module), description=(module.__doc__ or "").strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
            module.add_arguments(cmd)
            upstream.prepare(name, cmd)
            cmd.set_defaults(_run=module.run, _parser=cmd)
        else:
            sub.add_parser(name, help=_HELP.get(module_path) or _short_help(module_path), add_help=False)
    return parser


_HELP: dict[str, str] = {}


def _short_help(module_path: str) -> str:
    """One-line help of a command without importing it: its file's docstring line."""
    try:
        spec = importlib.util.find_spec(module_path)
        text = Path(spec.origin).read_text().lstrip()
        for quote in ('"""', "'''"):
            if text.startswith(quote):
                return text[3:].split("\n", 1)[0].strip().rstrip(quote)
    except (AttributeError, OSError, ImportError):
        pass
    return ""


def _command_index(argv: list[str]) -> int | None:
    """Index of the command name in argv: the first word that is not a global option or its value."""
    skip = False
    for index, token in enumerate(argv):
        if skip:
            skip = False
            continue
        if token in ("-L", "--loglevel", "-C", "--config"):
            skip = True
            continue
        if not token.startswith("-"):
            return index
    return None


def _chosen(argv: list[str], commands) -> str | None:
    index = _command_index(argv)
    return argv[index] if index is not None and argv[index] in commands else None


def _check_spelling(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Refuse a single-dash word that is not an option of the command, so that no multi-letter option can be
    read as a short option with its value glued on (``-ref x`` as ``-r ef``, ``-wl`` as ``-w l``). Glued
    numbers (``-n5``) and negative numbers (values) stay as argparse reads them."""
    table = parser._option_string_actions
    for token in argv:
        if token == "--":
            return
        if token.startswith("--") or not token.startswith("-") or len(token) <= 2 or upstream.re_number(token):
            continue
        if token.partition("=")[0] in table:
            continue
        short = table.get(token[:2])
        if short is not None and short.nargs != 0 and re.fullmatch(r"\d+(\.\d*)?", token[2:]):
            continue
        prefix = max((s for s in table if not s.startswith("--") and token.startswith(s)), key=len, default=None)
        hint = f": write '{prefix} {token[len(prefix):]}' with a space if that was meant" if prefix else ""
        parser.error(f"unknown option {token}{hint}")


class Parsed(NamedTuple):
    args: argparse.Namespace
    notes: list[str]      # one line each: an older spelling used, a feature not available here and what runs
    effects: dict         # the older tool's global options: loglevel, logfile, exclude_gpus, allow_growth
    spellings: list[str]  # lines naming our spelling of an older one (logged at info level)


def parse_command_line(prog: str, description: str, commands: dict[str, str], argv: list[str]) -> Parsed:
    """argv -> the command's namespace, with the older faceswap's spellings turned into ours (lib/upstream.py).

    Usage mistakes exit through the parser (one ERROR line, status 2); a feature that is not available and
    that the command cannot go on without raises FaceswapError; a job with nothing to do raises
    upstream.NothingToDo."""
    renamed = []
    index = _command_index(argv)
    if index is not None and argv[index] not in commands:
        argv, line = upstream.rename_command(argv, index)
        renamed = [line] if line else []
    chosen = _chosen(argv, commands)
    parser = build_parser(prog, description, commands, chosen)
    if chosen is None:
        return Parsed(parser.parse_args(argv), [], {}, [])  # --help, or argparse's own error
    index = _command_index(argv)
    head, (tail, rewritten) = argv[:index + 1], upstream.rewrite(chosen, argv[index + 1:])
    sub = parser._subparsers._group_actions[0].choices[chosen]
    _check_spelling(sub, tail)
    argv = head + tail
    pre, _ = parser.parse_known_args(argv)
    config = pre.config
    older = vars(pre).get("_upstream", {}).get("--configfile")
    if not config and older and older[1][0].lower().endswith(".toml"):
        config = older[1][0]
    pre._parser.set_defaults(**_load_config(config, chosen, pre._parser))
    args = parser.parse_args(argv)
    notes, effects = upstream.resolve(chosen, args)
    return Parsed(args, rewritten + notes, effects, renamed + upstream.spelling_notes(chosen, sub, tail))


def main(prog: str, description: str, commands: dict[str, str], argv: list[str] | None = None) -> int:
    """Parse, run the command, and map every failure to one line and an exit status."""
    argv = sys.argv[1:] if argv is None else argv
    debug = any(token.lower() in ("debug", "trace") for token in argv)
    if not debug:  # before any command module is imported: model plugins load TensorFlow while building --help
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if "tensorflow" not in sys.modules:
            sys.meta_path.insert(0, _QuietTensorFlowImport())
    try:
        try:
            args, notes, effects, spellings = parse_command_line(prog, description, commands, argv)
        except upstream.NothingToDo as done:
            _setup_logging("info")
            log.info("%s", done)
            return 0
        level = effects.get("loglevel", args.loglevel)
        debug = level == "debug"
        _setup_logging(level, effects.get("logfile"))
        for line in spellings:
            log.info("%s", line)
        for line in notes:
            log.warning("%s", line)
        _apply_effects(effects)
        result = args._run(args)
        return int(result or 0)
    except FaceswapError as err:
        _fail(str(err), debug)
        return err.exit_code
    except KeyboardInterrupt:
        _fail("interrupted: stopped by the user (work saved so far is kept)", debug)
        return 130
    except MemoryError:
        _fail("out of memory: try a smaller batch size or input", debug)
        return 1
    except OSError as err:
        if err.errno == errno.ENOSPC:
            _fail(f"disk full{f' writing {err.filename}' if err.filename else ''}: free some space and run again", debug)
        else:
            _fail(f"{err.strerror or err}{f': {err.filename}' if err.filename else ''}", debug)
        return 1
    except Exception as err:  # noqa: BLE001 - the last line of defence at the CLI edge
        _fail(f"unexpected error: {type(err).__name__}: {err} (run with -L debug for details)", debug)
        return 2


def _apply_effects(effects: dict) -> None:
    """The older tool's global options that do something here: GPU memory growth and excluded GPUs."""
    if effects.get("allow_growth"):
        os.environ["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    if effects.get("exclude_gpus"):
        import tensorflow as tf
        excluded = effects["exclude_gpus"]
        gpus = tf.config.list_physical_devices("GPU")
        missing = [i for i in excluded if i >= len(gpus)]
        if missing:
            log.warning("-X %s: %s: nothing to exclude there", " ".join(map(str, missing)),
                        f"this machine's GPUs are 0 to {len(gpus) - 1}" if gpus else "TensorFlow sees no GPU here")
        if gpus:
            keep = [gpu for i, gpu in enumerate(gpus) if i not in excluded]
            tf.config.set_visible_devices(keep, "GPU")
            log.info("-X: using GPU(s) %s", ", ".join(str(i) for i in range(len(gpus)) if i not in excluded) or "none")


def _fail(message: str, debug: bool) -> None:
    if debug:
        logging.getLogger("faceswap").exception(message)
    else:
        print(f"ERROR {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- argparse types
def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: a whole number of 0 or more."""
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
