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
    Inputs,
    JobsOpt,
    MaxIterOpt,
    MaxMemoryOpt,
    NoHeaderOpt,
    RegCovarOpt,
    SchedulerOpt,
    SeedOpt,
    TolOpt,
    WeightsOpt,
    WorkerMemoryOpt,
    choices,
    covariance_names,
    parse_names,
    read_features,
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
            autocompletion=covariance_names,
        ),
    ] = "full",
    n_init: Annotated[
        int, typer.Option("--n-init", metavar="N", help="EM restarts; the best log-likelihood wins.")
    ] = 1,
    max_iter: MaxIterOpt = 100,
    tol: TolOpt = 1e-3,
    reg_covar: RegCovarOpt = 1e-6,
    init: Annotated[
        str,
        typer.Option(
            "--init",
            metavar="METHOD",
            help="How EM starts: kmeans, k-means++, random or random_from_data.",
            autocompletion=choices("kmeans", "k-means++", "random", "random_from_data"),
        ),
    ] = "kmeans",
    seed: SeedOpt = None,
    columns: ColumnsOpt = None,
    exclude: ExcludeOpt = None,
    dropna: DropnaOpt = False,
    weights: WeightsOpt = None,
    dtype: DtypeOpt = "float64",
    jobs: JobsOpt = None,
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
    from ..model import save_model
    from ..settings import FitSettings, check_jobs
    from .engine_choice import check_engine

    settings = FitSettings(
        n_components, covariance_type, tol, reg_covar, max_iter, n_init, init, seed, weights, dtype
    ).validate()
    check_jobs(jobs)
    if output in ("-", ""):
        raise UsageError("a model is binary: give -o a file name, not stdout")
    if max_memory:
        memory.parse_size(max_memory)  # a bad size is a usage error before any work
    check_engine(
        engine,
        data,
        scheduler,
        no_header=no_header,
        max_memory=max_memory,
        jobs=jobs is not None and jobs > 1,
    )
    if jobs is None:  # all cores, as everywhere; fit uses at most one per --n-init restart
        from ..engine.cpus import available_cores

        jobs = available_cores()
    jobs = min(jobs, settings.n_init)

    if engine == "dask":
        inputs = dict(columns=columns, exclude=exclude, weights=weights, dropna=dropna, delimiter=delimiter)
        model, result = _fit_on_dask(data, settings, scheduler, worker_memory, **inputs)
    else:
        inputs = Inputs(delimiter, no_header, columns, exclude, dropna)
        model, result = _fit_here(data[0], settings, jobs, inputs, weights=weights, max_memory=max_memory)
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


def _fit_here(source, settings, jobs, inputs: Inputs, *, weights, max_memory):
    """The local engine: read the table into memory and fit (memory and rows checked first)."""
    import numpy as np

    from .. import fitting

    X, names, w = read_features(source, inputs, weights=weights, dtype=np.dtype(settings.dtype))
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
