"""gmmcli select: sweep component counts x covariance types, score each cell, name the winner."""

from __future__ import annotations

import math
import sys
from typing import Annotated

import typer

from .. import console
from . import options
from .grid_table import CRITERION_LABEL
from .grouping import grouped
from .progress import progress

EPILOG = """Examples:

  gmmcli select sample_data/moons.csv -k 1-20 -t full --plot moons-bic.png

  gmmcli select sample_data/blobs.csv --exclude id -o best.joblib

  gmmcli select data.csv -k 1-200:10 --cv 5 --criterion cv --format json > grid.jsonl

  gmmcli select data.csv -t all -k 1-9 --criterion icl --plot criteria.png

  gmmcli select data.csv -k 1-9 --noise -o best.joblib     # outliers to a uniform noise component

For "k or k+1?" by a parametric bootstrap (mclust's mclustBootstrapLRT), see 'gmmcli lrt'.

On a terminal the grid is a table; otherwise (a pipe or a file) it is CSV, one row per cell.
The verdict line ("best: ...") always goes to stderr.
"""


@grouped
def select(
    data: options.DataFilesArg,
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
            "or mclust names (EII ... VVV); all: mclust's fourteen models.",
            autocompletion=options.covariance_names,
        ),
    ] = "all",
    n_init: Annotated[
        int,
        typer.Option(
            "--n-init",
            metavar="N",
            help="EM restarts per cell and random initialisation method (hc is one deterministic start); "
            "the best log-likelihood wins.",
        ),
    ] = 2,
    init: Annotated[
        str,
        typer.Option(
            "--init",
            metavar="METHOD,...",
            help="Initialisation methods: hc (mclust's hierarchical agglomeration), kmeans, k-means++, "
            "random, random_from_data.",
        ),
    ] = "hc,kmeans",
    seed: options.SeedOpt = 0,
    max_iter: options.MaxIterOpt = 1000,
    tol: options.TolOpt = 1e-5,
    reg_covar: options.RegCovarOpt = 1e-6,
    cv: options.unset(
        int,
        "--cv",
        metavar="K",
        help="Also score each cell by K-fold cross-validation (mean held-out log-likelihood per row).",
    ) = None,
    criterion: Annotated[
        str,
        typer.Option(
            "--criterion",
            help="What picks the winner: lowest BIC, AIC or ICL (BIC + 2 x the entropy of the "
            "classification: penalises overlapping components), or highest CV log-likelihood (needs --cv).",
            **options.one_of("bic", "aic", "icl", "cv"),
        ),
    ] = "bic",
    fmt: options.TableFormatOpt = None,
    output: options.unset(
        str,
        "--output",
        "-o",
        metavar="MODEL",
        help="Save the winning model here (the same file 'gmmcli fit' writes).",
    ) = None,
    plot: options.unset(
        str,
        "--plot",
        metavar="FILE.png",
        help="Draw BIC against k, a line per model (its letters as markers), and the winning "
        "criterion (AIC by default) in a panel of its own; the winner starred. 800 x 600.",
    ) = None,
    jobs: options.JobsOpt = None,
    precision: options.PrecisionOpt = None,
    no_output_header: options.NoOutputHeaderOpt = False,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Exit 3 (and save no model) if the winning cell did not converge."),
    ] = False,
    max_memory: options.MaxMemoryOpt = None,
    dtype: options.DtypeOpt = "float64",
    inputs: options.Inputs = options.Inputs.shown("no_header", "columns", "exclude", "dropna"),
    weights: options.WeightsOpt = None,
    # the last input option: --help has always listed it here, after --weights
    _more_inputs: options.Inputs = options.Inputs.shown("delimiter"),
    engine: options.EngineOptions = options.EngineOptions.shown(),
    align_to: options.AlignToOpt = None,
    noise: options.NoiseOpt = False,
) -> None:
    """Find the number of components and covariance type that fit DATA best.

    Fits every (k, covariance type) cell of the grid, scores it by AIC, BIC, ICL and optionally
    cross-validated log-likelihood, prints the grid and the winner, and can save the winning
    model and a criteria-versus-k plot.
    """
    import numpy as np

    from .. import memory
    from .. import selection as sel
    from .. import settings as st
    from ..errors import NotConverged
    from ..io.output import check_format, require_stdout

    # Everything that can be wrong with the options is found before any data is read or fitted.
    grid = st.GridSettings.parse(
        ks=ks,
        covariance_types=covariance_types,
        init=init,
        criterion=criterion,
        cv=cv,
        n_init=n_init,
        tol=tol,
        reg_covar=reg_covar,
        max_iter=max_iter,
        seed=seed,
        jobs=jobs,
    )
    options.check_precision(precision)
    if dtype not in st.DTYPES:
        raise st.SettingError("dtype", f"unknown {{}} {dtype!r} (choose from {', '.join(st.DTYPES)})")
    fmt = fmt or ("table" if sys.stdout is not None and sys.stdout.isatty() else "csv")
    check_format(fmt, options.TABLE_FORMATS)
    require_stdout()
    _check_files(output, plot, data, align_to)
    if max_memory:
        memory.parse_size(max_memory)  # a bad size is a usage error before any work
    engine.check(data, no_header=inputs.no_header)
    reference = None
    if align_to is not None:
        from ..model import load_model

        reference = load_model(align_to)
    X, names, w = _read_inputs(data, engine, inputs, weights, np.dtype(dtype))
    st.check_cv(cv, len(X))  # before the rows of its training splits are counted
    sel.refuse_counts_over_rows(grid.ks, len(X), cv)
    _check_memory(X, grid.ks, grid.types, jobs, max_memory)
    box = None
    if noise:  # one box for every cell and fold: the whole data's, as fit --noise takes it
        from ..fitting import noise_box

        box = noise_box(X)

    def run_sweep(backend):
        with progress(len(grid.ks) * len(grid.types)) as advance:
            return sel.sweep(
                X,
                grid.ks,
                grid.types,
                **grid.sweep_keywords(),
                sample_weight=w,
                on_done=advance,
                keep_params=output is not None,
                backend=backend,
                noise_box=box,
            )

    if engine.dask:  # the grid's fits become tasks on the cluster (the data is shipped to it)
        with engine.connect():
            cells = run_sweep("dask")
    else:
        cells = run_sweep("local")

    def write_grid(winner):
        _write_grid(cells, fmt, winner, grid, precision, not no_output_header, noise)

    try:
        winner = sel.best(cells, grid.criterion)
    except Exception:
        write_grid(None)
        _warn_failures(cells)
        raise
    if strict and not winner.converged:
        write_grid(winner)
        raise NotConverged(
            f"the winning cell ({verdict(winner, grid.criterion, cv)[6:]}) did not converge in {max_iter} "
            "iterations (raise --max-iter or --tol); no model saved"
        )
    # Files first (atomically): if one cannot be written, nothing has gone to stdout yet.
    if plot is not None:
        from ..plots.criteria import save_criteria_plot

        save_criteria_plot(cells, plot, best=winner, criterion=grid.criterion)
    if output is not None:
        settings = grid.winner_settings(winner, weights)
        _save_winner(X, names, w, winner, settings, grid.record(winner), noise, output, reference, align_to)
    write_grid(winner)
    _warn_failures(cells)
    _warn_unconverged(cells, max_iter)
    console.info(verdict(winner, grid.criterion, cv))


