"""Model selection: fit a grid of (component count, covariance type) cells and score each one.

Pure numpy on arrays; knows nothing of files or the command line. Each cell is the best of
``n_init`` EM restarts for every initialisation method in ``init``. The criteria follow
scikit-learn's conventions: ``aic = -2 log L + 2 p``, ``bic = -2 log L + p log n`` and
``icl = bic + 2 E`` (E the entropy of the MAP classification, ``criteria.icl``): lower is better;
with ``cv=K`` also the mean held-out log-likelihood per row over K folds (higher is better).

Seeds. The first initialisation method of every cell runs with ``seed`` itself, the way the
notebook's loop passes ``random_state=0`` to every ``GaussianMixture``: so one method with
``n_init=N`` reproduces ``GaussianMixture(k, n_init=N, init_params=method, random_state=seed)``
exactly. Further methods run with seeds derived from ``(seed, method index)``. A cell's result
therefore depends only on its own settings, never on which worker ran it or in what order:
the grid is the same for any ``jobs``.

Parallelism. With ``jobs > 1`` the fits run ``jobs`` at a time: on threads of this process when
the data is large enough for numpy's matrix products to dominate
(``parallel.THREADS_MIN_WORK``), else
in joblib (loky) worker processes; with ``jobs=1`` one after another, each on the EM engine's
block threads. Every fit runs with one BLAS/OpenMP thread, so ``jobs`` workers use ``jobs``
cores and never oversubscribe the machine. (Measured on a shared 2-core machine: one
scikit-learn EM fit of 51 full components to the 1797 x 41 digits took 0.2-0.3 s with one
OpenBLAS thread and 7-8 s with two; a sweep gains from parallel fits, not from threaded
small matrix products.) It also makes the grid bit-for-bit the same for any ``jobs``. The unit
of work is one fit (a cell on all rows, or a cell on one cross-validation training split),
dealt out largest first so that the expensive cells do not all end up last.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .engine import checks, covariance, criteria
from .engine.cpus import available_cores
from .engine.params import NOISE_PARAMETERS, MixtureParams
from .errors import DataError, FitFailed
from .selection_workers import Outcome, RunSettings, Task, execute, method_seed
from .settings import (
    CRITERIA,
    check_criterion,
    check_cv,
    checked_ks,
    parse_covariance_types,
    parse_inits,
    parse_ks,
)

FIELDS = (
    "k",
    "covariance_type",
    "log_likelihood",
    "n_parameters",
    "aic",
    "bic",
    "cv_log_likelihood",
    "converged",
    "n_iter",
    "seconds",
    "error",
    "model",  # mclust's name (VVV for full): after the older fields, so that their column numbers hold
    "icl",  # appended after model, for the same reason
    "noise_weight",  # with --noise: the noise component's weight (appended, for the same reason)
)

# Defaults chosen by measurement (bench/bench_select_mclust.py, README "Defaults, and why"): mclust's
# hierarchical start (deterministic, one EM run) plus 2 k-means restarts per cell, EM run until
# the mean log-likelihood gains less than 1e-5, reach mclust's own optimum or better in every cell
# of the 14 models x k 1-9 on five public data sets, where 10 k-means restarts stopped at scikit-
# learn's 1e-3 missed it in 8-20% of the cells. The command's defaults are these.
DEFAULT_N_INIT = 2
DEFAULT_INIT = ("hc", "kmeans")
DEFAULT_TOL = 1e-5
DEFAULT_MAX_ITER = 1000


@dataclass
class Cell:
    """One grid cell: the best fit of ``k`` components of one covariance type, and its scores.

    Criteria of a cell that could not be fitted are NaN and ``error`` says why. ``converged``
    and ``n_iter`` describe the winning restart. ``seconds`` is the wall time spent on the
    cell, cross-validation fits included.
    """

    k: int
    covariance_type: str
    log_likelihood: float = math.nan
    n_parameters: int = 0
    aic: float = math.nan
    bic: float = math.nan
    icl: float = math.nan
    cv_log_likelihood: float = math.nan
    converged: bool | None = None
    n_iter: int | None = None
    seconds: float = 0.0
    error: str | None = None
    # How the winning restart was started: fit with these to reproduce the cell exactly.
    init: str | None = None
    seed: int | None = None
    lower_bound: float = math.nan
    noise_weight: float = math.nan  # fitted with a noise component: its weight
    params: MixtureParams | None = field(default=None, repr=False)

    @property
    def model(self) -> str:
        """mclust's name of the cell's covariance model (VVV for full, ...)."""
        return covariance.get(self.covariance_type).mclust

    @property
    def fitted(self) -> bool:
        """True when the fit on all rows succeeded (cross-validation may still have failed)."""
        return math.isfinite(self.log_likelihood)

    def value(self, criterion: str) -> float:
        """The cell's score for ``criterion`` (aic, bic, icl or cv)."""
        return getattr(self, _ATTRIBUTE[check_criterion(criterion)])

    def record(self) -> dict:
        """The public fields as JSON-ready builtins; NaN becomes None."""
        out = {}
        for name in FIELDS:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[name] = value
        return out


