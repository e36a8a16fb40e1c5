"""Bounded lines: every byte of a text input passes here before any parser sees it.

A parser that meets one pathological line (500,000 fields where the header has 3, a 1.5 GB
line inside a small ``.xz``, ``/dev/zero``) builds it whole in memory before it can complain.
``LineGuard`` counts, chunk by chunk and in fixed memory, the length of each line and, while
no quote has been seen, its separators; it refuses the input at the first line that is longer
than ``MAX_LINE_BYTES``, has more than ``MAX_FIELDS`` fields, or has more fields than the
header (a row pandas would otherwise read as an index plus the columns, shifting every value).
The plain reader, pandas and the decompressors all read through it.
"""

from __future__ import annotations

import io

import numpy as np

from ..errors import DataError

#: The longest line any input may have (bytes, line ending included).
MAX_LINE_BYTES = 4 << 20
#: The most fields a line may have.
MAX_FIELDS = 100_000
_CHUNK = 1 << 20


class LineGuard(io.RawIOBase):
    """A raw binary stream over ``stream`` that raises DataError at the first line out of bounds."""

    def __init__(self, stream, name: str, sep: str, owns: bool = False):
        self._stream, self._name, self._owns = stream, name, owns
        encoded = sep.encode()
        self._sep = encoded[0] if len(encoded) == 1 else None  # a multi-byte separator: lengths only
        self._line = 1  # the line being read, 1-based
        self._length = 0  # bytes of it seen so far
        self._seps = 0  # separators in it so far
        self._header: int | None = None  # fields of the first line
        self._quoted = False  # after the first quote, separators may be text: stop counting them

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(min(len(buffer), _CHUNK))
        if not data:
            return 0
        self._check(data)
        n = len(data)
        buffer[:n] = data
        return n

    def _check(self, data: bytes) -> None:
        if not self._quoted and b'"' in data:
            self._quoted = True
        chars = np.frombuffer(data, dtype=np.uint8)
        newline = chars == 10
        if self._counting:  # newlines and separators in one index: fields per line by differences
            marks = np.flatnonzero(newline | (chars == self._sep))
            at_end = np.flatnonzero(newline[marks])
            ends = marks[at_end]
        else:
            ends = np.flatnonzero(newline)
        if not len(ends):
            self._length += len(data)
            if self._counting:
                self._seps += data.count(bytes([self._sep]))
                self._refuse_wide(self._seps + 1, self._line, finished=False)
            self._refuse_long(self._length, self._line)
            return
        lengths = np.diff(ends, prepend=-1) + 1  # with their newline
        lengths[0] += self._length
        longest = int(np.argmax(lengths))
        if lengths[longest] > MAX_LINE_BYTES:
            self._refuse_long(int(lengths[longest]), self._line + longest)
        if self._counting:
            fields = np.diff(at_end, prepend=-1)  # separators before each newline, plus one
            fields[0] += self._seps
            if self._header is None:
                self._header = int(fields[0])
                self._refuse_wide(self._header, self._line, finished=True)
            wide = np.flatnonzero(fields > self._header)
            if len(wide):
                self._refuse_wide(int(fields[wide[0]]), self._line + int(wide[0]), finished=True)
            self._seps = len(marks) - int(at_end[-1]) - 1
        self._line += len(ends)
        self._length = len(data) - int(ends[-1]) - 1
        self._refuse_long(self._length, self._line)
        if self._counting:
            self._refuse_wide(self._seps + 1, self._line, finished=False)

    @property
    def _counting(self) -> bool:
        return self._sep is not None and not self._quoted

    def _refuse_long(self, length: int, line: int) -> None:
        if length > MAX_LINE_BYTES:
            raise DataError(
                f"cannot parse {self._name}: line {line:,} is longer than {MAX_LINE_BYTES >> 20} MiB "
                "(the limit for one line; is this a text table?)"
            )

    def _refuse_wide(self, fields: int, line: int, finished: bool) -> None:
        """Refuse a line with too many fields: at its end (the count is then exact), or as soon
        as it passes MAX_FIELDS (then it has at least that many)."""
        if finished and self._header is not None and fields > self._header and line > 1:
            raise DataError(
                f"cannot parse {self._name}: expected {self._header:,} fields in line {line:,}, "
                f"saw {fields:,} (more fields than the first line)"
            )
        if fields > MAX_FIELDS:
            more = "" if finished else " or more"
            raise DataError(
                f"cannot parse {self._name}: line {line:,} has {fields:,}{more} fields "
                f"(at most {MAX_FIELDS:,} are read)"
            )

    def close(self) -> None:
        """Close the stream under it too if it is ours (a decompressor), never a file we were lent."""
        if self._owns and not self.closed:
            self._stream.close()
        super().close()


def guarded(stream, name: str, sep: str, owns: bool = False):
    """``stream`` read through a LineGuard, buffered (``read(n)`` returns n bytes until the end);
    with ``owns``, closing it closes ``stream``."""
    return io.BufferedReader(LineGuard(stream, name, sep, owns), buffer_size=_CHUNK)
