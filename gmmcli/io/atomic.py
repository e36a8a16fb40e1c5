"""Atomic file output: a temp file in the target's folder, fsync, then os.replace.

Readers of the target (and a cron job that dies half-way) only ever see the old complete file
or the new complete file, never a partial one. Two processes writing the same path at once each
write their own temp file; the last ``os.replace`` wins, and the result is one complete file.

A target that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a named pipe,
``/dev/full``) cannot be replaced -- and must not be: renaming a temp file over ``/dev/full``
as root would turn the device into a plain file. Such targets are written directly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from ..errors import CannotCreateOutput, IOFailure

_IO_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG}


def reject_unwritable(target) -> None:
    """Refuse (exit 73) a target that is a folder or lies in a folder that does not exist."""
    target = Path(target)
    if target.is_dir():
        raise CannotCreateOutput(f"cannot write {target}: it is a directory")
    folder = target.parent
    if not folder.is_dir():
        raise CannotCreateOutput(f"cannot write {target}: folder {folder} does not exist")


def is_special(target) -> bool:
    """True if ``target`` exists and is neither a regular file nor a folder (a device, a pipe)."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def io_error(exc: OSError, target) -> Exception:
    """Map an OSError while writing to the matching gmmcli error (74 for a failing disk)."""
    reason = exc.strerror or str(exc)
    if exc.errno in _IO_ERRNOS:
        return IOFailure(f"writing {target} failed: {reason}")
    return CannotCreateOutput(f"cannot write {target}: {reason}")


def _new_file_mode(target: Path) -> int:
    """The mode the target would get from a plain open(): its current mode, else 0666 & ~umask.

    mkstemp creates 0600 files; without this a model written by a cron job would be unreadable
    to the service that loads it.
    """
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ""):
    """Yield a temporary path next to ``target``; move it into place only if the block succeeds.

    The block is expected to write the temp file: an OSError from it (or from the temp-file
    handling) becomes CannotCreateOutput (73) or IOFailure (74); any other exception passes
    through unchanged. In every failing case the temp file is removed and the target untouched.
    """
    target = Path(target)
    if is_special(target):  # a device or pipe: write straight to it, never rename over it
        try:
            yield target
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise io_error(exc, target) from None
        return
    reject_unwritable(target)
    mode = _new_file_mode(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    except OSError as exc:
        raise io_error(exc, target) from None
    try:
        os.close(fd)
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        if isinstance(exc, BrokenPipeError):
            raise
        raise io_error(exc, target) from None
    except BaseException:
        _discard(tmp)
        raise
    _fsync_folder(target.parent)


@contextlib.contextmanager
def atomic_text(target: str | os.PathLike):
    """Yield a text stream whose content replaces ``target`` atomically on success.

    Write errors on the stream (disk full) become IOFailure; other exceptions pass through.
    """
    with atomic_path(target) as tmp:
        try:
            fh = open(tmp, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise io_error(exc, target) from None
        writer = _MappedWriter(fh, target)
        try:
            yield writer
        finally:
            writer.close()


class _MappedWriter:
    """A text stream whose write/flush/close turn OSError into the gmmcli error for ``target``.

    Errors raised by the code that *produces* the text (a parse error in the input) are not
    OSErrors of this stream, so they keep their own meaning.
    """

    def __init__(self, fh, target):
        self._fh, self._target = fh, target

    def write(self, text: str) -> int:
        try:
            return self._fh.write(text)
        except OSError as exc:
            raise self._mapped(exc) from None

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            raise self._mapped(exc) from None

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            self._fh.close()
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._fh.close()
            if self._broken:  # already reported: a closed pipe stays quiet
                return
            raise self._mapped(exc) from None

    _broken = False

    def _mapped(self, exc: OSError) -> BaseException:
        """A closed pipe (-o /dev/stdout | head) stays a BrokenPipeError: quiet, not exit 73."""
        if isinstance(exc, BrokenPipeError):
            self._broken = True
            with contextlib.suppress(OSError):  # drop what is buffered: nobody will read it
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._fh.fileno())
            return exc
        return io_error(exc, self._target)

    def __getattr__(self, name):  # pandas asks for mode, encoding, ... : delegate
        return getattr(self._fh, name)

    def __iter__(self):
        return iter(self._fh)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort (not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _discard(path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