_ATTRIBUTE = {"aic": "aic", "bic": "bic", "icl": "icl", "cv": "cv_log_likelihood"}
LOWER_IS_BETTER = {"aic": True, "bic": True, "icl": True, "cv": False}


def sweep(
    X: np.ndarray,
    ks: Iterable[int],
    covariance_types: Sequence[str] | str = covariance.SKLEARN_TYPES,
    *,
    n_init: int = DEFAULT_N_INIT,
    init: str | Sequence[str] = DEFAULT_INIT,
    seed: int | None = 0,
    tol: float = DEFAULT_TOL,
    reg_covar: float = 1e-6,
    max_iter: int = DEFAULT_MAX_ITER,
    cv: int | None = None,
    jobs: int | None = None,
    sample_weight: np.ndarray | None = None,
    on_done: Callable[[Cell], None] | None = None,
    keep_params: bool = True,
    backend: str = "local",
    noise_box: np.ndarray | None = None,
) -> list[Cell]:
    """Fit every (k, covariance type) cell and return the cells, by covariance type then k.

    Parameters
    ----------
    X : array (n, d) of finite floats.
    ks : component counts; covariance_types : model names or a comma list ("all": ``settings.ALL_MODELS``).
    n_init, init, seed, tol, reg_covar, max_iter : EM settings, as scikit-learn names them;
        ``init`` may name several methods (each gets ``n_init`` restarts; the best fit wins).
    cv : with K >= 2, also fit on K-1 folds and score the held-out fold, K times per cell.
    jobs : fits at a time, on threads or worker processes (None: all available cores; 1: one after
        another in this process).
    sample_weight : optional per-row weights, passed to the EM engine.
    on_done : called with each cell as soon as all its fits are done (any order).
    keep_params : keep each cell's fitted parameters (``Cell.params``), e.g. to save the winner.
    backend : "local" (``jobs`` threads or worker processes) or "dask" (the active Dask client's cluster).
    noise_box : (2, d) lower and upper corners: every fit (cross-validation ones too) gets mclust's
        uniform noise component over this one box (``em.fit``), and counts two more parameters
        (its weight and volume), as mclust's ``mclustBIC(..., initialization=list(noise=...))`` does.

    A cell that cannot be fitted (more components than rows, a degenerate covariance) gets NaN
    criteria and an ``error``; the sweep goes on (``gmmcli select`` refuses counts over the rows
    before it calls this: ``refuse_counts_over_rows``; ``lrt`` stops at the first count that
    fails). The result does not depend on ``jobs``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"expected a non-empty 2-D array of rows, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise DataError("the data holds missing or infinite values")
    n = len(X)
    ks = checked_ks(ks)
    types = parse_covariance_types(covariance_types)
    checks.check_settings(n_init=n_init, tol=tol, reg_covar=reg_covar, max_iter=max_iter)
    if noise_box is not None:
        noise_box = np.asarray(noise_box, dtype=np.float64)
        if noise_box.shape != (2, X.shape[1]) or not np.all(noise_box[1] > noise_box[0]):
            raise DataError(f"the noise box must be (2, {X.shape[1]}) corners of positive volume")
    settings = RunSettings(
        int(n_init), tuple(parse_inits(init)), seed, float(tol), float(reg_covar), int(max_iter), noise_box
    )
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (n,) or not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
            raise DataError("sample weights must be one finite, non-negative number per row")
    fold_of = None
    if cv is not None:
        check_cv(int(cv), n)
        cv = int(cv)
        fold_of = _fold_labels(n, cv, seed)
    jobs = available_cores() if jobs is None or jobs < 1 else int(jobs)

    extra = NOISE_PARAMETERS if noise_box is not None else 0  # mclust's nMclustParams(noise = TRUE)
    cells = [
        Cell(k, t, n_parameters=covariance.get(t).n_parameters(k, X.shape[1]) + extra)
        for t in types
        for k in ks
    ]
    tasks = [Task(i, c.k, c.covariance_type, None) for i, c in enumerate(cells)]
    if cv:
        tasks += [Task(i, c.k, c.covariance_type, f) for i, c in enumerate(cells) for f in range(cv)]
    parts_per_cell = 1 + (cv or 0)
    pending: dict[int, list[Outcome]] = {}
    for outcome in execute(X, sample_weight, fold_of, tasks, settings, jobs, keep_params, backend):
        parts = pending.setdefault(outcome.cell, [])
        parts.append(outcome)
        if len(parts) == parts_per_cell:
            n_eff = n if sample_weight is None else float(sample_weight.sum())
            _finish(cells[outcome.cell], pending.pop(outcome.cell), n_eff, cv)
            if on_done is not None:
                on_done(cells[outcome.cell])
    return cells


def largest_count(n_rows: int, cv: int | None = None) -> int:
    """The most components every fit of a grid can have: the rows, or with ``cv`` folds the
    rows of the smallest training split (the rows less the largest held-out fold)."""
    return n_rows if cv is None else n_rows - math.ceil(n_rows / cv)


def refuse_counts_over_rows(ks: Iterable[int], n_rows: int, cv: int | None = None) -> None:
    """DataError (exit 65) before any fit when a count exceeds ``largest_count``: a grid of
    ``-k 1-10000`` on 200 rows is a mistake to say at once, not 9,800 failed cells to fit."""
    top, most = max(ks), largest_count(n_rows, cv)
    if top > most:
        split = f" (the smallest training split of --cv {cv} has {most})" if cv else ""
        raise DataError(
            f"-k goes up to {top} but the data has {n_rows} rows{split}: the largest k allowed is {most}"
        )


def best(cells: Sequence[Cell], criterion: str = "bic") -> Cell:
    """The winning cell: lowest AIC, BIC or ICL, or highest held-out log-likelihood (``cv``).

    Cells without a finite value for the criterion cannot win; ties go to the earlier cell.
    """
    criterion = check_criterion(criterion)
    sign = 1.0 if LOWER_IS_BETTER[criterion] else -1.0
    scored = [
        (sign * c.value(criterion), i) for i, c in enumerate(cells) if math.isfinite(c.value(criterion))
    ]
    if not scored:
        reasons = sorted({c.error for c in cells if c.error})
        why = f": {reasons[0]}" if len(reasons) == 1 else " (see the error column)"
        raise FitFailed(
            f"no cell of the grid has a {'cross-validated' if criterion == 'cv' else criterion.upper()} score"
            f"{why}"
        )
    return cells[min(scored)[1]]


def records(cells: Iterable[Cell]) -> list[dict]:
    """One JSON-ready dict per cell, with the keys in ``FIELDS``."""
    return [c.record() for c in cells]


# --- internals ----------------------------------------------------------------------------------


def _fold_labels(n: int, folds: int, seed: int | None) -> np.ndarray:
    """Fold number of each row: a seeded shuffle cut into ``folds`` near-equal parts."""
    order = np.random.default_rng(seed).permutation(n)
    labels = np.empty(n, dtype=np.intp)
    for f, rows in enumerate(np.array_split(order, folds)):
        labels[rows] = f
    return labels


def _finish(cell: Cell, parts: list[Outcome], n_eff: float, cv: int | None) -> None:
    """Fill ``cell`` from its outcomes: the fit on all rows, then the cross-validation folds."""
    full = next(p for p in parts if p.fold is None)
    cell.seconds = sum(p.seconds for p in parts)
    if full.error is None:
        ll, p = full.log_likelihood, cell.n_parameters
        cell.log_likelihood = ll
        cell.aic = criteria.aic(ll, p)
        cell.bic = criteria.bic(ll, p, n_eff)
        cell.icl = criteria.icl(ll, p, n_eff, full.entropy)
        cell.converged, cell.n_iter = bool(full.converged), int(full.n_iter)
        cell.lower_bound, cell.init, cell.seed, cell.params = (
            full.lower_bound,
            full.init,
            full.seed,
            full.params,
        )
        cell.noise_weight = full.noise_weight
    else:
        cell.error = full.error
        return
    if cv:
        folds = sorted((p for p in parts if p.fold is not None), key=lambda p: p.fold)
        failed = next((p for p in folds if p.error is not None), None)
        if failed is not None:
            cell.error = f"cross-validation fold {failed.fold + 1} of {cv}: {failed.error}"
        else:
            cell.cv_log_likelihood = sum(p.heldout for p in folds) / n_eff


__all__ = [
    "CRITERIA",
    "DEFAULT_INIT",
    "DEFAULT_N_INIT",
    "FIELDS",
    "LOWER_IS_BETTER",
    "Cell",
    "best",
    "largest_count",
    "method_seed",
    "parse_covariance_types",
    "parse_inits",
    "parse_ks",
    "records",
    "refuse_counts_over_rows",
    "sweep",
]
