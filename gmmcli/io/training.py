"""What fit and select train on: the feature columns, their matrix and the row weights, checked."""

from __future__ import annotations

import numpy as np

from ..errors import DataError, UsageError
from . import plain
from .tables import Reader, check_header, feature_matrix, read_blocks, read_frame, separator_hint


def read_training_data(
    source: str,
    delimiter: str | None = None,
    header: bool = True,
    *,
    columns: list[str],
    exclude: list[str],
    weights: str | None = None,
    dropna: bool = False,
    dtype=np.float64,
    check_rows=None,
):
    """``training_data(read_frame(source, ...), ...)``, without pandas for a small plain input
    (the same X, names and weights: parsed as pandas parses them).

    ``check_rows(n_rows, n_features)``, if given, is called as blocks of rows are read (the
    memory guard: it raises to stop a read whose fit could not run, before it is all read)."""
    reader = Reader(source, delimiter, header)
    if dtype == np.float64:  # float32: pandas' casts, left to pandas
        text = reader.read_small()
        table = None if text is None else plain.split(text, reader.sep, header)
        if table is not None:
            if header:
                check_header(table.columns, source)
            names = training_columns(table, columns, exclude, weights)
            values = [plain.numbers(table.data[n]) for n in names + ([weights] if weights else [])]
            if all(v is not None for v in values):
                X = np.column_stack(values[: len(names)])
                return X, names, checked_weights(values[-1], weights) if weights else None
    frame = (
        read_frame(source, reader=reader)
        if check_rows is None
        else _read_checked(source, reader, check_rows, columns, exclude, weights)
    )
    return training_data(
        frame,
        columns=columns,
        exclude=exclude,
        weights=weights,
        dropna=dropna,
        dtype=dtype,
    )


def _read_checked(source, reader, check_rows, columns, exclude, weights):
    """The whole table, read in blocks, ``check_rows`` called after each one."""
    import pandas as pd

    blocks, rows, width = [], 0, None
    for block in read_blocks(source, reader=reader, header=reader.header):
        if width is None:
            width = len(training_columns(block, columns, exclude, weights))
        rows += len(block)
        check_rows(rows, width)
        blocks.append(block)
    return blocks[0] if len(blocks) == 1 else pd.concat(blocks)


def choose_features(frame, columns: list[str], exclude: list[str]) -> list[str]:
    """The columns to fit on: --columns if given, else every column not --exclude'd."""
    missing = [c for c in columns + exclude if c not in frame.columns]
    if missing:
        raise UsageError(
            f"unknown column {missing[0]!r} (input has: {', '.join(map(str, frame.columns))})"
            + separator_hint(frame.columns)
        )
    names = columns or [c for c in frame.columns if c not in exclude]
    names = [c for c in names if c not in exclude]
    if not names:
        raise UsageError("no columns left to fit on after --exclude")
    return [str(c) for c in names]


def training_data(
    frame,
    *,
    columns: list[str],
    exclude: list[str],
    weights: str | None = None,
    dropna: bool = False,
    dtype=np.float64,
):
    """What fit and select train on: (X, feature names, row weights or None).

    The --weights column is never a feature. Its values must be finite, non-negative and not all
    zero (even with --dropna: a bad weight is a mistake to fix, not a row to skip silently).
    """
    names = training_columns(frame, columns, exclude, weights)
    X, kept = feature_matrix(frame, names, dropna, dtype=dtype)
    if weights is None:
        return X, names, None
    if frame[weights].dtype.kind not in "biuf":
        raise DataError(f"--weights column {weights!r} is not numeric")
    return X, names, checked_weights(frame[weights].to_numpy(dtype=np.float64)[kept], weights)


def training_columns(frame, columns: list[str], exclude: list[str], weights: str | None) -> list[str]:
    """The feature columns (``choose_features``), the --weights column never among them."""
    if weights is not None:
        if weights not in frame.columns:
            raise UsageError(
                f"unknown --weights column {weights!r} (input has: {', '.join(map(str, frame.columns))})"
                + separator_hint(frame.columns)
            )
        if weights in columns:
            raise UsageError(f"column {weights!r} cannot be both a feature and the --weights column")
        exclude = exclude + [weights]
    return choose_features(frame, columns, exclude)


def checked_weights(w: np.ndarray, name: str) -> np.ndarray:
    """The --weights values, refused when negative, missing, infinite or all zero."""
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"--weights column {name!r} has a negative, missing or infinite value")
    if not w.sum() > 0:
        raise DataError(f"--weights column {name!r} sums to zero")
    return w


#: Fewer rows than this are too few to call a column a row id.
ROW_ID_MIN_ROWS = 10


def row_id_columns(X: np.ndarray, names: list[str]) -> list[str]:
    """The features that look like a row id: whole numbers, all distinct, in increasing or
    decreasing order (1, 2, 3, ... or 1001, 1005, 1010, ...)."""
    if len(X) < ROW_ID_MIN_ROWS:
        return []
    found = []
    for j, name in enumerate(names):
        column = X[:, j]
        steps = np.diff(column)
        if np.all(column == np.round(column)) and (np.all(steps > 0) or np.all(steps < 0)):
            found.append(name)
    return found
