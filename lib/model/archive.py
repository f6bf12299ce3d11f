"""A model folder as one file to hand over (the service's model download, its ``model_url``), and the checks
that make such a file from anyone safe to open.

Format: a zip file holding exactly one member, ``model.npz`` (the model file of lib/model/store.py), stored
uncompressed (float weights shrink by a few percent at most). The backup, snapshots and logs stay home.

Unpacking trusts nothing in the archive: the zip's directory is sized before Python parses it (a directory of
millions of tiny entries would eat memory), every member must be a regular file with the one expected name
(no ``../``, absolute paths, links or devices), sizes are capped on the bytes actually written (zip bombs),
and the model file inside, itself a zip of ``.npy`` arrays, gets the same directory check and a look at every
array's header (plain numbers only: an object array would be unpickled, that is, run code) before the store's
loader reads it with ``allow_pickle=False``. Everything lands in a fresh temp folder that is removed on any
failure; errors are :class:`ArchiveError` with ``kind = "invalid"`` (the service's INVALID_ARGUMENT).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from lib.errors import FaceswapError
from lib.fileio import atomic_path
from lib.model import store

MB = 1024 * 1024
MAX_UNPACKED_BYTES = 1024 * MB     # the model file inside; Adam state makes it ~3x the weights
MEMBERS = (store.MODEL_FILE,)
_MAX_MEMBERS = 16                  # zip entries of the archive (only one is expected)
_MAX_ARRAYS = 20000                # .npy entries inside model.npz (weights + optimizer state)
_MAX_META_BYTES = 64 * MB
_ARRAY_NAME = re.compile(r"(meta|[wo]\d{4,6})\.npy")
_CHUNK = 1 << 20


class ArchiveError(FaceswapError):
    """A model archive (or the model file in it) that is refused; ``kind`` as lib.fetch.FetchError's."""
    kind = "invalid"


# ------------------------------------------------------------------------------------------------ packing
def pack(model_dir, out_path) -> Path:
    """Write ``model_dir``'s model (``model.npz`` only) to the zip ``out_path``, atomically."""
    model_dir, out_path = Path(model_dir), Path(out_path)
    store.read_meta(model_dir)                   # a clear error when there is no model or it is broken
    with atomic_path(out_path, suffix=".tmp") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            archive.write(store.model_file(model_dir), store.MODEL_FILE)
    return out_path


