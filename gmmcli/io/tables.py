"""Tables in and out: CSV/TSV/JSON-lines, a path or "-", column selection, NaN policy, blocks.

The only module that knows file formats (with ``plain``, its pandas-free path for small plain
inputs; ``training`` picks and checks what fit and select train on). Everything it returns to
the rest of gmmcli is a pandas DataFrame, a
plain.PlainTable or a float numpy matrix; everything it raises is a GmmcliError.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import sys
from collections.abc import Iterator

import numpy as np

from ..errors import DataError, InputMissing, IOFailure, OutputClosed, UsageError, first_line
from . import plain
from .limits import HUGE

FORMATS = ("csv", "tsv", "json")
BLOCK_ROWS = 65_536


_BZ2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")  # first block, or end of stream (an empty file)


#: What -d may spell out; and the separators sniffed when -d is not given and the name says nothing.
_NAMED_SEPARATORS = {"tab": "\t", "\\t": "\t", "\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
SNIFFED = (",", "\t", ";", "|")
_SNIFF_LINES = 20
_SNIFF_BYTES = 1 << 16


def delimiter_for(source: str, delimiter: str | None) -> str | None:
    """The separator -d or the file's name gives; None when it must be sniffed from the text
    (stdin, or a name without .csv/.tsv/.tab before any compression suffix)."""
    if delimiter:
        if delimiter in _NAMED_SEPARATORS:
            return _NAMED_SEPARATORS[delimiter]
        if len(delimiter) != 1 or delimiter in '"\r\n' or delimiter.isalnum() or delimiter in ".-+":
            raise UsageError(f"--delimiter must be one character like , ; | or tab, got {delimiter!r}")
        return delimiter
    name = source.removesuffix(".gz").removesuffix(".bz2").removesuffix(".xz")
    if name.endswith((".tsv", ".tab")):
        return "\t"
    return "," if name.endswith(".csv") else None


SNIFF_BYTES = _SNIFF_BYTES  # what a reader that opens the file itself (Dask's) gives sniff_separator


def sniff_separator(head: bytes) -> str:
    """Comma, tab, semicolon or pipe: the one that splits the first lines into the same number
    (more than one) of fields, the most fields winning, comma first among equals; comma when
    none does. Only complete lines count (the last one too if the text ends there)."""
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if len(lines) > 1:
        lines.pop()  # cut off where the peek ended (or the empty string after the last newline)
    lines = [line for line in lines[:_SNIFF_LINES] if line.strip()]
    best, best_fields = ",", 1
    for sep in SNIFFED:
        counts = {line.count(sep) for line in lines}
        if len(counts) == 1 and (fields := counts.pop() + 1) > best_fields:
            best, best_fields = sep, fields
    return best


def separator_hint(columns) -> str:
    """For an error naming a missing column: ' (the input has one column, 'id\\tx\\ty': is the
    separator right? try -d tab)' when the header looks split on the wrong character, else ''."""
    names = [str(c) for c in columns]
    if len(names) != 1:
        return ""
    for sep, spelled in (("\t", "tab"), (";", ";"), ("|", "|"), (",", ",")):
        if sep in names[0]:
            return f" (the input has one column, {names[0]!r}: is the separator right? try -d '{spelled}')"
    return ""


def _looks_like_number(text: str) -> bool:
    return bool(_NUMBER.fullmatch(text.strip()))


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


NO_HEADER_ADVICE = "if the input has no header line, use --no-header"


def check_header(columns, source: str, advice: str = NO_HEADER_ADVICE) -> None:
    """A header line whose every field is a number is data: refuse it (exit 65), pointing at
    --no-header (or ``advice``), rather than name the features '1', '0.25', '6.48' and lose the
    first row."""
    names = [str(c) for c in columns]
    if names and all(_looks_like_number(n) for n in names):
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise DataError(
            f"the first line of {_name(source)} is all numbers ({shown}), not column names: {advice}"
        )


def _check_readable(source: str) -> None:
    if source == "-":
        return
    if not os.path.exists(source):
        raise InputMissing(f"input file {source} does not exist")
    if os.path.isdir(source):
        raise InputMissing(f"input {source} is a directory, not a file")
    if not os.access(source, os.R_OK):
        raise InputMissing(f"input file {source} is not readable")


