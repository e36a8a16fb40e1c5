"""gmmcli predict / proba / score: use a saved model on new rows, streaming."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import (
    DataFilesArg,
    DelimiterOpt,
    DropnaOpt,
    EngineOpt,
    FormatOpt,
    KeepOpt,
    ModelArg,
    NoHeaderOpt,
    OutliersOpt,
    OutputOpt,
    SchedulerOpt,
    WorkerMemoryOpt,
    parse_names,
)

_DASK_NOTE = (
    "\n\nWith --engine dask, DATA may be several files or quoted globs, and -o names a folder "
    "that gets one file per input partition."
)

_EXAMPLES = {
    "predict": "Example:\n\n  cat data.csv | gmmcli predict model.joblib - --keep id | head",
    "proba": "Example:\n\n  gmmcli proba model.joblib data.csv -o proba.csv",
    "score": "Example (flag the least likely rows):\n\n"
    "  gmmcli score model.joblib data.csv --keep id | sort -t, -k2 -g | head",
}
EPILOGS = {kind: text + _DASK_NOTE for kind, text in _EXAMPLES.items()}


def _run(
    kind,
    model_path,
    data,
    output,
    fmt,
    keep,
    dropna,
    delimiter,
    no_header,
    engine,
    scheduler,
    worker_memory,
    outliers=None,
    uncertainty=False,
):
    from .. import quantiles
    from ..errors import UsageError
    from ..io import tables
    from ..model import load_model
    from .engine_choice import check_engine

    tables.check_format(fmt)
    if outliers is not None:
        quantiles.check_level(outliers)
        if engine == "dask":
            raise UsageError("--outliers is not available with --engine dask")
    if uncertainty and engine == "dask":
        raise UsageError("--uncertainty is not available with --engine dask")
    check_engine(engine, data, scheduler, no_header=no_header)
    model = load_model(model_path)
    limit = None if outliers is None else quantiles.threshold(model, outliers)
    if engine == "dask":
        _run_on_dask(
            kind, model, data, output, fmt, parse_names(keep), dropna, delimiter, scheduler, worker_memory
        )
        return
    from ..scoring import score_table

    score_table(
        model,
        data[0],
        kind,
        keep=parse_names(keep),
        dropna=dropna,
        output=output,
        fmt=fmt,
        delimiter=delimiter,
        header=not no_header,
        outlier_below=limit,
        uncertainty=uncertainty,
    )


def _run_on_dask(kind, model, data, out_dir, fmt, keep, dropna, delimiter, scheduler, worker_memory):
    """One output file per input partition, written into the folder -o names."""
    from .. import console
    from ..engine.dask_em import connect
    from ..errors import UsageError
    from ..io.dask_tables import open_table, score_to_folder

    if not out_dir or out_dir == "-":
        raise UsageError("--engine dask writes one file per partition: give -o a folder")
    with connect(scheduler, memory_limit=worker_memory) as client:
        frame = open_table(data, delimiter, text_columns=keep)
        files, rows = score_to_folder(client, frame, model, kind, out_dir, keep=keep, dropna=dropna, fmt=fmt)
    console.info(f"{kind}: {rows} rows in {files} files -> {out_dir}")


def predict(
    model: ModelArg,
    data: DataFilesArg,
    output: OutputOpt = None,
    fmt: FormatOpt = "csv",
    keep: KeepOpt = None,
    dropna: DropnaOpt = False,
    delimiter: DelimiterOpt = None,
    no_header: NoHeaderOpt = False,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = "auto",
    outliers: OutliersOpt = None,
    uncertainty: Annotated[
        bool,
        typer.Option(
            "--uncertainty",
            help="Add a column 'uncertainty': 1 - the row's largest membership probability (mclust's).",
        ),
    ] = False,
) -> None:
    """Label each row of DATA with its most probable component (column 'label').

    A model fitted with --noise labels the rows its noise component explains best -1.
    """
    _run(
        "predict",
        model,
        data,
        output,
        fmt,
        keep,
        dropna,
        delimiter,
        no_header,
        engine,
        scheduler,
        worker_memory,
        outliers,
        uncertainty,
    )


def proba(
    model: ModelArg,
    data: DataFilesArg,
    output: OutputOpt = None,
    fmt: FormatOpt = "csv",
    keep: KeepOpt = None,
    dropna: DropnaOpt = False,
    delimiter: DelimiterOpt = None,
    no_header: NoHeaderOpt = False,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = "auto",
) -> None:
    """Membership probability of each row in each component (columns p0, p1, ...)."""
    _run(
        "proba",
        model,
        data,
        output,
        fmt,
        keep,
        dropna,
        delimiter,
        no_header,
        engine,
        scheduler,
        worker_memory,
    )


def score(
    model: ModelArg,
    data: DataFilesArg,
    output: OutputOpt = None,
    fmt: FormatOpt = "csv",
    keep: KeepOpt = None,
    dropna: DropnaOpt = False,
    delimiter: DelimiterOpt = None,
    no_header: NoHeaderOpt = False,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = "auto",
    outliers: OutliersOpt = None,
) -> None:
    """Log-density of each row under the model (column 'log_density')."""
    _run(
        "score",
        model,
        data,
        output,
        fmt,
        keep,
        dropna,
        delimiter,
        no_header,
        engine,
        scheduler,
        worker_memory,
        outliers,
    )
