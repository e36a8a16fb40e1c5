"""Tables in and out: CSV/TSV/JSON-lines, a path or "-", column selection, NaN policy, blocks.

The only module that knows file formats. Everything it returns to the rest of gmmcli is a
pandas DataFrame or a float numpy matrix; everything it raises is a GmmcliError.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

import numpy as np

from .errors import DataError, InputMissing, OutputClosed, UsageError

FORMATS = ("csv", "tsv", "json")
BLOCK_ROWS = 65_536


def _delimiter_for(source: str, delimiter: str | None) -> str:
    if delimiter:
        return "\t" if delimiter in ("\\t", "tab") else delimiter
    name = source[:-3] if source.endswith(".gz") else source
    return "\t" if name.endswith((".tsv", ".tab")) else ","


def _check_readable(source: str) -> None:
    if source == "-":
        return
    if not os.path.exists(source):
        raise InputMissing(f"input file {source} does not exist")
    if os.path.isdir(source):
        raise InputMissing(f"input {source} is a directory, not a file")
    if not os.access(source, os.R_OK):
        raise InputMissing(f"input file {source} is not readable")


def _reader(source: str, delimiter: str | None, chunksize: int | None):
    import pandas as pd

    _check_readable(source)
    handle = sys.stdin.buffer if source == "-" else source
    try:
        return pd.read_csv(
            handle,
            sep=_delimiter_for(source, delimiter),
            chunksize=chunksize,
            encoding="utf-8-sig",
            compression="infer" if source != "-" else None,
            skipinitialspace=True,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"input {_name(source)} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"cannot parse {_name(source)}: {_first_line(exc)}") from None
    except PermissionError:
        raise InputMissing(f"input file {source} is not readable") from None
    except OSError as exc:
        raise DataError(f"cannot read {_name(source)}: {_first_line(exc)}") from None


def _name(source: str) -> str:
    return "stdin" if source == "-" else source


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_frame(source: str, delimiter: str | None = None):
    """Read a whole table; raise DataError for an empty input or one without data rows."""
    frame = _reader(source, delimiter, None)
    if len(frame) == 0:
        raise DataError(f"input {_name(source)} has a header but no data rows")
    return frame


def read_blocks(source: str, delimiter: str | None = None, block_rows: int = BLOCK_ROWS) -> Iterator:
    """Yield the table in blocks of rows, so that scoring runs in flat memory."""
    import pandas as pd

    reader = _reader(source, delimiter, block_rows)
    seen = False
    with contextlib.closing(reader):
        while True:
            try:
                block = next(reader)
            except StopIteration:
                break
            except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
                raise DataError(f"cannot parse {_name(source)}: {_first_line(exc)}") from None
            if len(block):
                seen = True
                yield block
    if not seen:
        raise DataError(f"input {_name(source)} has a header but no data rows")


def parse_names(text: str | None) -> list[str]:
    """'a,b , c' -> ['a', 'b', 'c']; None or '' -> []."""
    return [n.strip() for n in text.split(",") if n.strip()] if text else []


def choose_features(frame, columns: list[str], exclude: list[str]) -> list[str]:
    """The columns to fit on: --columns if given, else every column not --exclude'd."""
    missing = [c for c in columns + exclude if c not in frame.columns]
    if missing:
        raise UsageError(f"unknown column {missing[0]!r} (input has: {', '.join(map(str, frame.columns))})")
    names = columns or [c for c in frame.columns if c not in exclude]
    names = [c for c in names if c not in exclude]
    if not names:
        raise UsageError("no columns left to fit on after --exclude")
    return [str(c) for c in names]


def feature_matrix(frame, names: list[str], dropna: bool, dtype=np.float64):
    """The named columns as a float matrix, plus the mask of rows kept.

    Non-numeric columns are an error; NaN/inf rows are an error unless ``dropna``.
    """
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(f"input has no column {missing[0]!r}, which the model needs")
    for name in names:
        kind = frame[name].dtype.kind
        if kind not in "biuf":
            raise DataError(f"column {name!r} is not numeric (exclude it with --exclude {name})")
    X = frame[names].to_numpy(dtype=dtype)
    finite = np.isfinite(X).all(axis=1)
    if not finite.all():
        if not dropna:
            row = int(np.flatnonzero(~finite)[0])
            raise DataError(f"row {row + 1} has a missing or infinite value (use --dropna to skip such rows)")
        X = X[finite]
    return X, finite


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    return fmt


def write_block(frame, fh, fmt: str, header: bool) -> None:
    """Write one block of output rows to an open text stream."""
    if fmt == "json":
        import json

        columns = [str(c) for c in frame.columns]
        for row in frame.itertuples(index=False, name=None):
            fh.write(json.dumps(dict(zip(columns, map(_plain, row)))) + "\n")
    else:
        frame.to_csv(fh, index=False, header=header, sep="\t" if fmt == "tsv" else ",", lineterminator="\n")


def _plain(value):
    """numpy scalars to builtins, so json writes floats with full round-trip precision."""
    return value.item() if hasattr(value, "item") else value


@contextlib.contextmanager
def output_stream(output: str | None):
    """stdout for None or "-", else an atomically replaced file."""
    if output in (None, "-"):
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:  # the reader left (| head); not click's EPIPE exit 1
            raise OutputClosed() from None
        return
    from .atomic import atomic_text

    with atomic_text(output) as fh:
        yield fh


def write_table(frame, output: str | None, fmt: str) -> None:
    """Write a whole table to stdout or atomically to a file."""
    with output_stream(output) as fh:
        write_block(frame, fh, fmt, header=True)
