"""Plugin registry: a plugin is one file under ``plugins/<kind>/`` with one ``@register`` decorator.

Kinds are dotted paths below ``plugins`` (``extract.detect``, ``train.model``, ``convert.color`` ...).
Listing a kind imports every module in its folder once, so a new file is found with no edits elsewhere.
"""
import importlib
import pkgutil

from lib.errors import FaceswapError

_PLUGINS: dict[str, dict[str, object]] = {}
_SCANNED: set[str] = set()


def register(kind: str, name: str):
    """Decorator: file ``obj`` (a class or function) under ``kind``/``name``."""
    def wrap(obj):
        _PLUGINS.setdefault(kind, {})[name] = obj
        obj.plugin_name = name
        return obj
    return wrap


def _scan(kind: str) -> None:
    if kind in _SCANNED:
        return
    package = importlib.import_module(f"plugins.{kind}")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"plugins.{kind}.{info.name}")
    _SCANNED.add(kind)


def names(kind: str) -> list[str]:
    """Registered plugin names of ``kind``, sorted: used for argparse ``choices``."""
    _scan(kind)
    return sorted(_PLUGINS.get(kind, {}))


def get(kind: str, name: str):
    """The plugin ``name`` of ``kind``; a clear error listing the choices when unknown."""
    _scan(kind)
    try:
        return _PLUGINS[kind][name]
    except KeyError:
        raise FaceswapError(f"unknown {kind} plugin '{name}': choose one of {', '.join(names(kind))}") from None
