"""Tables in: CSV/TSV/JSON-lines, a path or "-", column selection, NaN policy, blocks.

The only module that knows file formats (with ``plain``, its pandas-free path for small plain
inputs; ``training`` picks and checks what fit and select train on). Everything it returns to
the rest of gmmcli is a pandas DataFrame, a
plain.PlainTable or a float numpy matrix; everything it raises is a GmmcliError. Which
separator a file uses is ``separators``; writing tables out is ``output``.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator

import numpy as np

from ..errors import DataError
from . import plain
from .limits import HUGE
from .separators import SNIFF_BYTES, check_header, delimiter_for, separator_hint, sniff_separator, source_name
from .sources import Prefixed, check_readable, decompression_errors, open_guarded, read_error, read_errors

BLOCK_ROWS = 65_536


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
        check_readable(self.source)
        self.stream, self.raw, self.sep = open_guarded(self.source, self.sep)
        try:
            self.ahead = self.stream.read(plain.PLAIN_BYTES + 1)
        except (OSError, EOFError, ValueError, UnicodeDecodeError) + decompression_errors() as exc:
            self.close()
            raise read_error(self.source, exc) from None
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
        pd, errors = read_errors()
        if self.ahead is None:
            check_readable(self.source)
            self.stream, self.raw, self.sep = open_guarded(self.source, self.sep)
            source = self.stream
            if self.sep is None:
                try:
                    self._sniff(source.peek(SNIFF_BYTES))
                except OSError as exc:
                    self.close()
                    raise read_error(self.source, exc) from None
        elif isinstance(self.stream, io.BytesIO):  # the whole input, read ahead
            source = self.stream
        else:  # its beginning, read ahead
            source = io.BufferedReader(Prefixed(self.ahead, self.stream))
        kwargs = self._kwargs(chunksize)
        if self.text_columns:
            source = self._verbatim(source, kwargs, pd)
        try:
            with _quiet_dtypes(pd):
                result = pd.read_csv(source, **kwargs)
        except pd.errors.EmptyDataError:
            self.close()
            raise DataError(f"input {source_name(self.source)} is empty") from None
        except errors as exc:
            self.close()
            raise read_error(self.source, exc) from None
        except OSError as exc:
            self.close()
            raise read_error(self.source, exc) from None
        except BaseException:
            self.close()
            raise
        if chunksize:
            return result
        self.close()
        return self.rename(result)

    def _sniff(self, head: bytes) -> None:
        if self.sep is None:
            self.sep = sniff_separator(head[:SNIFF_BYTES])

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
        source = io.BufferedReader(Prefixed(first, source))
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


def read_frame(
    source: str, delimiter: str | None = None, header: bool = True, *, reader: Reader | None = None
):
    """Read a whole table; raise DataError for an empty input or one without data rows."""
    frame = (reader or Reader(source, delimiter, header)).open(None)
    if len(frame) == 0:
        raise DataError(f"input {source_name(source)} has a header but no data rows")
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
    pd, errors = read_errors()
    seen = False
    with contextlib.closing(reader), contextlib.closing(chunks):
        while True:
            try:
                with _quiet_dtypes(pd):
                    block = next(chunks)
            except StopIteration:
                break
            except errors as exc:
                raise read_error(source, exc) from None
            except OSError as exc:
                raise read_error(source, exc) from None
            if len(block):
                seen = True
                yield reader.rename(block)
    if not seen:
        raise DataError(f"input {source_name(source)} has a header but no data rows")


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
