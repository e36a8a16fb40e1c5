"""Tables out: CSV/TSV/JSON-lines rows to stdout or atomically to a file, and the refusal to
compute for a closed stdout."""

from __future__ import annotations

import contextlib
import math
import sys

from ..errors import OutputClosed, UsageError
from . import plain

FORMATS = ("csv", "tsv", "json")


def check_format(fmt: str, formats: tuple[str, ...] = FORMATS) -> str:
    """``fmt``, or a usage error naming the choices (every command's --format check)."""
    if fmt not in formats:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(formats)})")
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
