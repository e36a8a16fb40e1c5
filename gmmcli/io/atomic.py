"""Atomic file output: a temp file in the target's folder, fsync, then os.replace.

Readers of the target (and a cron job that dies half-way) only ever see the old complete file
or the new complete file, never a partial one. Two processes writing the same path at once each
write their own temp file; the last ``os.replace`` wins, and the result is one complete file.

A target that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a named pipe,
``/dev/full``) cannot be replaced -- and must not be: renaming a temp file over ``/dev/full``
as root would turn the device into a plain file. Such targets are written directly.

A target that is a symbolic link is followed, as the shell's ``>`` follows it: the file the
link points to is replaced (atomically, by a temp file in *its* folder) and the link stays.

The temp file is ``.NAME.XXXXXXXX.tmp`` (NAME shortened so the whole stays a legal file
name) and is locked (``flock``) while it is written. One left behind by a process killed with
SIGKILL (or a power cut) is removed by the next write of the same target: a temp file of
that name that nobody holds locked and that has not changed for a minute.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from pathlib import Path

from ..errors import CannotCreateOutput, IOFailure, UsageError

_IO_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT, errno.EFBIG}
_NAME_MAX = 255  # bytes in one file name (ext4, xfs, btrfs, tmpfs)
_RANDOM = 8  # characters mkstemp adds
_STALE_SECONDS = 60  # an unlocked temp file untouched this long belongs to a dead process


def refuse_same_file(output, inputs, option: str = "-o") -> None:
    """Refuse (exit 2, before anything is read) an output that is one of the inputs.

    "The same" is the same file on disk (device and inode): through symbolic links, relative
    paths and hard links too. Writing it would replace the data while it is being read.
    """
    if output in (None, "", "-"):
        return
    for source in inputs:
        if source in (None, "", "-"):
            continue
        with contextlib.suppress(OSError):
            if os.path.samefile(output, source):
                raise UsageError(
                    f"{option} {output} is the input {source}: it would be overwritten; write elsewhere"
                )


def resolved(target) -> Path:
    """The file a write to ``target`` replaces: a symbolic link's final target, else itself.
    A link to a device or a pipe (``/dev/stdout``) is left as it is: it is written directly."""
    target = Path(target)
    return Path(os.path.realpath(target)) if target.is_symlink() and not is_special(target) else target


def reject_unwritable(target) -> None:
    """Refuse (exit 73) a target that is a folder, lies in a folder that does not exist, or
    whose name is longer than a file name can be."""
    shown = target
    if len(os.fsencode(Path(target).name)) > _NAME_MAX:
        raise CannotCreateOutput(f"cannot write {shown}: the file name is longer than {_NAME_MAX} bytes")
    try:
        if is_special(target):
            return
        target = resolved(target)
        if target.is_dir():
            raise CannotCreateOutput(f"cannot write {shown}: it is a directory")
        folder = target.parent
        if not folder.is_dir():
            raise CannotCreateOutput(f"cannot write {shown}: folder {folder} does not exist")
    except OSError as exc:  # a path component too long, a loop of links, ...
        raise CannotCreateOutput(f"cannot write {shown}: {exc.strerror or exc}") from None


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
    shown = target
    reject_unwritable(target)
    target = resolved(target)
    if is_special(target):  # a device or pipe: write straight to it, never rename over it
        try:
            yield target
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise io_error(exc, target) from None
        return
    mode = _new_file_mode(target)
    prefix, suffix = temp_prefix(target.name, suffix), suffix + ".tmp"
    remove_stale_temps(target.parent, prefix, suffix)
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    except OSError as exc:
        raise io_error(exc, shown) from None
    try:
        _lock(fd)  # held until the rename: the mark of a live writer
        yield Path(tmp)
        os.fchmod(fd, mode)
        os.fsync(fd)
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        if isinstance(exc, BrokenPipeError):
            raise
        raise io_error(exc, shown) from None
    except BaseException:
        _discard(tmp)
        raise
    finally:
        os.close(fd)
    _fsync_folder(target.parent)


def temp_prefix(name: str, suffix: str = "") -> str:
    """'.NAME.', NAME cut (at a character boundary) so that the temp name fits in 255 bytes."""
    room = _NAME_MAX - len(os.fsencode(f"..{suffix}.tmp")) - _RANDOM
    while len(os.fsencode(name)) > room:
        name = name[: -max(1, (len(os.fsencode(name)) - room) // 4)]
    return f".{name}."


def _lock(fd: int) -> None:
    with contextlib.suppress(OSError, ImportError):  # no flock (some network filesystems): no clean-up
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def remove_stale_temps(folder: Path, prefix: str, suffix: str) -> None:
    """Remove temp files of this target left by a killed writer: unlocked and a minute old."""
    try:
        import fcntl

        entries = [e for e in os.scandir(folder) if e.name.startswith(prefix) and e.name.endswith(suffix)]
    except (OSError, ImportError):
        return
    width = len(prefix) + _RANDOM + len(suffix)
    for entry in entries:
        if len(entry.name) != width:
            continue
        with contextlib.suppress(OSError):
            if time.time() - entry.stat(follow_symlinks=False).st_mtime < _STALE_SECONDS:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its writer lives
                os.unlink(entry.path)
            finally:
                os.close(fd)


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
