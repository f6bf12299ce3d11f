"""Atomic writes: a temp file beside the target, fsync, then rename, so a crash never leaves half a file."""
import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from lib.errors import FaceswapError

_UMASK = os.umask(0)
os.umask(_UMASK)


def _explain(err: OSError, path: Path) -> FaceswapError:
    if err.errno == errno.ENOSPC:
        return FaceswapError(f"disk full while writing {path}: free some space and run again")
    if err.errno in (errno.EACCES, errno.EROFS, errno.EPERM):
        return FaceswapError(f"cannot write {path}: permission denied or read-only location")
    if err.errno == errno.ENOENT:
        return FaceswapError(f"cannot write {path}: folder {path.parent} does not exist")
    return FaceswapError(f"cannot write {path}: {err.strerror or err}")


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temp path beside ``path``; on success it replaces ``path``, on any error it is removed."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FaceswapError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the user's usual permissions
        os.close(fd)
    except OSError as err:
        raise _explain(err, path) from err
    tmp = Path(tmp)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as err:
        raise _explain(err, path) from err
    finally:
        if tmp.exists():
            tmp.unlink()


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def backup(path) -> Path | None:
    """Copy ``path`` to ``path.bak`` (atomically) before a job rewrites it; returns the backup path."""
    path = Path(path)
    if not path.exists():
        return None
    target = path.with_name(path.name + ".bak")
    with atomic_path(target) as tmp:
        shutil.copy2(path, tmp)
    return target
