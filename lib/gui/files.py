"""The GUI's view of the disk: one root folder (``gui --root``) and nothing outside it.

Every path the browser sends (picker listings, form fields, faces, videos) goes through :meth:`Root.resolve`:
no ``..`` part, no NUL, and the real path (symlinks followed) must be the root or lie under it, so neither a
crafted name nor a symlink inside the root reaches other files. Paths go back to the browser relative to
the root.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from lib.errors import FaceswapError

MAX_ENTRIES = 5000   # a listing is cut here (a folder of 100,000 frames is not browsed by eye)


class Root:
    """A folder the GUI may read and write under; paths outside it are refused."""

    def __init__(self, folder) -> None:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise FaceswapError(f"--root {folder} is not a folder: pass an existing folder")
        self.path = Path(os.path.realpath(path))

    def __repr__(self) -> str:
        return f"Root({str(self.path)!r})"

    def resolve(self, text: str | os.PathLike = "", must_exist: bool = False) -> Path:
        """The real absolute path of ``text`` (relative to the root, or absolute inside it)."""
        text = os.fspath(text)
        if "\x00" in text:
            raise FaceswapError("a path must not contain a NUL character")
        parts = PurePosixPath(text.replace("\\", "/")).parts
        if ".." in parts:
            raise FaceswapError(f"path {text!r}: '..' is not allowed; give a path inside the root folder")
        candidate = Path(text) if os.path.isabs(text) else self.path / text
        real = Path(os.path.realpath(candidate))
        if not self.contains(real):
            raise FaceswapError(f"path {text!r} is outside the root folder {self.path}")
        if must_exist and not real.exists():
            raise FaceswapError(f"not found: {self.relative(real)}")
        return real

    def contains(self, real: Path) -> bool:
        return real == self.path or self.path in real.parents

    def relative(self, path) -> str:
        """``path`` as the browser shows it: relative to the root ('' for the root itself)."""
        rel = Path(os.path.realpath(path)).relative_to(self.path)
        return "" if str(rel) == "." else rel.as_posix()

    def confine(self, text: str) -> str:
        """A form's path string as an absolute path inside the root (what the command is given)."""
        return str(self.resolve(text))

    def listdir(self, text: str = "", show_hidden: bool = False) -> dict:
        """One folder's entries (folders first, then files, by name). Links that lead out of the root and
        things that are neither files nor folders are left out."""
        folder = self.resolve(text, must_exist=True)
        if not folder.is_dir():
            raise FaceswapError(f"{self.relative(folder)} is a file, not a folder")
        rel = self.relative(folder)
        entries = []
        truncated = False
        try:
            names = sorted(os.listdir(folder), key=str.lower)
        except PermissionError:
            raise FaceswapError(f"cannot list {rel or '.'}: permission denied") from None
        for name in names:
            if not show_hidden and name.startswith("."):
                continue
            full = folder / name
            real = Path(os.path.realpath(full))
            if not self.contains(real):
                continue
            try:
                info = os.stat(real)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                kind = "folder"
            elif stat.S_ISREG(info.st_mode):
                kind = "file"
            else:
                continue
            if len(entries) >= MAX_ENTRIES:
                truncated = True
                break
            entries.append({"name": name, "path": f"{rel}/{name}" if rel else name, "kind": kind,
                            "size": info.st_size if kind == "file" else None, "mtime": int(info.st_mtime)})
        entries.sort(key=lambda e: (e["kind"] != "folder", e["name"].lower()))
        parent = None if folder == self.path else self.relative(folder.parent)
        return {"path": rel, "parent": parent, "entries": entries, "truncated": truncated}
