"""gmmcli fit: CSV in, model file out, a short summary on stderr."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import console
from . import options
from .grouping import grouped

EPILOG = """Examples:

  gmmcli fit sample_data/blobs.csv -k 4 --exclude id -o blobs.joblib

  gmmcli fit sample_data/moons.csv -k 16 --seed 0 -o moons16.joblib

  cat data.csv | gmmcli fit - -k 3 --covariance-type VEV -o model.joblib

  gmmcli fit counts.csv -k 5 --weights n --dtype float32 --n-init 8 --jobs 2 -o model.joblib

  gmmcli fit --engine dask 'logs/2026-*.csv' -k 8 --seed 0 -o big.joblib

  gmmcli fit today.csv --init-model models/current.joblib --align-to models/current.joblib -o new.joblib

  gmmcli fit data.csv -k 3 --noise -o model.joblib
"""


@grouped
def fit(
    data: options.DataFilesArg,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="MODEL", help="Model file to write (atomically).", show_default=False
        ),
    ],
    n_components: options.unset(
        int,
        "--n-components",
        "-k",
        metavar="N",
        help="Number of mixture components. [default: 1; with --init-model, its number]",
    ) = None,
    covariance_type: options.unset(
        str,
        "--covariance-type",
        "-t",
        metavar="MODEL",
        help="Covariance model: full, tied, diag, spherical, or one of mclust's 14 "
        "(EII ... VVV; see README). [default: full; with --init-model, its model]",
        autocompletion=options.covariance_names,
    ) = None,
    n_init: Annotated[
        int, typer.Option("--n-init", metavar="N", help="EM restarts; the best log-likelihood wins.")
    ] = 1,
    max_iter: options.MaxIterOpt = 100,
    tol: options.TolOpt = 1e-3,
    reg_covar: options.RegCovarOpt = 1e-6,
    init: Annotated[
        str,
        typer.Option(
            "--init",
            metavar="METHOD",
            help="How EM starts: kmeans, k-means++, random or random_from_data.",
            autocompletion=options.choices("kmeans", "k-means++", "random", "random_from_data"),
        ),
    ] = "kmeans",
    seed: options.SeedOpt = 0,
    inputs: options.Inputs = options.Inputs.shown("columns", "exclude", "dropna"),
    weights: options.WeightsOpt = None,
    dtype: options.DtypeOpt = "float64",
    jobs: options.JobsOpt = None,
    # the rest of the input options: --help has always listed them here, after --jobs
    _more_inputs: options.Inputs = options.Inputs.shown("delimiter", "no_header"),
    max_memory: options.MaxMemoryOpt = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Exit 3 (and write nothing) if EM does not converge or a component is degenerate.",
        ),
    ] = False,
    engine: options.EngineOptions = options.EngineOptions.shown(),
    init_model: options.InitModelOpt = None,
    align_to: options.AlignToOpt = None,
    noise: options.NoiseOpt = False,
) -> None:
    """Fit a Gaussian mixture to the numeric columns of DATA and save it."""
    from .. import memory
    from ..errors import DegenerateFit, NotConverged, UsageError
    from ..io.atomic import refuse_same_file
    from ..model import load_model, save_model
    from ..settings import FitSettings, check_jobs

    previous = load_model(init_model) if init_model else None
    reference = (
        previous if align_to and align_to == init_model else load_model(align_to) if align_to else None
    )
    if n_components is None:
        n_components = previous.n_components if previous else 1
    if covariance_type is None:
        covariance_type = previous.covariance_type if previous else "full"
    settings = FitSettings(
        n_components, covariance_type, tol, reg_covar, max_iter, n_init, init, seed, weights, dtype
    ).validate()
    check_jobs(jobs)
    if output in ("-", ""):
        raise UsageError("a model is binary: give -o a file name, not stdout")
    refuse_same_file(output, data)
    if max_memory:
        memory.parse_size(max_memory)  # a bad size is a usage error before any work
    engine.check(data, no_header=inputs.no_header, max_memory=max_memory, jobs=jobs is not None and jobs > 1)
    if jobs is None:  # all cores, as everywhere; fit uses at most one per --n-init restart
        from ..engine.cpus import available_cores

        jobs = available_cores()
    jobs = min(jobs, settings.n_init)

    if engine.dask:
        model, result = _fit_on_dask(data, settings, engine, inputs, weights, previous=previous, noise=noise)
    else:
        model, result = _fit_here(
            data[0],
            settings,
            jobs,
            inputs,
            weights=weights,
            max_memory=max_memory,
            previous=previous,
            noise=noise,
        )
    if previous is not None:
        model.meta["warm_start"] = {
            "model": init_model,
            "data_fingerprint": previous.meta.get("data_fingerprint"),
            "created": previous.meta.get("created"),
        }
    if reference is not None:
        from ..alignment import align

        model = align(model, reference, align_to)
    m = model.meta
    if not result.converged:
        message = f"EM did not converge in {max_iter} iterations (raise --max-iter or --tol)"
        if strict:
            raise NotConverged(message)
        console.warn(message)
    if result.degenerate:
        message = f"degenerate fit: {result.degenerate[0]} (try fewer components or another model)"
        if strict:
            raise DegenerateFit(message)
        for reason in result.degenerate:
            console.warn(f"degenerate fit: {reason}")
    save_model(model, output)
    console.info(
        f"fit: {n_components} components ({settings.covariance_type}) on {m['n_train_rows']} rows x "
        f"{len(model.feature_names)} columns; converged={result.converged} after {result.n_iter} iterations; "
        f"log-likelihood {m['log_likelihood']:.2f}, AIC {m['aic']:.2f}, BIC {m['bic']:.2f}"
        f"{extras_note(model)} -> {output}"
    )


def extras_note(model) -> str:
    """'; noise weight 0.048; labels aligned to PREV (...)' for the summary line, or ''."""
    note = ""
    if model.params.has_noise:
        note += f"; noise weight {model.params.noise_weight:.3f}"
    alignment = model.meta.get("alignment")
    if alignment:
        distances = [c["distance"] for c in alignment["components"] if c["distance"] is not None]
        new = sum(c["distance"] is None for c in alignment["components"])
        note += (
            f"; labels aligned to {alignment['reference']} (largest distance {max(distances):.3g}"
            f"{f', {new} new' if new else ''})"
        )
    return note


def _fit_here(
    source, settings, jobs, inputs: options.Inputs, *, weights, max_memory, previous=None, noise=False
):
    """The local engine: read the table into memory and fit (memory and rows checked first)."""
    import numpy as np

    from .. import fitting

    X, names, w = options.read_features(
        source,
        inputs,
        weights=weights,
        dtype=np.dtype(settings.dtype),
        check_rows=fitting.memory_check(settings, jobs, max_memory),
    )
    init_params = None
    if previous is not None:
        X, names, init_params = fitting.warm_start(previous, X, names, settings, noise)
    fitting.check_resources(X, settings, jobs, max_memory)
    return fitting.fit_model(
        X, names, settings, sample_weight=w, jobs=jobs, init_params=init_params, noise=noise
    )


def _fit_on_dask(
    sources,
    settings,
    engine: options.EngineOptions,
    inputs: options.Inputs,
    weights,
    *,
    previous=None,
    noise=False,
):
    """The Dask engine: partitions stay on disk; each EM pass streams them through the workers."""
    import numpy as np

    from ..engine import dask_em
    from ..fitting import check_warm_start, fit_model_dask
    from ..io import dask_tables, training

    frame = dask_tables.open_table(sources, inputs.delimiter)  # its checks come before a cluster starts
    excluded = inputs.exclude_list + ([weights] if weights else [])
    names = training.choose_features(frame, inputs.column_list, excluded)
    if previous is not None:  # read the features in PREV's order
        check_warm_start(previous, names, settings, noise)
        names = list(previous.feature_names)
    with engine.connect() as client:
        runner = dask_em.DaskRunner(
            client,
            frame,
            names,
            dask_tables.partition_matrix,
            weight_column=weights,
            dropna=inputs.dropna,
            dtype=np.dtype(settings.dtype),
        )
        # the in-memory rule, on the rows EM starts from (sampled in order; no pass of its own)
        options.warn_row_ids(
            dask_em.init_sample(runner, settings.n_components, settings.seed)[0], runner.names
        )
        return fit_model_dask(runner, settings, previous=previous, noise=noise)
