"""gmmcli fit: CSV in, model file out, a short summary on stderr."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import console
from .options import (
    ColumnsOpt,
    DataFilesArg,
    DelimiterOpt,
    DropnaOpt,
    DtypeOpt,
    EngineOpt,
    ExcludeOpt,
    MaxIterOpt,
    MaxMemoryOpt,
    NoHeaderOpt,
    RegCovarOpt,
    SchedulerOpt,
    SeedOpt,
    TolOpt,
    WeightsOpt,
    WorkerMemoryOpt,
    parse_names,
)

EPILOG = """Examples:

  gmmcli fit sample_data/blobs.csv -k 4 --exclude id -o blobs.joblib

  gmmcli fit sample_data/moons.csv -k 16 --seed 0 -o moons16.joblib

  cat data.csv | gmmcli fit - -k 3 --covariance-type VEV -o model.joblib

  gmmcli fit counts.csv -k 5 --weights n --dtype float32 --n-init 8 --jobs 2 -o model.joblib

  gmmcli fit --engine dask 'logs/2026-*.csv' -k 8 --seed 0 -o big.joblib
"""


def fit(
    data: DataFilesArg,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="MODEL", help="Model file to write (atomically).", show_default=False
        ),
    ],
    n_components: Annotated[
        int, typer.Option("--n-components", "-k", metavar="N", help="Number of mixture components.")
    ] = 1,
    covariance_type: Annotated[
        str,
        typer.Option(
            "--covariance-type",
            "-t",
            metavar="MODEL",
            help="Covariance model: full, tied, diag, spherical, or one of mclust's 14 "
            "(EII ... VVV; see README).",
        ),
    ] = "full",
    n_init: Annotated[
        int, typer.Option("--n-init", metavar="N", help="EM restarts; the best log-likelihood wins.")
    ] = 1,
    max_iter: MaxIterOpt = 100,
    tol: TolOpt = 1e-3,
    reg_covar: RegCovarOpt = 1e-6,
    init: Annotated[
        str, typer.Option("--init", metavar="kmeans|k-means++|random|random_from_data", help="How EM starts.")
    ] = "kmeans",
    seed: SeedOpt = None,
    columns: ColumnsOpt = None,
    exclude: ExcludeOpt = None,
    dropna: DropnaOpt = False,
    weights: WeightsOpt = None,
    dtype: DtypeOpt = "float64",
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", metavar="N", help="Run the --n-init restarts on N worker processes."),
    ] = 1,
    delimiter: DelimiterOpt = None,
    no_header: NoHeaderOpt = False,
    max_memory: MaxMemoryOpt = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 3 (and write nothing) if EM does not converge.")
    ] = False,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = "auto",
) -> None:
    """Fit a Gaussian mixture to the numeric columns of DATA and save it."""
    from .. import memory
    from ..errors import NotConverged, UsageError
    from ..io.atomic import refuse_same_file
    from ..model import save_model
    from ..settings import FitSettings, check_jobs
    from .engine_choice import check_engine

    settings = FitSettings(
        n_components, covariance_type, tol, reg_covar, max_iter, n_init, init, seed, weights, dtype
    ).validate()
    check_jobs(jobs)
    if output in ("-", ""):
        raise UsageError("a model is binary: give -o a file name, not stdout")
    refuse_same_file(output, data)
    if max_memory:
        memory.parse_size(max_memory)  # a bad size is a usage error before any work
    check_engine(engine, data, scheduler, no_header=no_header, max_memory=max_memory, jobs=jobs > 1)
    inputs = dict(columns=columns, exclude=exclude, weights=weights, dropna=dropna, delimiter=delimiter)
    if engine == "dask":
        model, result = _fit_on_dask(data, settings, scheduler, worker_memory, **inputs)
    else:
        model, result = _fit_here(
            data[0], settings, jobs, no_header=no_header, max_memory=max_memory, **inputs
        )
    m = model.meta
    if not result.converged:
        message = f"EM did not converge in {max_iter} iterations (raise --max-iter or --tol)"
        if strict:
            raise NotConverged(message)
        console.warn(message)
    save_model(model, output)
    console.info(
        f"fit: {n_components} components ({settings.covariance_type}) on {m['n_train_rows']} rows x "
        f"{len(model.feature_names)} columns; converged={result.converged} after {result.n_iter} iterations; "
        f"log-likelihood {m['log_likelihood']:.2f}, AIC {m['aic']:.2f}, BIC {m['bic']:.2f} -> {output}"
    )


def _fit_here(source, settings, jobs, *, columns, exclude, weights, dropna, delimiter, no_header, max_memory):
    """The local engine: read the table into memory and fit (memory and rows checked first)."""
    import numpy as np

    from .. import fitting
    from ..io import training

    X, names, w = training.read_training_data(
        source,
        delimiter,
        not no_header,
        columns=parse_names(columns),
        exclude=parse_names(exclude),
        weights=weights,
        dropna=dropna,
        dtype=np.dtype(settings.dtype),
        check_rows=fitting.memory_check(settings, jobs, max_memory),
    )
    fitting.check_resources(X, settings, jobs, max_memory)
    return fitting.fit_model(X, names, settings, sample_weight=w, jobs=jobs)


def _fit_on_dask(
    sources, settings, scheduler, worker_memory, *, columns, exclude, weights, dropna, delimiter
):
    """The Dask engine: partitions stay on disk; each EM pass streams them through the workers."""
    import numpy as np

    from ..engine import dask_em
    from ..fitting import fit_model_dask
    from ..io import dask_tables, training

    with dask_em.connect(scheduler, memory_limit=worker_memory) as client:
        frame = dask_tables.open_table(sources, delimiter)
        excluded = parse_names(exclude) + ([weights] if weights else [])
        names = training.choose_features(frame, parse_names(columns), excluded)
        runner = dask_em.DaskRunner(
            client,
            frame,
            names,
            dask_tables.partition_matrix,
            weight_column=weights,
            dropna=dropna,
            dtype=np.dtype(settings.dtype),
        )
        return fit_model_dask(runner, settings)
