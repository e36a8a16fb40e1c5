"""gmmcli predict / proba / score: use a saved model on new rows, streaming."""

from __future__ import annotations

from typing import Annotated

import typer

from .grouping import grouped
from .options import (
    DataFilesArg,
    EngineOptions,
    Inputs,
    KeepOpt,
    ModelArg,
    OutliersOpt,
    TableOutput,
    parse_names,
)

_DASK_NOTE = (
    "\n\nWith --engine dask, DATA may be several files or quoted globs, and -o names a folder "
    "that gets one file per input partition."
)

_EXAMPLES = {
    "predict": "Example:\n\n  cat data.csv | gmmcli predict model.joblib - --keep id | head",
    "proba": "Examples:\n\n  gmmcli proba model.joblib data.csv -o proba.csv\n\n"
    "  gmmcli proba model.joblib data.csv --precision 3 --no-output-header | head",
    "score": "Example (flag the least likely rows):\n\n"
    "  gmmcli score model.joblib data.csv --keep id | sort -t, -k2 -g | head",
}


_COLUMNS_NOTE = (
    "\n\nFeatures are read from the input columns of the model's feature names; --columns A,B "
    "names other input columns to read them from, in the model's order."
)
EPILOGS = {kind: text + _DASK_NOTE + _COLUMNS_NOTE for kind, text in _EXAMPLES.items()}


def _run(
    kind,
    model_path,
    data,
    out: TableOutput,
    keep,
    inputs: Inputs,
    engine: EngineOptions,
    outliers=None,
    uncertainty=False,
):
    from .. import quantiles
    from ..errors import UsageError
    from ..io.atomic import refuse_same_file
    from ..io.output import require_stdout
    from ..model import load_model

    out.check()
    if outliers is not None:
        quantiles.check_level(outliers)
        if engine.dask:
            raise UsageError("--outliers is not available with --engine dask")
    if uncertainty and kind != "predict":
        raise UsageError("--uncertainty is a column of predict")
    if uncertainty and engine.dask:
        raise UsageError("--uncertainty is not available with --engine dask")
    engine.check(
        data,
        no_header=inputs.no_header,
        columns=inputs.columns,
        exclude=inputs.exclude,
        precision=out.precision is not None,
        no_output_header=out.no_output_header,
    )
    refuse_same_file(out.output, [model_path, *data])
    require_stdout(out.output)
    model = load_model(model_path)
    limit = None if outliers is None else quantiles.threshold(model, outliers)
    if engine.dask:
        _run_on_dask(kind, model, data, out, parse_names(keep), inputs, engine)
        return
    from ..scoring import score_table

    score_table(
        model,
        data[0],
        kind,
        keep=parse_names(keep),
        outlier_below=limit,
        uncertainty=uncertainty,
        **inputs.keywords(),
        **out.keywords(),
    )


def _run_on_dask(kind, model, data, out: TableOutput, keep, inputs: Inputs, engine: EngineOptions):
    """One output file per input partition, written into the folder -o names."""
    from .. import console
    from ..errors import UsageError
    from ..io.dask_tables import open_table, score_to_folder

    out_dir = out.output
    if not out_dir or out_dir == "-":
        raise UsageError("--engine dask writes one file per partition: give -o a folder")
    frame = open_table(data, inputs.delimiter, text_columns=keep)  # its checks come before a cluster starts
    with engine.connect() as client:
        files, rows = score_to_folder(
            client, frame, model, kind, out_dir, keep=keep, dropna=inputs.dropna, fmt=out.fmt
        )
    console.info(f"{kind}: {rows} rows in {files} files -> {out_dir}")


UncertaintyOpt = Annotated[
    bool,
    typer.Option(
        "--uncertainty",
        help="predict: add a column 'uncertainty', 1 - the row's largest membership probability (mclust's).",
    ),
]


def _command(kind: str, summary: str):
    """predict, proba and score take the same options; only what they write differs."""

    @grouped
    def command(
        model: ModelArg,
        data: DataFilesArg,
        out: TableOutput = TableOutput.shown(),
        keep: KeepOpt = None,
        inputs: Inputs = Inputs.shown(),
        engine: EngineOptions = EngineOptions.shown(),
        outliers: OutliersOpt = None,
        uncertainty: UncertaintyOpt = False,
    ) -> None:
        _run(kind, model, data, out, keep, inputs, engine, outliers, uncertainty)

    command.__name__ = command.__qualname__ = kind
    command.__doc__ = summary
    return command


predict = _command(
    "predict",
    "Label each row of DATA with its most probable component (column 'label').\n\n"
    "A model fitted with --noise labels the rows its noise component explains best -1.",
)
proba = _command("proba", "Membership probability of each row in each component (columns p0, p1, ...).")
score = _command("score", "Log-density of each row under the model (column 'log_density').")