def _open_binary(source: str):
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
        raise IOFailure(f"reading {_name(source)} failed: {exc.strerror or exc}") from None
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


def _open_guarded(source: str, sep: str | None):
    """(stream, raw, separator): ``_open_binary``, its text read through a
    ``line_guard.LineGuard`` (bounded lines). A separator still unknown (None) is sniffed from
    the first ``_SNIFF_BYTES`` first, since the guard counts fields by it."""
    from .line_guard import guarded

    stream, raw = _open_binary(source)
    if sep is None:
        try:
            head = stream.read(_SNIFF_BYTES)
        except (OSError, EOFError, ValueError) + _decompression_errors() as exc:
            raw.close() if raw is not sys.stdin.buffer else None
            raise _read_error(source, exc) from None
        sep = sniff_separator(head)
        stream = io.BufferedReader(_Prefixed(head, stream))
    return guarded(stream, _name(source), sep, owns=stream is not raw), raw, sep


def _decompression_errors() -> tuple:
    import lzma
    import zlib

    return zlib.error, lzma.LZMAError


def _read_errors():
    """The exceptions that mean "this input cannot be read as a table", by library."""
    import pandas as pd

    return pd, (
        pd.errors.ParserError,
        pd.errors.ParserWarning,  # made an error by _quiet_dtypes: rows wider than the header
        UnicodeDecodeError,
        ValueError,
        EOFError,
    ) + _decompression_errors()


class _Prefixed(io.RawIOBase):
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


def _read_error(source: str, exc: BaseException) -> Exception:
    """The one-line gmmcli error for an exception raised while parsing ``source``."""
    if isinstance(exc, UnicodeDecodeError):
        return DataError(f"cannot parse {_name(source)}: not UTF-8 text (byte {exc.start} of a block)")
    if isinstance(exc, Warning):  # pandas' "Length of header or names does not match ..."
        return DataError(f"cannot parse {_name(source)}: a row has more fields than the header")
    if isinstance(exc, EOFError):
        return DataError(f"cannot read {_name(source)}: compressed input ends early (truncated file?)")
    if isinstance(exc, OSError) and not _is_format_error(exc):
        return IOFailure(f"reading {_name(source)} failed: {exc.strerror or first_line(exc)}")
    return DataError(f"cannot parse {_name(source)}: {_parser_message(exc)}")


def _parser_message(exc: BaseException) -> str:
    """pandas' "Error tokenizing data. C error: Expected 2 fields..." -> "expected 2 fields..."."""
    text = first_line(exc)
    for noise in ("Error tokenizing data. C error: ", "C error: "):
        text = text.replace(noise, "")
    return text[:1].lower() + text[1:]


def _is_format_error(exc: OSError) -> bool:
    """gzip and bz2 report corrupt data as a plain OSError without an errno."""
    return exc.errno is None


