"""Atomic file output: a temp file in the target's folder, fsync, then os.replace.

Readers of the target (and a cron job that dies half-way) only ever see the old complete file
or the new complete file, never a partial one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from .errors import CannotCreateOutput, IOFailure

_IO_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG}


def _reject_unwritable(target: Path) -> None:
    if target.is_dir():
        raise CannotCreateOutput(f"cannot write {target}: it is a directory")
    folder = target.parent
    if not folder.is_dir():
        raise CannotCreateOutput(f"cannot write {target}: folder {folder} does not exist")


def io_error(exc: OSError, target) -> Exception:
    """Map an OSError while writing to the matching gmmcli error (74 for a failing disk)."""
    reason = exc.strerror or str(exc)
    if exc.errno in _IO_ERRNOS:
        return IOFailure(f"writing {target} failed: {reason}")
    return CannotCreateOutput(f"cannot write {target}: {reason}")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path next to ``target``; move it into place only if the block succeeds."""
    target = Path(target)
    _reject_unwritable(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    except OSError as exc:
        raise io_error(exc, target) from None
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        raise io_error(exc, target) from None
    except BaseException:
        _discard(tmp)
        raise


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike):
    """Yield a text stream whose content replaces ``target`` atomically on success."""
    with atomic_path(target) as tmp:
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                yield fh
        except OSError as exc:
            raise io_error(exc, target) from None


def _discard(path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
