"""Write files and folders so that a crash never leaves a half-written one in place.

Everything senticlf produces (metrics, models, bundles, prediction files) goes through here:
the content is written under a temporary name in the same folder and then renamed over the
target, which POSIX makes atomic. A failure part-way leaves the previous file untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from senticlf.errors import SenticlfError


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    encoding = None if "b" in mode else "utf-8"
    newline = None if "b" in mode else ""
    try:
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
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
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield staging
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