class Reader:
    """Parsing options for one input: delimiter, header, columns to keep verbatim."""

    def __init__(
        self, source: str, delimiter: str | None = None, header: bool = True, text_columns: list[str] = ()
    ):
        self.source = source
        self.sep = delimiter_for(source, delimiter)  # None: sniffed from the first lines
        self.header = header
        self.text_columns = list(text_columns)

    def _kwargs(self, chunksize):
        kwargs = dict(
            sep=self.sep,
            chunksize=chunksize,
            encoding="utf-8-sig",
            compression=None,
            skipinitialspace=True,
            header=0 if self.header else None,
            index_col=False,  # never take a first column as an index: a row too wide is an error
        )
        if self.text_columns:
            if self.header:
                kwargs["dtype"] = {name: str for name in self.text_columns}
            else:
                kwargs["dtype"] = {
                    _position(name): str for name in self.text_columns if _position(name) is not None
                }
        return kwargs

    ahead: bytes | None = None  # what read_small read ahead of pandas

    def read_small(self) -> str | None:
        """The whole input as text if it is at most ``PLAIN_BYTES`` of UTF-8, else None.

        For ``plain_tables``: when this returns None, or the text is not plain, ``open`` gives
        pandas what was read ahead followed by the rest, so nothing is read twice or lost.
        """
        _check_readable(self.source)
        self.stream, self.raw, self.sep = _open_guarded(self.source, self.sep)
        try:
            self.ahead = self.stream.read(plain.PLAIN_BYTES + 1)
        except (OSError, EOFError, ValueError, UnicodeDecodeError) + _decompression_errors() as exc:
            self.close()
            raise _read_error(self.source, exc) from None
        except BaseException:
            self.close()
            raise
        self._sniff(self.ahead)
        if len(self.ahead) > plain.PLAIN_BYTES:
            return None
        self.close()
        self.stream = self.raw = io.BytesIO(self.ahead)
        try:
            return self.ahead.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None

    def open(self, chunksize: int | None):
        """A DataFrame (chunksize None) or pandas' chunked reader; errors as GmmcliError."""
        pd, errors = _read_errors()
        if self.ahead is None:
            _check_readable(self.source)
            self.stream, self.raw, self.sep = _open_guarded(self.source, self.sep)
            source = self.stream
            if self.sep is None:
                try:
                    self._sniff(source.peek(_SNIFF_BYTES))
                except OSError as exc:
                    self.close()
                    raise _read_error(self.source, exc) from None
        elif isinstance(self.stream, io.BytesIO):  # the whole input, read ahead
            source = self.stream
        else:  # its beginning, read ahead
            source = io.BufferedReader(_Prefixed(self.ahead, self.stream))
        kwargs = self._kwargs(chunksize)
        if self.text_columns:
            source = self._verbatim(source, kwargs, pd)
        try:
            with _quiet_dtypes(pd):
                result = pd.read_csv(source, **kwargs)
        except pd.errors.EmptyDataError:
            self.close()
            raise DataError(f"input {_name(self.source)} is empty") from None
        except errors as exc:
            self.close()
            raise _read_error(self.source, exc) from None
        except OSError as exc:
            self.close()
            raise _read_error(self.source, exc) from None
        except BaseException:
            self.close()
            raise
        if chunksize:
            return result
        self.close()
        return self.rename(result)

    def _sniff(self, head: bytes) -> None:
        if self.sep is None:
            self.sep = sniff_separator(head[:_SNIFF_BYTES])

    def close(self) -> None:
        """Close what we opened (never stdin itself)."""
        stream, raw = getattr(self, "stream", None), getattr(self, "raw", None)
        self.stream = self.raw = None
        if stream is None:
            return
        if stream is not raw:  # a decompressor: closing it leaves the file under it open
            with contextlib.suppress(OSError, EOFError):
                stream.close()
        if self.source == "-":
            if isinstance(raw, io.BufferedReader) and raw is not getattr(sys.stdin, "buffer", None):
                raw.detach()  # our wrapper around a test's BytesIO: let go without closing it
            return
        with contextlib.suppress(OSError):
            raw.close()

    def rename(self, frame):
        """Headerless input: columns 0, 1, ... become x0, x1, ...; a header must not be data."""
        if not self.header:
            frame.columns = [f"x{c}" for c in frame.columns]
        else:
            check_header(frame.columns, self.source)
        return frame

    def _verbatim(self, source, kwargs: dict, pd):
        """Make pandas copy the --keep columns byte for byte: no NA texts turned into blanks
        ("NA", "nan", "NULL" stay), no leading spaces stripped ("  DE" stays); only an empty
        field is missing (blank in CSV, null in JSON). Every other
        column keeps pandas' missing-value texts. Needs the header, which is read here (one
        bounded line) and given back in front of the rest."""
        first = source.readline()
        source = io.BufferedReader(_Prefixed(first, source))
        try:
            names = list(
                pd.read_csv(
                    io.BytesIO(first),
                    sep=self.sep,
                    nrows=0,
                    encoding="utf-8-sig",
                    header=0 if self.header else None,
                    index_col=False,
                    skipinitialspace=True,  # the names every other read gives the columns
                ).columns
            )
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError):  # pandas will say what is wrong
            return source
        if self.header:
            kept = set(self.text_columns) & set(names)
            kwargs["names"] = names  # the header row, named as above (its spaces not kept)
        else:
            kept = {_position(n) for n in self.text_columns} & set(names)
        kwargs.update(
            skipinitialspace=False,
            keep_default_na=False,
            na_values={n: [""] if n in kept else sorted(plain.NA_TEXTS) for n in names},
            dtype={n: str for n in kept},
        )
        return source