# ------------------------------------------------------------------------------------------------ unpacking
def unpack(archive_path, dest_dir, *, max_bytes: int = MAX_UNPACKED_BYTES, build: bool = False) -> Path:
    """Check and unpack the untrusted archive ``archive_path`` into a new folder under ``dest_dir``; return
    that model folder, ready for lib.model.store (``load_model``, training with ``-m``).

    ``max_bytes`` caps the unpacked model file. ``build`` also rebuilds the network and loads the weights
    into it (needs TensorFlow, seconds): proof the model fits this faceswap's architecture.
    """
    archive_path, dest_dir = Path(archive_path), Path(dest_dir)
    if not dest_dir.is_dir():
        raise FaceswapError(f"folder {dest_dir} for the unpacked model does not exist")
    _check_directory(archive_path, "the model archive", _MAX_MEMBERS, 64 * 1024)
    folder = Path(tempfile.mkdtemp(prefix="model-", dir=dest_dir))
    try:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                infos = archive.infolist()
                _check_members(infos, max_bytes)
                for info in infos:
                    _extract(archive, info, folder / info.filename, max_bytes)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as err:
            raise ArchiveError(f"model archive is damaged or not a zip file ({err})") from None
        except OSError as err:
            raise ArchiveError(f"model archive cannot be read ({err.strerror or err})") from None
        check_model_file(folder / store.MODEL_FILE, max_bytes)
        if build:
            _build(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _check_directory(path: Path, what: str, max_members: int, max_dir_bytes: int) -> None:
    """Read the zip's end record ourselves and refuse a directory too large to parse, before zipfile does."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            tail_size = min(size, 22 + 0xFFFF)
            handle.seek(size - tail_size)
            tail = handle.read(tail_size)
    except OSError as err:
        raise ArchiveError(f"{what} cannot be read ({err.strerror or err})") from None
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise ArchiveError(f"{what} is not a zip file")
    _, disk, dir_disk, disk_entries, entries, dir_size, dir_offset, _ = struct.unpack("<4s4H2LH", tail[at:at + 22])
    if entries == 0xFFFF or dir_size == 0xFFFFFFFF or dir_offset == 0xFFFFFFFF or tail[max(0, at - 20):at - 16] == \
            b"PK\x06\x07":
        raise ArchiveError(f"{what} is a zip64 file, larger than any model this faceswap makes")
    if disk or dir_disk or disk_entries != entries:
        raise ArchiveError(f"{what} is a multi-part zip file")
    if entries > max_members or dir_size > max_dir_bytes:
        raise ArchiveError(f"{what} has too many members ({entries}, at most {max_members} expected)")


def _check_members(infos: list[zipfile.ZipInfo], max_bytes: int) -> None:
    names = set()
    for info in infos:
        name = info.filename
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if stat.S_ISLNK(mode):
            raise ArchiveError(f"model archive member '{name}' is a symbolic link: links are not unpacked")
        if kind and not stat.S_ISREG(kind) and not stat.S_ISDIR(kind):
            raise ArchiveError(f"model archive member '{name}' is a device or special file, not a regular file")
        parts = re.split(r"[/\\]", name)
        if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
            raise ArchiveError(f"model archive member '{name}' has an absolute path")
        if ".." in parts or "\0" in name:
            raise ArchiveError(f"model archive member '{name}' points outside the archive ('..')")
        if info.is_dir() or name not in MEMBERS:
            raise ArchiveError(f"model archive holds an unexpected member '{name}': it must hold only "
                               f"{', '.join(MEMBERS)}")
        if name in names:
            raise ArchiveError(f"model archive holds '{name}' twice")
        names.add(name)
        if info.flag_bits & 0x1:
            raise ArchiveError(f"model archive member '{name}' is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveError(f"model archive member '{name}' uses an unsupported compression "
                               f"(type {info.compress_type}): store or deflate it")
        if info.file_size > max_bytes:
            raise ArchiveError(f"model archive member '{name}' is {info.file_size / MB:.0f} MB, over the "
                               f"{max_bytes / MB:.0f} MB limit")
    missing = [name for name in MEMBERS if name not in names]
    if missing:
        raise ArchiveError(f"model archive has no {', '.join(missing)}: it is not a faceswap model archive "
                           f"(make one with lib.model.archive.pack)")


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, max_bytes: int) -> None:
    """Copy one member, counting the bytes really decompressed: the header's size may lie."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    written = 0
    with archive.open(info) as src, os.fdopen(fd, "wb") as dst:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > min(info.file_size, max_bytes):
                raise ArchiveError(f"model archive member '{info.filename}' holds more than the "
                                   f"{min(info.file_size, max_bytes)} bytes it declares or is allowed")
            dst.write(chunk)


# ------------------------------------------------------------------------------------------------ the model file
def check_model_file(path, max_bytes: int = MAX_UNPACKED_BYTES) -> dict:
    """Check a model file from outside before anything loads it; return its meta.

    Its arrays must be plain numbers (no object arrays, which NumPy would unpickle) whose headers match
    their sizes; then the store's own loader reads it (``allow_pickle=False``) and checks meta and shapes.
    """
    path = Path(path)
    _check_directory(path, "the model file", _MAX_ARRAYS, 256 * _MAX_ARRAYS)
    try:
        with zipfile.ZipFile(path) as npz:
            total = 0
            for info in npz.infolist():
                total += info.file_size
                if total > max_bytes:
                    raise ArchiveError(f"the model file unpacks to more than {max_bytes / MB:.0f} MB")
                _check_array(npz, info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, OSError) as err:
        raise ArchiveError(f"the model file in the archive is damaged ({err})") from None
    try:
        meta, _, _ = store.read_file(path)
    except FaceswapError as err:
        raise ArchiveError(f"the model in the archive is not usable: {_strip(err, path)}") from None
    except (RecursionError, MemoryError, TypeError, ValueError, json.JSONDecodeError) as err:
        raise ArchiveError(f"the model in the archive has a malformed description ({type(err).__name__})") from None
    from lib import registry
    if meta.get("plugin") not in registry.names("train.model"):
        raise ArchiveError(f"the model in the archive was made with model plugin {str(meta.get('plugin'))[:64]!r}, "
                           f"which this faceswap does not have")
    return meta


def _check_array(npz: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    name = info.filename
    if not _ARRAY_NAME.fullmatch(name):
        raise ArchiveError(f"the model file holds an unexpected entry '{name[:80]}'")
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ArchiveError(f"the model file's entry '{name}' is encrypted or uses an unsupported compression")
    if name == "meta.npy" and info.file_size > _MAX_META_BYTES:
        raise ArchiveError(f"the model file's description is {info.file_size / MB:.0f} MB: too large")
    with npz.open(info) as handle:
        try:
            version = np.lib.format.read_magic(handle)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"format version {version}")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read(handle)
        except (ValueError, SyntaxError, TypeError) as err:
            raise ArchiveError(f"the model file's entry '{name}' is not a NumPy array ({err})") from None
        header = handle.tell()
    if dtype.hasobject:
        raise ArchiveError(f"the model file's entry '{name}' is a pickled (object) array: refused, loading it "
                           f"could run code; a faceswap model holds plain numbers only")
    if dtype.kind not in "fiub":
        raise ArchiveError(f"the model file's entry '{name}' holds {dtype} values, not numbers")
    count = 1
    for side in shape:
        count *= side
    if count * dtype.itemsize != info.file_size - header:
        raise ArchiveError(f"the model file's entry '{name}' declares shape {shape} but holds "
                           f"{info.file_size - header} bytes")


def _strip(err: Exception, path: Path) -> str:
    """The store's message for the archive's sender: without our temp folder's path, or advice for local users."""
    text = str(err).split(": restore the backup")[0]
    return text.replace(f"model file {path}", "the model file").replace(str(path), "the model file") \
        .replace(str(path.parent), "the model folder")


def _build(folder: Path) -> None:
    try:
        store.load_model(folder)
    except FaceswapError as err:
        raise ArchiveError(f"the model in the archive does not load: {_strip(err, folder / store.MODEL_FILE)}") \
            from None
