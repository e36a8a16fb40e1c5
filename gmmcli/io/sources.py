"""Opening an input: a path or stdin, decompressed by its magic bytes, behind the line guard;
and read errors of every kind (OS, decompression, the parser) as one-line GmmcliErrors."""

from __future__ import annotations

import io
import os
import sys

from ..errors import DataError, InputMissing, IOFailure, first_line
from .separators import SNIFF_BYTES, sniff_separator, source_name

_BZ2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")  # first block, or end of stream (an empty file)


def check_readable(source: str) -> None:
    if source == "-":
        return
    if not os.path.exists(source):
        raise InputMissing(f"input file {source} does not exist")
    if os.path.isdir(source):
        raise InputMissing(f"input {source} is a directory, not a file")
    if not os.access(source, os.R_OK):
        raise InputMissing(f"input file {source} is not readable")


def open_binary(source: str):
    """(stream, raw): a binary stream of the (decompressed) input, and the file under it.

    gzip, bz2 and xz are recognised by content: sniffing the first bytes rather than trusting
    the name means ``cat x.csv.gz | gmmcli ... -`` works as well as ``gmmcli ... x.csv.gz``.
    """
    if source == "-":
        if sys.stdin is None:  # started with stdin closed (<&-)
            raise InputMissing("stdin is closed: give the input as a file instead of -")
        raw = sys.stdin.buffer
        if not hasattr(raw, "peek"):  # a BytesIO in tests, say
            raw = io.BufferedReader(raw)
    else:
        try:
            raw = open(source, "rb")
        except PermissionError:
            raise InputMissing(f"input file {source} is not readable") from None
        except OSError as exc:
            raise InputMissing(f"cannot open input {source}: {exc.strerror or exc}") from None
    try:
        head = raw.peek(10)[:10]
    except OSError as exc:
        raise IOFailure(f"reading {source_name(source)} failed: {exc.strerror or exc}") from None
    if head.startswith(b"\x1f\x8b"):
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in _BZ2_BLOCKS:
        import bz2

        return bz2.BZ2File(raw, mode="rb"), raw
    if head.startswith(b"\xfd7zXZ\x00"):
        import lzma

        return lzma.LZMAFile(raw, mode="rb"), raw
    return raw, raw


def open_guarded(source: str, sep: str | None):
    """(stream, raw, separator): ``open_binary``, its text read through a
    ``line_guard.LineGuard`` (bounded lines). A separator still unknown (None) is sniffed from
    the first ``SNIFF_BYTES`` first, since the guard counts fields by it."""
    from .line_guard import guarded

    stream, raw = open_binary(source)
    if sep is None:
        try:
            head = stream.read(SNIFF_BYTES)
        except (OSError, EOFError, ValueError) + decompression_errors() as exc:
            raw.close() if raw is not sys.stdin.buffer else None
            raise read_error(source, exc) from None
        sep = sniff_separator(head)
        stream = io.BufferedReader(Prefixed(head, stream))
    return guarded(stream, source_name(source), sep, owns=stream is not raw), raw, sep


def decompression_errors() -> tuple:
    import lzma
    import zlib

    return zlib.error, lzma.LZMAError


def read_errors():
    """The exceptions that mean "this input cannot be read as a table", by library."""
    import pandas as pd

    return pd, (
        pd.errors.ParserError,
        pd.errors.ParserWarning,  # made an error by _quiet_dtypes: rows wider than the header
        UnicodeDecodeError,
        ValueError,
        EOFError,
    ) + decompression_errors()


class Prefixed(io.RawIOBase):
    """Bytes already read, then the rest of a stream (which closing this leaves open)."""

    def __init__(self, ahead: bytes, rest):
        self.ahead, self.rest = memoryview(ahead), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.ahead:
            n = min(len(buffer), len(self.ahead))
            buffer[:n] = self.ahead[:n]
            self.ahead = self.ahead[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def read_error(source: str, exc: BaseException) -> Exception:
    """The one-line gmmcli error for an exception raised while parsing ``source``."""
    if isinstance(exc, UnicodeDecodeError):
        return DataError(f"cannot parse {source_name(source)}: not UTF-8 text (byte {exc.start} of a block)")
    if isinstance(exc, Warning):  # pandas' "Length of header or names does not match ..."
        return DataError(f"cannot parse {source_name(source)}: a row has more fields than the header")
    if isinstance(exc, EOFError):
        return DataError(f"cannot read {source_name(source)}: compressed input ends early (truncated file?)")
    if isinstance(exc, OSError) and not is_format_error(exc):
        return IOFailure(f"reading {source_name(source)} failed: {exc.strerror or first_line(exc)}")
    return DataError(f"cannot parse {source_name(source)}: {parser_message(exc)}")


def parser_message(exc: BaseException) -> str:
    """pandas' "Error tokenizing data. C error: Expected 2 fields..." -> "expected 2 fields..."."""
    text = first_line(exc)
    for noise in ("Error tokenizing data. C error: ", "C error: "):
        text = text.replace(noise, "")
    return text[:1].lower() + text[1:]


def is_format_error(exc: OSError) -> bool:
    """gzip and bz2 report corrupt data as a plain OSError without an errno."""
    return exc.errno is None
