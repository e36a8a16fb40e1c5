"""Running a grid's fits: in this process, on threads, in worker processes or on Dask.

The unit of work is one fit (a cell on all rows, or a cell on one cross-validation training
split), dealt out largest first so that the expensive cells do not all end up last. Every fit
runs with one BLAS/OpenMP thread, so ``jobs`` workers use ``jobs`` cores and never
oversubscribe the machine, and the grid is bit for bit the same for any ``jobs``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from . import parallel
from .engine import covariance, criteria, density, em
from .engine.params import IllDefinedCovariance, MixtureParams
from .errors import first_line


@dataclass(frozen=True)
class RunSettings:
    """The EM settings every fit of a grid shares."""

    n_init: int
    inits: tuple[str, ...]
    seed: int | None
    tol: float
    reg_covar: float
    max_iter: int
    noise_box: np.ndarray | None = None  # every fit's uniform noise component, over this box


@dataclass(frozen=True)
class Task:
    """One fit: a cell on all rows, or on the training rows of one cross-validation fold."""

    cell: int
    k: int
    covariance_type: str
    fold: int | None  # None: all rows; else the held-out fold


@dataclass
class Outcome:
    """What one fit gave: its parameters and scores, or the reason it failed."""

    cell: int
    fold: int | None
    seconds: float
    error: str | None = None
    params: MixtureParams | None = None
    log_likelihood: float = math.nan
    converged: bool = False
    n_iter: int = 0
    lower_bound: float = math.nan
    init: str | None = None
    seed: int | None = None
    heldout: float = math.nan  # summed (weighted) held-out log-likelihood of the fold
    entropy: float = math.nan  # of the MAP classification of the rows fitted (for ICL; all rows only)
    noise_weight: float = math.nan  # with a noise component (all rows only)


def method_seed(seed: int | None, index: int) -> int | None:
    """The seed of the ``index``-th initialisation method: ``seed`` itself for the first."""
    if seed is None or index == 0:
        return seed
    return int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0])


def _cost(task: Task, d: int) -> float:
    shape = d * d if covariance.get(task.covariance_type).structure.matrix else d
    return task.k * (shape + d) * (0.8 if task.fold is not None else 1.0)


def execute(X, w, fold_of, tasks, settings, jobs, keep_params, backend="local"):
    """Yield an outcome per task, in this process or ``jobs`` workers, in completion order
    (``parallel.unordered``; where: ``parallel.place_for``, or the cluster for backend "dask")."""
    jobs = min(jobs, len(tasks))
    place = "dask" if backend == "dask" else parallel.place_for(X.shape[0], X.shape[1], jobs)
    if place in ("process", "threads"):
        _warm_up(settings)  # before the BLAS limit, so that the libraries it loads are limited too
    if place == "process":  # one fit at a time: the EM engine threads over blocks of rows instead
        yield from parallel.unordered(
            _fit_task, [(X, w, fold_of, t, settings, keep_params) for t in tasks], 1, place
        )
        return
    ordered = sorted(tasks, key=lambda t: -_cost(t, X.shape[1]))
    fn = _fit_task if place == "threads" else _run_task
    extra = (1,) if place == "threads" else ()  # a thread's fit runs on that thread alone
    yield from parallel.unordered(
        fn, [(X, w, fold_of, t, settings, keep_params, *extra) for t in ordered], jobs, place
    )


def _run_task(X, w, fold_of, task: Task, settings: RunSettings, keep_params: bool) -> Outcome:
    """One fit in a worker process or on a Dask worker: one BLAS thread, lazy imports paid
    before the clock starts."""
    from threadpoolctl import threadpool_limits

    _warm_up(settings)
    with threadpool_limits(limits=parallel.FIT_THREADS):
        return _fit_task(X, w, fold_of, task, settings, keep_params)


_warmed: set = set()


def _warm_up(settings: RunSettings) -> None:
    """Fit a tiny mixture once per process and method, so that one-time costs (lazy imports)
    are not billed to the first cell's ``seconds``."""
    for method in settings.inits:
        if method not in _warmed:
            _warmed.add(method)
            tiny = np.random.default_rng(0).standard_normal((8, 2))
            try:
                em.fit(tiny, 2, covariance_type="diag", max_iter=2, n_init=1, init=method, seed=0)
            except Exception:  # only a warm-up: the real fits report their own errors
                pass


def _fit_task(
    X, w, fold_of, task: Task, settings: RunSettings, keep_params: bool, threads: int | None = None
) -> Outcome:
    start = time.perf_counter()
    out = Outcome(task.cell, task.fold, 0.0)
    if task.fold is None:
        train, w_train = X, w
    else:
        held = fold_of == task.fold
        train, w_train = X[~held], None if w is None else w[~held]
    try:
        if task.k > len(train):
            rows = "rows" if task.fold is None else "training rows in a fold"
            raise _CellError(f"more components than {rows} ({len(train)})")
        result, ll, method, seed = _best_fit(train, w_train, task.k, task.covariance_type, settings, threads)
        if task.fold is None:
            out.params = result.params if keep_params else None
            out.log_likelihood, out.converged, out.n_iter = ll, result.converged, result.n_iter
            out.lower_bound, out.init, out.seed = result.lower_bound, method, seed
            out.entropy = criteria.classification_entropy(train, result.params, w_train)
            if result.params.has_noise:
                out.noise_weight = result.params.noise_weight
        else:
            scores = density.score_samples(X[held], result.params)
            out.heldout = float(scores.sum() if w is None else np.dot(w[held], scores))
            if not math.isfinite(out.heldout):
                raise _CellError("held-out log-likelihood is not finite")
    except (_CellError, ValueError, ArithmeticError, MemoryError) as exc:
        out.error = "out of memory" if isinstance(exc, MemoryError) else first_line(exc)
    out.seconds = time.perf_counter() - start
    return out


class _CellError(Exception):
    """A cell that cannot be fitted, with a reason for the error column."""


def _best_fit(X, w, k, covariance_type, settings: RunSettings, threads: int | None = None):
    """The best of ``n_init`` restarts for each initialisation method, by log-likelihood.

    A cell whose best fit has a degenerate component (``mstep.degenerate_components``) fails
    with the reason: it gets no criteria and can never win the grid.
    """
    best = None
    for index, method in enumerate(settings.inits):
        seed = method_seed(settings.seed, index)
        kwargs = dict(
            covariance_type=covariance_type,
            tol=settings.tol,
            reg_covar=settings.reg_covar,
            max_iter=settings.max_iter,
            n_init=settings.n_init,
            init=method,
            seed=seed,
        )
        if w is not None:
            kwargs["sample_weight"] = w
        if settings.noise_box is not None:
            kwargs["noise_box"] = settings.noise_box
        try:
            result = em.fit(X, k, threads=threads, score=True, **kwargs)
        except IllDefinedCovariance as exc:  # every restart of this method broke off
            failure = exc
            continue
        ll = result.log_likelihood  # the engine's E-step on the fit's own prepared data
        if not math.isfinite(ll):
            raise _CellError("log-likelihood is not finite")
        # a degenerate fit loses to any sound one, then the higher log-likelihood wins
        if best is None or (not result.degenerate, ll) > (not best[0].degenerate, best[1]):
            best = (result, ll, method, seed)
    if best is None:
        raise failure
    if best[0].degenerate:
        raise _CellError(f"degenerate: {best[0].degenerate[0]}")
    return best