@contextlib.contextmanager
def _quiet_dtypes(pd):
    """pandas warns when a column mixes numbers and text; gmmcli reports that column itself
    ("column 'x' is not numeric: row 300001 holds 'abc'"), as its one error line."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        warnings.filterwarnings("error", "Length of header", pd.errors.ParserWarning)
        yield


def _position(name: str) -> int | None:
    """'x3' -> 3 (the column a headerless input calls x3)."""
    return int(name[1:]) if name[:1] == "x" and name[1:].isdigit() else None


def _name(source: str) -> str:
    return "stdin" if source == "-" else source


def read_frame(
    source: str, delimiter: str | None = None, header: bool = True, *, reader: Reader | None = None
):
    """Read a whole table; raise DataError for an empty input or one without data rows."""
    frame = (reader or Reader(source, delimiter, header)).open(None)
    if len(frame) == 0:
        raise DataError(f"input {_name(source)} has a header but no data rows")
    return frame


def read_blocks(
    source: str,
    delimiter: str | None = None,
    block_rows: int = BLOCK_ROWS,
    *,
    header: bool = True,
    text_columns: list[str] = (),
    plain_features: list[str] | None = None,
    reader: Reader | None = None,
) -> Iterator:
    """Yield the table in blocks of rows, so that scoring runs in flat memory.

    Block ``i`` keeps pandas' running row index (rows are numbered across blocks), which
    ``feature_matrix`` uses to name the failing row. ``text_columns`` are read as text, so that
    they are copied to the output exactly as written, whatever other blocks hold.
    With ``plain_features`` (the numeric columns the caller needs), a small plain input is
    yielded as one ``plain.PlainTable`` instead, and pandas is not even imported.
    """
    reader = reader or Reader(source, delimiter, header, text_columns)
    if plain_features is not None:
        text = reader.read_small()
        block = (
            None
            if text is None
            else plain.parse(text, reader.sep, header, plain_features, reader.text_columns)
        )
        if block is not None:
            if header:
                check_header(block.columns, source)
            yield block
            return
    chunks = reader.open(block_rows)
    pd, errors = _read_errors()
    seen = False
    with contextlib.closing(reader), contextlib.closing(chunks):
        while True:
            try:
                with _quiet_dtypes(pd):
                    block = next(chunks)
            except StopIteration:
                break
            except errors as exc:
                raise _read_error(source, exc) from None
            except OSError as exc:
                raise _read_error(source, exc) from None
            if len(block):
                seen = True
                yield reader.rename(block)
    if not seen:
        raise DataError(f"input {_name(source)} has a header but no data rows")


def feature_matrix(frame, names: list[str], dropna: bool, dtype=np.float64):
    """The named columns as a float matrix, plus the mask of rows kept.

    Non-numeric columns are an error; rows with NaN, inf or a magnitude above ``HUGE`` are an
    error unless ``dropna``, which drops them. Rows are
    named by their 1-based number among the data rows of the whole input (not of the block).
    """
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(
            f"input has no column {missing[0]!r}, which the model needs{separator_hint(frame.columns)}"
        )
    for name in names:
        kind = frame[name].dtype.kind
        if kind == "b":  # a decision: True/False is not silently fitted as 1/0
            raise DataError(
                f"column {name!r} holds True/False values, which are not fitted as numbers "
                f"(recode it as 0/1, or exclude it with --exclude {name})"
            )
        if kind not in "biuf":
            raise DataError(
                f"column {name!r} is not numeric{_first_text(frame, name)} (exclude it with --exclude {name})"
            )
    X = frame[names].to_numpy(dtype=dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # over: HUGE is inf in float32
        finite = (np.abs(X) <= HUGE).all(axis=1)  # False for NaN and inf too
    if not finite.all():
        if not dropna:
            position = int(np.flatnonzero(~finite)[0])
            row = _row_number(frame, position)
            if np.isfinite(X[position]).all():
                column = names[int(np.flatnonzero(np.abs(X[position]) > HUGE)[0])]
                raise DataError(
                    f"row {row} has a value too large to model in column {column!r} "
                    f"(|x| > {HUGE:g}; rescale the data, or use --dropna to skip such rows)"
                )
            raise DataError(f"row {row} has a missing or infinite value (use --dropna to skip such rows)")
        X = X[finite]
    return X, finite


def numeric_view(frame, text_names: list[str]):
    """``frame`` with the named text columns (read verbatim for --keep) parsed as numbers.

    pandas' to_numeric and its CSV parser turn the same text into the same float, so a feature
    that is also kept scores exactly as one that is not. A value that is not a number is the
    same "not numeric" error as ever.
    """
    import pandas as pd

    convert = [n for n in text_names if n in frame.columns and frame[n].dtype.kind not in "biuf"]
    if not convert:
        return frame
    frame = frame.copy(deep=False)
    for name in convert:
        detail = _first_text(frame, name)
        if detail:
            raise DataError(f"column {name!r} is not numeric{detail} (exclude it with --exclude {name})")
        frame[name] = pd.to_numeric(frame[name], errors="coerce")
    return frame


def _row_number(frame, position: int) -> int:
    label = frame.index[position]
    return int(label) + 1 if isinstance(label, (int, np.integer)) else position + 1


def _first_text(frame, name: str) -> str:
    """': row 7 holds 'abc'' for the first value of a column that is not a number."""
    import pandas as pd

    column = frame[name]
    numbers = pd.to_numeric(column, errors="coerce")
    bad = np.flatnonzero(numbers.isna().to_numpy() & column.notna().to_numpy())
    if not len(bad):
        return ""
    value = str(column.iloc[bad[0]])
    value = value if len(value) <= 40 else value[:37] + "..."
    return f": row {_row_number(frame, int(bad[0]))} holds {value!r}"


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return fmt


def write_block(frame, fh, fmt: str, header: bool, precision: int | None = None) -> None:
    """Write one block of output rows (a DataFrame or a PlainTable) to an open text stream.

    ``precision``: floats with that many significant digits (``%.Ng``), else all of them.
    """
    if fmt == "json":
        import json

        columns = [str(c) for c in frame.columns]
        rows = (
            frame.rows() if isinstance(frame, plain.PlainTable) else frame.itertuples(index=False, name=None)
        )
        for row in rows:
            fh.write(json.dumps(dict(zip(columns, (_plain(v, precision) for v in row)))) + "\n")
    elif isinstance(frame, plain.PlainTable):
        plain.write(frame, fh, fmt, header, precision)
    else:
        frame.to_csv(
            fh,
            index=False,
            header=header,
            sep="\t" if fmt == "tsv" else ",",
            lineterminator="\n",
            float_format=None if precision is None else f"%.{precision}g",
        )


def _plain(value, precision: int | None = None):
    """numpy scalars to builtins, so json writes floats with full round-trip precision (or
    rounded to ``precision`` significant digits).

    NaN and infinities become null: json.dumps would write NaN/Infinity, which is not JSON.
    """
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if precision is not None:
            return float(f"{value:.{precision}g}")
    return value


@contextlib.contextmanager
def output_stream(output: str | None):
    """stdout for None or "-", else an atomically replaced file."""
    if output in (None, "-"):
        require_stdout()
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:  # the reader left (| head); not click's EPIPE exit 1
            raise OutputClosed() from None
        return
    from .atomic import atomic_text

    with atomic_text(output) as fh:
        yield fh


def require_stdout(output: str | None = None) -> None:
    """Refuse (exit 73) to write to stdout when the process was started with it closed (``>&-``);
    commands call this before any work, so nothing is computed for nobody."""
    if output in (None, "-") and sys.stdout is None:
        from ..errors import CannotCreateOutput

        raise CannotCreateOutput("stdout is closed: write to a file with -o FILE")


def write_table(
    frame, output: str | None, fmt: str, *, header: bool = True, precision: int | None = None
) -> None:
    """Write a whole table to stdout or atomically to a file."""
    with output_stream(output) as fh:
        write_block(frame, fh, fmt, header=header, precision=precision)
