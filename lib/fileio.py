"""Safe file handling: atomic writes (a temp file beside the target, fsync, rename, so a crash never leaves half
a file), temp files a killed run left behind, and names read from files kept inside their folder."""
import contextlib
import errno
import os
import re
import shutil
import tempfile
import time
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


def safe_child(folder, name) -> Path:
    """``folder / name`` for a ``name`` read from a file, refused (one FaceswapError) unless it stays inside
    ``folder``: no separators, ``..``, absolute paths, NUL or control characters, and no link that leads out."""
    from lib.validate import plain_name
    folder = Path(folder)
    try:
        plain_name(name)
    except ValueError as err:
        raise FaceswapError(f"refusing to use a name read from a file: {err}; nothing outside {folder} is "
                            f"touched") from None
    path = folder / name
    if path.is_symlink() or path.exists():
        try:
            inside = path.resolve().is_relative_to(folder.resolve())
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            raise FaceswapError(f"refusing to use {path}: it is a link to a place outside {folder}")
    return path


# Temp files are named ``.<target name>.<pid>-<random><suffix>``: hidden, and traceable to the process that
# made them, so a later run can remove those of a process that was killed (kill -9 skips every cleanup).
_TEMP = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)-[A-Za-z0-9_]+(\.\w+)?$")


def temp_prefix(path) -> str:
    """Prefix of the temp files made for ``path`` by this process (see :func:`remove_stale_temps`)."""
    return f".{Path(path).name}.{os.getpid()}-"


def remove_stale_temps(folder, min_age_s: float = 2.0) -> int:
    """Delete the temp files in ``folder`` whose process is gone (a killed run's leftovers); returns how many.
    Temps of a live process, or younger than ``min_age_s`` (a process of another machine sharing the folder),
    are kept."""
    folder = Path(folder)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        match = _TEMP.match(entry.name)
        if not match or _alive(int(match.group("pid"))):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < min_age_s:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def temp_file(near, suffix: str | None = None) -> Path:
    """A new empty hidden temp file beside ``near`` (with the user's usual permissions), named so that
    :func:`remove_stale_temps` cleans it up if this process is killed; the caller renames or removes it."""
    near = Path(near)
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(near), suffix=suffix or near.suffix or ".tmp", dir=near.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the user's usual permissions
        os.close(fd)
    except OSError as err:
        raise _explain(err, near) from err
    return Path(tmp)


def temp_dir(near) -> Path:
    """A new hidden temp folder beside ``near`` (a file or folder to be written), named so that
    :func:`remove_stale_temps` cleans it up if this process is killed; the caller removes it when done."""
    near = Path(near)
    try:
        return Path(tempfile.mkdtemp(prefix=temp_prefix(near), dir=near.parent))
    except OSError as err:
        raise _explain(err, near) from err


def check_writable(folder, what: str = "folder") -> None:
    """Refuse up front a ``folder`` (or, when it does not exist yet, the folder it would be made in) that cannot
    be written, by writing and removing a temp file there, so a long job never fails at its first save."""
    folder = Path(folder)
    probe_in = folder
    while not probe_in.exists() and probe_in.parent != probe_in:
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise FaceswapError(f"cannot write {what} {folder}: {probe_in} is a file, not a folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(folder / "write-check"), dir=probe_in)
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        raise FaceswapError(f"cannot write {what} {folder}: {probe_in} is read-only or not writable "
                            f"({err.strerror}); choose another folder") from None


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temp path beside ``path``; on success it replaces ``path``, on any error it is removed."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FaceswapError(f"cannot write {path}: folder {path.parent} does not exist")
    tmp = temp_file(path, suffix)
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
