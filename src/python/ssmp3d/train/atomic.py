"""Atomic file replacement for checkpoints and logs: all of the new file, or all of the old one.

:func:`atomic_write` writes to a temporary file beside the target
(``.NAME.XXXXXXXX.tmp``), flushes and fsyncs it, renames it over the target
(``os.replace``, atomic on POSIX and Windows) and, on POSIX, fsyncs the
directory so that the rename itself survives a power loss. An exception
removes the temporary file; a process killed mid-write (SIGKILL, power loss)
cannot, so the next write of the same target removes such leftovers
(:func:`remove_stale_temporaries`). One writer per target is assumed (the
trainer writes from rank 0 only).
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_write", "fsync_directory", "remove_stale_temporaries"]

#: Characters of the random part of :func:`tempfile.mkstemp` names (8 of them).
_RANDOM = "[a-z0-9_]{8}"
#: errno values of file systems that cannot fsync a directory (nothing to make durable there).
_NO_DIR_FSYNC = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF, errno.EISDIR}


def _temporary_pattern(target: Path) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(target.name)}\.{_RANDOM}\.tmp")


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Removes temporary files an interrupted :func:`atomic_write` of ``target`` left behind.

    Only names of exactly that form (``.NAME.XXXXXXXX.tmp`` beside ``target``)
    are removed; other files are never touched.

    Returns:
        The files removed.
    """
    target = Path(target)
    pattern, removed = _temporary_pattern(target), []
    try:
        entries = list(target.parent.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
            try:
                entry.unlink()
            except FileNotFoundError:
                continue
            removed.append(entry)
    return removed


def fsync_directory(directory: str | os.PathLike) -> None:
    """Makes a rename or creation inside ``directory`` durable (POSIX; a no-op elsewhere).

    Raises:
        OSError: the directory cannot be opened or synced (file systems that
            do not support syncing a directory are accepted silently).
    """
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIR_FSYNC:
            raise
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(target: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Replaces ``target`` atomically with what ``write(file)`` writes.

    Args:
        target: The file; its directory is created if needed.
        write: Called once with a binary file open for writing.

    Returns:
        ``target`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: the file cannot be written (``target`` is left as it was, and
            the temporary file is removed). Exceptions of ``write`` propagate
            likewise.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; a saved file gets the usual 0666 & ~umask
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)
    return target
