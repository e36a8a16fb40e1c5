"""gmmcli select: sweep component counts x covariance types, score each cell, name the winner."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .. import console
from ..settings import ALL_MODELS
from .grid_table import CRITERION_LABEL
from .options import (
    AlignToOpt,
    ColumnsOpt,
    DataArg,
    DelimiterOpt,
    DropnaOpt,
    EngineOpt,
    ExcludeOpt,
    MaxIterOpt,
    RegCovarOpt,
    SchedulerOpt,
    TolOpt,
    WeightsOpt,
    WorkerMemoryOpt,
    parse_names,
)
from .progress import progress

EPILOG = """Examples:

  gmmcli select sample_data/moons.csv -k 1-20 -t full --plot moons-bic.png

  gmmcli select sample_data/blobs.csv --exclude id -o best.joblib

  gmmcli select data.csv -k 1-200:10 --cv 5 --criterion cv --format json > grid.jsonl

  gmmcli select data.csv -t all -k 1-9 --criterion icl --plot criteria.png

For "k or k+1?" by a parametric bootstrap (mclust's mclustBootstrapLRT), see 'gmmcli lrt'.

On a terminal the grid is a table; otherwise (a pipe or a file) it is CSV, one row per cell.
The verdict line ("best: ...") always goes to stderr.
"""

TABLE_FORMATS = ("table", "csv", "tsv", "json")


def select(
    data: DataArg,
    ks: Annotated[
        str,
        typer.Option(
            "--n-components",
            "-k",
            metavar="K",
            help="Component counts: a range 1-10, a range with a step 1-200:10, or a list 2,4,8.",
        ),
    ] = "1-10",
    covariance_types: Annotated[
        str,
        typer.Option(
            "--covariance-type",
            "-t",
            metavar="all|MODEL,...",
            help="Covariance models to try, comma-separated: full, tied, diag, spherical "
            "or mclust names (EII ... VVV); all: " + ", ".join(ALL_MODELS) + ".",
        ),
    ] = "all",
    n_init: Annotated[
        int,
        typer.Option(
            "--n-init",
            metavar="N",
            help="EM restarts per cell and initialisation method; the best log-likelihood wins.",
        ),
    ] = 10,
    init: Annotated[
        str,
        typer.Option(
            "--init",
            metavar="METHOD,...",
            help="Initialisation methods, each with --n-init restarts: "
            "kmeans, k-means++, random, random_from_data.",
        ),
    ] = "kmeans",
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed of every cell; the same seed gives the same grid.")
    ] = 0,
    max_iter: MaxIterOpt = 100,
    tol: TolOpt = 1e-3,
    reg_covar: RegCovarOpt = 1e-6,
    cv: Annotated[
        int | None,
        typer.Option(
            "--cv",
            metavar="K",
            help="Also score each cell by K-fold cross-validation (mean held-out log-likelihood per row).",
            show_default=False,
        ),
    ] = None,
    criterion: Annotated[
        str,
        typer.Option(
            "--criterion",
            metavar="bic|aic|icl|cv",
            help="What picks the winner: lowest BIC, AIC or ICL (BIC + 2 x the entropy of the "
            "classification: penalises overlapping components), or highest CV log-likelihood (needs --cv).",
        ),
    ] = "bic",
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="table|csv|tsv|json",
            help="Output on stdout; default: table on a terminal, else csv. json is one object per line.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="MODEL",
            help="Save the winning model here (the same file 'gmmcli fit' writes).",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        str | None,
        typer.Option(
            "--plot",
            metavar="FILE.png",
            help="Draw BIC against k, a line per model (its letters as markers), and the winning "
            "criterion (AIC by default) in a panel of its own; the winner starred. 800 x 600.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            help="Fits run in parallel (default: all cores; 1 runs in this process).",
            show_default=False,
        ),
    ] = None,
    columns: ColumnsOpt = None,
    exclude: ExcludeOpt = None,
    dropna: DropnaOpt = False,
    weights: WeightsOpt = None,
    delimiter: DelimiterOpt = None,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    worker_memory: WorkerMemoryOpt = "auto",
    align_to: AlignToOpt = None,
) -> None:
    """Find the number of components and covariance type that fit DATA best.

    Fits every (k, covariance type) cell of the grid, scores it by AIC, BIC, ICL and optionally
    cross-validated log-likelihood, prints the grid and the winner, and can save the winning
    model and a criteria-versus-k plot.
    """
    from .. import selection as sel
    from .. import settings as st
    from ..errors import UsageError
    from ..io import training
    from ..io.atomic import reject_unwritable
    from .engine_choice import check_engine

    # Everything that can be wrong with the options is found before any data is read or fitted.
    k_list, types, inits = st.parse_ks(ks), st.parse_covariance_types(covariance_types), st.parse_inits(init)
    criterion = st.check_criterion(criterion)
    st.check_cv(cv, criterion=criterion)
    st.check_em(n_init, tol, reg_covar, max_iter)
    st.check_seed(seed)
    st.check_jobs(jobs)
    fmt = fmt or ("table" if sys.stdout.isatty() else "csv")
    if fmt not in TABLE_FORMATS:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(TABLE_FORMATS)})")
    for path in (output, plot):
        if path is not None:
            reject_unwritable(path)
    if output is not None and output == plot:
        raise UsageError("-o and --plot name the same file")
    check_engine(engine, [data], scheduler)
    if align_to is not None and output is None:
        raise UsageError("--align-to relabels the saved model: give -o MODEL too")
    reference = None
    if align_to is not None:
        from ..model import load_model

        reference = load_model(align_to)
    X, names, w = training.read_training_data(
        data,
        delimiter,
        columns=parse_names(columns),
        exclude=parse_names(exclude),
        weights=weights,
        dropna=dropna,
    )

    def run_sweep(backend):
        with progress(len(k_list) * len(types)) as advance:
            return sel.sweep(
                X,
                k_list,
                types,
                n_init=n_init,
                init=inits,
                seed=seed,
                tol=tol,
                reg_covar=reg_covar,
                max_iter=max_iter,
                cv=cv,
                jobs=jobs,
                sample_weight=w,
                on_done=advance,
                keep_params=output is not None,
                backend=backend,
            )

    if engine == "dask":  # the grid's fits become tasks on the cluster (the data is shipped to it)
        from ..engine.dask_em import connect

        with connect(scheduler, memory_limit=worker_memory):
            cells = run_sweep("dask")
    else:
        cells = run_sweep("local")

    try:
        winner = sel.best(cells, criterion)
    except Exception:
        _write_grid(cells, fmt, None, criterion, types, k_list, cv)
        _warn_failures(cells)
        raise
    # Files first (atomically): if one cannot be written, nothing has gone to stdout yet.
    if plot is not None:
        from ..plots.criteria import save_criteria_plot

        save_criteria_plot(cells, plot, best=winner, criterion=criterion)
    if output is not None:
        grid = dict(
            tol=tol,
            reg_covar=reg_covar,
            max_iter=max_iter,
            n_init=n_init,
            weights=weights,
            criterion=criterion,
            ks=k_list,
            types=types,
            cv=cv,
        )
        _save_winner(X, names, w, winner, grid, output, reference, align_to)
    _write_grid(cells, fmt, winner, criterion, types, k_list, cv)
    _warn_failures(cells)
    _warn_unconverged(cells, max_iter)
    console.info(verdict(winner, criterion, cv))


def verdict(cell, criterion: str, cv: int | None = None) -> str:
    """The one-line answer: 'best: full, k=2, BIC 2322.19'."""
    if criterion == "cv":
        return (
            f"best: {cell.covariance_type}, k={cell.k}, held-out log-likelihood "
            f"{cell.cv_log_likelihood:.4f} per row ({cv}-fold CV)"
        )
    return (
        f"best: {cell.covariance_type}, k={cell.k}, {CRITERION_LABEL[criterion]} {cell.value(criterion):.2f}"
    )


def _write_grid(cells, fmt, winner, criterion, types, k_list, cv) -> None:
    if fmt == "table":
        from .grid_table import print_grid

        print_grid(cells, winner, criterion, types, k_list, cv)
        return
    from ..selection import FIELDS, records
    from .records import write_records

    write_records(records(cells), FIELDS, fmt)  # builtins, None for what a cell lacks


def _warn_failures(cells) -> None:
    """One warning per distinct reason, naming the cells it hit."""
    by_reason: dict[str, list] = {}
    for c in cells:
        if c.error:
            by_reason.setdefault(c.error, []).append(c)
    for reason, hit in by_reason.items():
        where = ", ".join(f"{c.covariance_type} k={c.k}" for c in hit[:6]) + (
            f" and {len(hit) - 6} more" if len(hit) > 6 else ""
        )
        console.warn(f"{len(hit)} cell{'s' if len(hit) > 1 else ''} failed ({where}): {reason}")


def _warn_unconverged(cells, max_iter: int) -> None:
    stuck = [c for c in cells if c.converged is False]
    if stuck:
        console.warn(
            f"{len(stuck)} of {len(cells)} cells did not converge in {max_iter} iterations "
            f"(marked !; raise --max-iter or --tol)"
        )


def _save_winner(X, names, w, winner, grid, output, reference=None, reference_name=None) -> None:
    """Save the winner with the settings that reproduce it under 'gmmcli fit' (its components
    labelled as ``reference``'s, with --align-to)."""
    from ..fitting import FitSettings, model_of
    from ..model import save_model

    settings = FitSettings(
        winner.k,
        winner.covariance_type,
        grid["tol"],
        grid["reg_covar"],
        grid["max_iter"],
        grid["n_init"],
        winner.init,
        winner.seed,
        grid["weights"],
    )
    selection = {
        "criterion": grid["criterion"],
        "value": float(winner.value(grid["criterion"])),
        "n_components_tried": [int(k) for k in grid["ks"]],
        "covariance_types_tried": list(grid["types"]),
        "cv_folds": int(grid["cv"]) if grid["cv"] else None,
    }
    model = model_of(X, names, winner, settings, sample_weight=w, selection=selection)
    if reference is not None:
        from ..alignment import align

        model = align(model, reference, reference_name)
    save_model(model, output)
    if not winner.converged:
        console.warn(f"the saved model did not converge in {grid['max_iter']} iterations")
