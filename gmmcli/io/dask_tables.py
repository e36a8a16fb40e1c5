"""Tables for the Dask engine: files and globs as a lazy dataframe, partitions as matrices,
and scoring into one output file per partition."""

from __future__ import annotations

import glob
import os

import numpy as np

from ..errors import DataError, InputMissing, UsageError


def expand_paths(paths: list[str]) -> list[str]:
    """Files named or matched by globs, in sorted order; a pattern that matches nothing is an error."""
    files: list[str] = []
    for pattern in paths:
        if pattern == "-":
            raise UsageError("--engine dask reads files, not stdin")
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise InputMissing(f"no file matches {pattern}")
        for path in matches:
            if not os.path.isfile(path):
                raise InputMissing(f"input file {path} does not exist")
        files.extend(matches)
    return files


_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz"}  # by name: Dask reads the files itself


#: The header check's advice where --no-header is not available.
NO_HEADER_ADVICE = (
    "give the files a header line (the Dask engine reads columns by name), or use --no-header "
    "with the local engine"
)


def open_table(paths: list[str], delimiter: str | None = None, blocksize: str = "16MB", text_columns=()):
    """A lazy dask dataframe over CSV/TSV (optionally .gz) or Parquet files.

    The in-memory readers' rules: the separator from -d or the first file's name, else sniffed
    from its first bytes (``separators.sniff_separator``); a header line of numbers refused
    (``separators.check_header``). ``text_columns`` (the --keep columns) are read as text, so they
    are copied verbatim.
    """
    from ..engine.dask_em import input_errors, require_dask
    from . import separators

    require_dask()
    import dask.dataframe as dd

    files = expand_paths(paths)
    if all(f.endswith((".parquet", ".pq")) for f in files):
        return dd.read_parquet(files)
    if any(f.endswith((".parquet", ".pq")) for f in files):
        raise UsageError("mix of Parquet and CSV inputs: give one kind")
    compression = next((kind for end, kind in _COMPRESSION.items() if files[0].endswith(end)), None)
    sep = separators.delimiter_for(files[0], delimiter)
    if sep is None:
        sep = separators.sniff_separator(_beginning(files[0], compression, separators.SNIFF_BYTES))
    check_beginnings(files, sep, compression)
    with input_errors():  # pandas reads the first block here, for the column types
        frame = dd.read_csv(
            files,
            sep=sep,
            blocksize=None if compression else blocksize,
            compression=compression,
            encoding="utf-8-sig",
            assume_missing=True,
            dtype={c: "object" for c in text_columns} or None,
        )
    separators.check_header(frame.columns, files[0], NO_HEADER_ADVICE)
    return frame


def partition_matrix(frame, names, weight_column, dropna, dtype):
    """A partition's feature matrix and weights, with the same checks as the in-memory path."""
    from .training import feature_matrix

    X, kept = feature_matrix(frame, names, dropna, dtype=dtype)
    if weight_column is None:
        return X, None
    w = frame[weight_column].to_numpy(dtype=np.float64)[kept]
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"weights column {weight_column!r} has negative, missing or infinite values")
    return X, w


def check_beginnings(files: list[str], sep: str, compression: str | None) -> None:
    """Read the first block of each file through the line guard: rows wider than the header
    (which pandas would read as an index plus shifted columns), lines beyond the limits, and
    a corrupt or truncated compressed start are refused here, before any worker starts."""
    for path in files:
        _beginning(path, compression, 1 << 20, guard_sep=sep)


def _beginning(path: str, compression: str | None, size: int, guard_sep: str | None = None) -> bytes:
    """The first ``size`` bytes of a file, decompressed as its name says (with ``guard_sep``,
    read through the line guard, which counts fields by it); a corrupt or truncated start is
    DataError, an unreadable file InputMissing."""
    import bz2
    import gzip
    import lzma
    import zlib

    from .line_guard import guarded

    opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(compression, open)
    try:
        with opener(path, "rb") as fh:
            return (fh if guard_sep is None else guarded(fh, path, guard_sep)).read(size)
    except (EOFError, zlib.error, lzma.LZMAError) as exc:
        raise DataError(f"cannot read {path}: compressed input ends early or is corrupt ({exc})") from None
    except OSError as exc:
        if exc.errno is None:  # gzip's BadGzipFile
            raise DataError(f"cannot read {path}: {exc}") from None
        raise InputMissing(f"cannot read input {path}: {exc.strerror or exc}") from None


# --- scoring, one output file per partition ------------------------------------------------


def _score_partition(frame, index, model, kind, keep, dropna, folder, fmt):
    from ..scoring import score_block
    from .output import write_block

    out = score_block(model, frame, kind, keep, dropna)
    path = os.path.join(folder, f"part-{index:05d}.{fmt}")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        write_block(out, fh, fmt, header=True)
    return len(out)


def score_to_folder(client, frame, model, kind: str, out_dir: str, *, keep, dropna, fmt) -> tuple[int, int]:
    """Score every partition into ``out_dir/part-NNNNN.<fmt>``; return (files, rows).

    The files are written into a temporary sibling folder that replaces ``out_dir`` only when
    every partition succeeded, so a failed run leaves no partial output.
    """
    import shutil
    import tempfile

    from dask import delayed

    target = os.path.abspath(out_dir.rstrip("/") or "/")
    parent = os.path.dirname(target)
    if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
        raise UsageError(f"output folder {out_dir} exists and is not empty")
    if not os.path.isdir(parent):
        from ..errors import CannotCreateOutput

        raise CannotCreateOutput(f"cannot write {out_dir}: folder {parent} does not exist")
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", dir=parent)
    try:
        parts = frame.to_delayed()
        rows = client.compute(
            [
                delayed(_score_partition)(p, i, model, kind, keep, dropna, staging, fmt)
                for i, p in enumerate(parts)
            ],
            sync=True,
        )
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(parts), int(sum(rows))
