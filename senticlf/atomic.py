"""Write files and folders so that a crash never leaves a half-written one in place.

Everything senticlf produces (metrics, models, bundles, prediction files) goes through here:
the content is written under a temporary name in the same folder and then renamed over the
target, which POSIX makes atomic. A failure part-way leaves the previous file untouched.

Two things an ordinary ``open()`` gives for free are restored by hand: the temporary names
from ``tempfile`` are private (0600 files, 0700 folders), so the result gets the mode ``open()``
and ``mkdir()`` would give under the process umask (a bundle built by CI must be readable by
the account that serves it); and a write that fails for a reason the user can fix (a full
disk, a read-only filesystem, lost permissions) becomes one clear line, not a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from senticlf.errors import SenticlfError

# Failures of a write that the user can do something about; anything else is a bug.
_USER_FIXABLE = {
    errno.ENOSPC,  # no space left on device
    errno.EDQUOT,  # disk quota exceeded
    errno.EROFS,  # read-only file system
    errno.EACCES,  # permission denied
    errno.EPERM,  # operation not permitted
    errno.EIO,  # input/output error
    errno.EFBIG,  # file too large
}


def current_umask() -> int:
    """The process umask: from /proc where Linux offers it (no race with other threads)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("Umask:"))
        return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore, the only portable way
    os.umask(mask)
    return mask


def _give_ordinary_modes(path: Path) -> None:
    """Modes as open()/mkdir() would have made them: 0666 / 0777 less the umask."""
    mask = current_umask()
    if path.is_dir():
        for folder, _, files in os.walk(path):
            os.chmod(folder, 0o777 & ~mask)
            for name in files:
                file = Path(folder) / name
                if not file.is_symlink():
                    os.chmod(file, 0o666 & ~mask)
    else:
        os.chmod(path, 0o666 & ~mask)


@contextlib.contextmanager
def write_errors_reported(target: str | Path) -> Iterator[None]:
    """Turn a user-fixable OSError inside the block into one line naming the file and cause."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _USER_FIXABLE:
            raise
        where = exc.filename or target
        raise SenticlfError(f"cannot write {where}: {exc.strerror or exc}") from None


def _check_parent_writable(target: Path, folder: bool = False) -> None:
    parent = target.parent
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SenticlfError(f"cannot create folder {parent}: {exc.strerror}") from None
    if not parent.is_dir():
        raise SenticlfError(f"cannot write {target}: {parent} is not a folder")
    if not os.access(parent, os.W_OK):
        raise SenticlfError(f"cannot write {target}: folder {parent} is not writable")
    if target.is_dir() and not folder:
        raise SenticlfError(f"cannot write {target}: it is a folder, expected a file path")
    if target.is_file() and folder:
        raise SenticlfError(f"cannot write {target}: it is a file, expected a folder path")


@contextlib.contextmanager
def atomic_open(target: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``target``; rename it over ``target`` only on success."""
    target = Path(target)
    _check_parent_writable(target)
    encoding = None if "b" in mode else "utf-8"
    newline = None if "b" in mode else ""
    with write_errors_reported(target):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
            _give_ordinary_modes(Path(tmp_name))
            os.replace(tmp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise


def write_text(target: str | Path, text: str) -> None:
    """Atomically replace ``target`` with ``text``."""
    with atomic_open(target) as handle:
        handle.write(text)


@contextlib.contextmanager
def atomic_dir(target: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name and move it into place when the block succeeds.

    With ``overwrite`` an existing folder is replaced only after the new one is complete, so
    an export that fails half-way leaves the previous bundle as it was.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise SenticlfError(f"{target} already exists; pass --overwrite to replace it")
    _check_parent_writable(target, folder=True)
    with write_errors_reported(target):
        staging = Path(
            tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        )
        try:
            yield staging
            _give_ordinary_modes(staging)
            if target.exists():
                backup = target.with_name(f".{target.name}.old")
                shutil.rmtree(backup, ignore_errors=True)
                os.replace(target, backup)
                os.replace(staging, target)
                shutil.rmtree(backup, ignore_errors=True)
            else:
                os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
