"""Records (one dict per row, the same keys) written to stdout as CSV, TSV or JSON lines."""

from __future__ import annotations


def write_records(
    rows: list[dict], fields, fmt: str, *, header: bool = True, precision: int | None = None
) -> None:
    """``fields`` in order; None is blank in CSV/TSV and null in JSON."""
    from ..io.output import write_table
    from ..io.plain import PlainTable

    table = PlainTable({name: [r[name] for r in rows] for name in fields}, len(rows))
    write_table(table, None, fmt, header=header, precision=precision)
