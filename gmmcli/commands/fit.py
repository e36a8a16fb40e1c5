"""gmmcli fit: CSV in, model file out, a short summary on stderr."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import console
from .options import (
    ColumnsOpt,
    DataFilesArg,
    EngineOpt,
    SchedulerOpt,
    WorkerMemoryOpt,
    DelimiterOpt,
    DropnaOpt,
    DtypeOpt,
    ExcludeOpt,
    MaxMemoryOpt,
    NoHeaderOpt,
    SeedOpt,
    WeightsOpt,
)

EPILOG = """Examples:

  gmmcli fit sample_data/blobs.csv -k 4 --exclude id -o blobs.joblib

  gmmcli fit sample_data/moons.csv -k 16 --seed 0 -o moons16.joblib

  cat data.csv | gmmcli fit - -k 3 --covariance-type diag -o model.joblib

  gmmcli fit counts.csv -k 5 --weights n --dtype float32 --n-init 8 --jobs 2 -o model.joblib

  gmmcli fit --engine dask 'logs/2026-*.csv' -k 8 --seed 0 -o big.joblib
"""


def fit(
    data: DataFilesArg,
    output: Annotated[str, typer.Option("--output", "-o", metavar="MODEL", help="Model file to write (atomically).", show_default=False)],
    n_components: Annotated[int, typer.Option("--n-components", "-k", metavar="N", help="Number of mixture components.")] = 1,
    covariance_type: Annotated[str, typer.Option("--covariance-type", "-t", metavar="full|tied|diag|spherical", help="Shape of each component's covariance.")] = "full",
    n_init: Annotated[int, typer.Option("--n-init", metavar="N", help="EM restarts; the best log-likelihood wins.")] = 1,
    max_iter: Annotated[int, typer.Option("--max-iter", metavar="N", help="EM iterations per restart at most.")] = 100,
    tol: Annotated[float, typer.Option("--tol", metavar="X", help="Stop when the mean log-likelihood gains less than this.")] = 1e-3,
    reg_covar: Annotated[float, typer.Option("--reg-covar", metavar="X", help="Added to covariance diagonals, keeps them invertible.")] = 1e-6,
    init: Annotated[str, typer.Option("--init", metavar="kmeans|k-means++|random|random_from_data", help="How EM starts.")] = "kmeans",
    seed: SeedOpt = None,
    columns: ColumnsOpt = None,
    exclude: ExcludeOpt = None,
    dropna: DropnaOpt = False,
    weights: WeightsOpt = None,
    dtype: DtypeOpt = "float64",
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", help="Run the --n-init restarts on N worker processes.")] = 1,
    delimiter: DelimiterOpt = None,
    no_header: NoHeaderOpt = False,
    max_memory: MaxMemoryOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 3 (and write nothing) if EM does not converge.")] = False,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = "auto",
) -> None:
    """Fit a Gaussian mixture to the numeric columns of DATA and save it."""
    from .. import resources
    from ..engines import check_engine
    from ..errors import NotConverged, UsageError
    from ..fitting import FitSettings
    from ..model import save_model

    settings = FitSettings(n_components, covariance_type, tol, reg_covar, max_iter, n_init, init, seed,
                           weights, dtype).validate()
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    if output in ("-", ""):
        raise UsageError("a model is binary: give -o a file name, not stdout")
    if max_memory:
        resources.parse_size(max_memory)  # a bad size is a usage error before any work
    check_engine(engine, data, scheduler, no_header=no_header, max_memory=max_memory, jobs=jobs > 1)
    if engine == "dask":
        model, result = _fit_on_dask(data, settings, scheduler, worker_memory, columns=columns, exclude=exclude,
                                     weights=weights, dropna=dropna, delimiter=delimiter)
    else:
        model, result = _fit_here(data[0], settings, jobs, columns=columns, exclude=exclude, weights=weights,
                                  dropna=dropna, delimiter=delimiter, no_header=no_header, max_memory=max_memory)
    m = model.meta
    if not result.converged:
        message = f"EM did not converge in {max_iter} iterations (raise --max-iter or --tol)"
        if strict:
            raise NotConverged(message)
        console.warn(message)
    save_model(model, output)
    console.info(
        f"fit: {n_components} components ({covariance_type}) on {m['n_train_rows']} rows x {len(model.feature_names)} columns; "
        f"converged={result.converged} after {result.n_iter} iterations; "
        f"log-likelihood {m['log_likelihood']:.2f}, AIC {m['aic']:.2f}, BIC {m['bic']:.2f} -> {output}"
    )


def _fit_here(source, settings, jobs, *, columns, exclude, weights, dropna, delimiter, no_header, max_memory):
    """The local engine: read the table into memory, check the memory need, fit."""
    import numpy as np

    from .. import resources, tables
    from ..errors import DataError, FitFailed
    from ..fitting import fit_model

    X, names, w = tables.read_training_data(source, delimiter, not no_header, columns=tables.parse_names(columns),
                                            exclude=tables.parse_names(exclude), weights=weights, dropna=dropna,
                                            dtype=np.dtype(settings.dtype))
    k = settings.n_components
    if len(X) < k:  # before the memory estimate: the clearer reason
        raise DataError(f"{len(X)} rows cannot fit {k} components: need at least as many rows")
    need = resources.fit_bytes(len(X), X.shape[1], k, settings.covariance_type, parallel=min(jobs, settings.n_init))
    resources.check_memory(need, max_memory, what=f"fitting {k} components to {len(X)} rows x {X.shape[1]} columns")
    try:
        return fit_model(X, names, settings, sample_weight=w, jobs=jobs)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        # the engine refuses data it cannot work with (values so large that squares overflow,
        # say): that is a property of the input, not a bug
        raise FitFailed(f"fit failed on this data: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from exc


def _fit_on_dask(sources, settings, scheduler, worker_memory, *, columns, exclude, weights, dropna, delimiter):
    """The Dask engine: partitions stay on disk; each EM pass streams them through the workers."""
    import numpy as np

    from .. import dask_engine, tables
    from ..fitting import fit_model_dask

    with dask_engine.connect(scheduler, memory_limit=worker_memory) as client:
        frame = dask_engine.open_table(sources, delimiter)
        excluded = tables.parse_names(exclude) + ([weights] if weights else [])
        names = tables.choose_features(frame, tables.parse_names(columns), excluded)
        runner = dask_engine.DaskRunner(client, frame, names, weight_column=weights, dropna=dropna,
                                        dtype=np.dtype(settings.dtype))
        return fit_model_dask(runner, settings)
