"""gmmcli compare: two models' matched components and, on data, their label agreement."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .grouping import grouped
from .options import TABLE_FORMATS, Inputs, OutputOpt, TableFormatOpt

EPILOG = """Examples:

  gmmcli compare yesterday.joblib today.joblib

  gmmcli compare yesterday.joblib today.joblib today.csv --summary --format json

One row per component pair (label_a, label_b, distance, weight_a, weight_b, weight_shift,
mean_shift); with --summary one row of totals (and, given DATA, the adjusted Rand index of
the two labellings and each model's mean log-likelihood per row).
"""


@grouped
def compare(
    model_a: Annotated[str, typer.Argument(metavar="A", help="A model file.", show_default=False)],
    model_b: Annotated[str, typer.Argument(metavar="B", help="Another model file.", show_default=False)],
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="[DATA]", help="Rows to label and score with both models (file or -).", show_default=False
        ),
    ] = None,
    summary: Annotated[
        bool, typer.Option("--summary", help="One row of totals instead of one row per component.")
    ] = False,
    fmt: TableFormatOpt = None,
    output: OutputOpt = None,
    inputs: Inputs = Inputs.shown("dropna", "delimiter", "no_header"),
) -> None:
    """Match the components of models A and B (least total Bhattacharyya distance) and show the
    distances and the shifts of weights and means; on DATA, how far their labels agree."""
    from .. import comparison, console
    from ..errors import UsageError
    from ..io.output import check_format
    from ..model import load_model

    fmt = fmt or ("table" if output is None and sys.stdout.isatty() else "csv")
    check_format(fmt, TABLE_FORMATS)
    if fmt == "table" and output is not None:
        raise UsageError("--format table is for a terminal: write -o FILE as csv, tsv or json")
    a, b = load_model(model_a), load_model(model_b)
    rows = comparison.components(a, b)
    on_data = None
    if data is not None:
        from ..scoring import feature_blocks

        both = comparison.DataComparison(a, b)
        for X in feature_blocks(data, a.feature_names, **inputs.keywords(columns=False)):
            both.add(X)
        on_data = both.summary()
    total = comparison.summary(a, b, rows, on_data)
    fields = comparison.SUMMARY_FIELDS if summary else comparison.COMPONENT_FIELDS
    _write([total] if summary else rows, fields, fmt, output)
    console.info(_verdict(total))


def _verdict(total: dict) -> str:
    text = (
        f"compare: {total['matched']} components matched ({total['components_a']} in A, "
        f"{total['components_b']} in B)"
    )
    if total["largest_distance"] is not None:
        text += f", largest distance {total['largest_distance']:.3g}"
    if total["rows"] is not None:
        text += (
            f"; on {total['rows']} rows: adjusted Rand index {total['adjusted_rand_index']:.4f}, "
            f"mean log-likelihood A {total['mean_log_likelihood_a']:.4f}, "
            f"B {total['mean_log_likelihood_b']:.4f}"
        )
    return text


def _write(records: list[dict], fields, fmt: str, output: str | None) -> None:
    from ..io.output import write_table
    from ..io.plain import PlainTable

    if fmt == "table":
        from rich.table import Table

        from ..console import make_console

        table = Table()
        for name in fields:
            table.add_column(name, justify="right")
        for r in records:
            table.add_row(*(_cell(r[f]) for f in fields))
        make_console(sys.stdout).print(table)
        return
    columns = {name: [r[name] for r in records] for name in fields}
    write_table(PlainTable(columns, len(records)), output, fmt)


def _cell(value) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