def _check_files(output, plot, data, align_to) -> None:
    """-o and --plot: writable, not an input, not the same file; --align-to only with -o."""
    from ..errors import UsageError
    from ..io.atomic import refuse_same_file, reject_unwritable

    for path, option in ((output, "-o"), (plot, "--plot")):
        if path is not None:
            reject_unwritable(path)
            refuse_same_file(path, [*data, align_to], option)
    if output is not None and output == plot:
        raise UsageError("-o and --plot name the same file")
    if align_to is not None and output is None:
        raise UsageError("--align-to relabels the saved model: give -o MODEL too")


def verdict(cell, criterion: str, cv: int | None = None) -> str:
    """The one-line answer: 'best: full, k=2, BIC 2322.19' (and '; noise weight 0.048')."""
    noise = f"; noise weight {cell.noise_weight:.3f}" if math.isfinite(cell.noise_weight) else ""
    if criterion == "cv":
        return (
            f"best: {cell.covariance_type}, k={cell.k}, held-out log-likelihood "
            f"{cell.cv_log_likelihood:.4f} per row ({cv}-fold CV){noise}"
        )
    return (
        f"best: {cell.covariance_type}, k={cell.k}, {CRITERION_LABEL[criterion]} "
        f"{cell.value(criterion):.2f}{noise}"
    )


def _read_inputs(data, engine: options.EngineOptions, inputs: options.Inputs, weights, dtype):
    """The rows select fits: one input (the local engine), or with --engine dask the files and
    globs given, read one by one and stacked (their feature columns must match)."""
    import numpy as np

    from ..errors import DataError

    if not engine.dask:
        return options.read_features(data[0], inputs, weights=weights, dtype=dtype)
    from ..io.dask_tables import expand_paths

    parts = [options.read_features(path, inputs, weights=weights, dtype=dtype) for path in expand_paths(data)]
    names = parts[0][1]
    for path, (_, other, _) in zip(expand_paths(data), parts):
        if other != names:
            raise DataError(f"{path} has the columns {', '.join(other)}, not {', '.join(names)}")
    w = np.concatenate([p[2] for p in parts]) if weights else None
    return np.vstack([p[0] for p in parts]), names, w


def _check_memory(X, k_list, types, jobs, max_memory) -> None:
    """Refuse up front a grid whose largest fits would not fit in memory (--max-memory)."""
    from .. import memory
    from ..engine.cpus import available_cores

    parallel = available_cores() if jobs is None else jobs
    need = max(memory.fit_bytes(len(X), X.shape[1], max(k_list), t, parallel=parallel) for t in types)
    memory.check_memory(
        need,
        max_memory,
        what=f"{parallel} fits at a time, of up to {max(k_list)} components to {len(X)} rows x "
        f"{X.shape[1]} columns",
        advice="use fewer components (-k), fewer rows, fewer --jobs or --covariance-type diag",
    )


def _write_grid(cells, fmt, winner, grid, precision=None, header=True, noise=False) -> None:
    if fmt == "table":
        from .grid_table import print_grid

        print_grid(cells, winner, grid.criterion, grid.types, grid.ks, grid.cv, noise=noise)
        return
    from ..selection import FIELDS, records
    from .records import write_records

    # builtins, None for what a cell lacks: blank in CSV, null in JSON
    write_records(records(cells), FIELDS, fmt, header=header, precision=precision)


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


def _save_winner(
    X, names, w, winner, settings, selection, noise, output, reference=None, reference_name=None
) -> None:
    """Save the winner, fitted with ``settings`` and chosen as ``selection`` says (its components
    labelled as ``reference``'s, with --align-to)."""
    from ..fitting import model_of
    from ..model import save_model

    model = model_of(X, names, winner, settings, sample_weight=w, selection=selection)
    if noise:
        model.meta["fit_settings"]["noise"] = True  # as fit --noise records it
    if reference is not None:
        from ..alignment import align

        model = align(model, reference, reference_name)
    save_model(model, output)
    if not winner.converged:
        console.warn(f"the saved model did not converge in {settings.max_iter} iterations")
