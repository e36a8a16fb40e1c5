"""Model selection: fit a grid of (component count, covariance type) cells and score each one.

Pure numpy on arrays; knows nothing of files or the command line. Each cell is the best of
``n_init`` EM restarts for every initialisation method in ``init``. The criteria follow
scikit-learn's conventions: ``aic = -2 log L + 2 p`` and ``bic = -2 log L + p log n`` (lower is
better), and with ``cv=K`` the mean held-out log-likelihood per row over K folds (higher is better).

Seeds. The first initialisation method of every cell runs with ``seed`` itself, the way the
notebook's loop passes ``random_state=0`` to every ``GaussianMixture``: so one method with
``n_init=N`` reproduces ``GaussianMixture(k, n_init=N, init_params=method, random_state=seed)``
exactly. Further methods run with seeds derived from ``(seed, method index)``. A cell's result
therefore depends only on its own settings, never on which worker ran it or in what order:
the grid is the same for any ``jobs``.

Parallelism. With ``jobs > 1`` the fits run ``jobs`` at a time: on threads of this process when
the data is large enough for numpy's matrix products to dominate (``THREADS_MIN_WORK``), else
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
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from . import em, gaussian
from .errors import DataError, FitFailed, UsageError
from .gaussian import COVARIANCE_TYPES, MixtureParams

CRITERIA = ("bic", "aic", "cv")
FIELDS = ("k", "covariance_type", "log_likelihood", "n_parameters", "aic", "bic",
          "cv_log_likelihood", "converged", "n_iter", "seconds", "error")

# Defaults chosen so that the winner and the cells near it do not hinge on the seed. Measured
# with bench/bench_select.py --stability (k 1-10 x 4 types on moons, blobs, stretched; seeds
# 0-4): 10 k-means restarts kept the winner fixed on all three, kept every cell within 10 BIC of
# the best within 0.9 BIC of the best fit known for it, and left the fewest cells moving by more
# than 2 BIC between seeds of any setting tried up to 15 EM runs per cell. Adding other methods
# (k-means++, random_from_data) at the same budget did no better: on these data, k-means starts
# are the ones that find the best basins.
DEFAULT_N_INIT = 10
DEFAULT_INIT = ("kmeans",)
FIT_THREADS = 1  # BLAS/OpenMP threads per fit: parallelism comes from --jobs

#: Parallel fits run on threads when the data has at least this many rows x columns^2 (their
#: time is then in numpy's matrix products, which release the GIL), else in worker processes
#: (many small numpy calls would queue on the GIL). Measured on 2 cores, whole processes:
#: digits 1797 x 41 (3.0e6), 20 fits: 3.2-3.4 s on threads, 3.7-4.2 s in processes; blobs
#: 400 x 2, 1,920 small fits (--cv 5): 11-12 s on threads, 5.7-6.2 s in processes.
THREADS_MIN_WORK = 1_000_000


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
    cv_log_likelihood: float = math.nan
    converged: bool | None = None
    n_iter: int | None = None
    seconds: float = 0.0
    error: str | None = None
    # How the winning restart was started: fit with these to reproduce the cell exactly.
    init: str | None = None
    seed: int | None = None
    lower_bound: float = math.nan
    params: MixtureParams | None = field(default=None, repr=False)

    @property
    def fitted(self) -> bool:
        """True when the fit on all rows succeeded (cross-validation may still have failed)."""
        return math.isfinite(self.log_likelihood)

    def value(self, criterion: str) -> float:
        """The cell's score for ``criterion`` (aic, bic or cv)."""
        return getattr(self, _ATTRIBUTE[_check_criterion(criterion)])

    def record(self) -> dict:
        """The public fields as JSON-ready builtins; NaN becomes None."""
        out = {}
        for name in FIELDS:
            value = getattr(self, name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            out[name] = value
        return out


_ATTRIBUTE = {"aic": "aic", "bic": "bic", "cv": "cv_log_likelihood"}
LOWER_IS_BETTER = {"aic": True, "bic": True, "cv": False}


def _check_criterion(criterion: str) -> str:
    criterion = criterion.lower()
    if criterion not in CRITERIA:
        raise UsageError(f"unknown criterion {criterion!r} (choose from {', '.join(CRITERIA)})")
    return criterion


def parse_ks(text: str) -> list[int]:
    """Component counts from ``"1-10"``, ``"1-200:10"`` (step), ``"2,4,8"`` or a mix of them.

    Ranges include both ends when the step lands on the end: ``1-200:10`` is 1, 11, ..., 191,
    as ``np.arange(1, 200, 10)`` in the notebook. The result is sorted and without repeats.
    """
    ks: set[int] = set()
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise UsageError("-k needs component counts, e.g. 1-10, 1-200:10 or 2,4,8")
    for item in items:
        if not item:
            continue
        try:
            if "-" in item:
                span, _, step_text = item.partition(":")
                lo_text, _, hi_text = span.partition("-")
                lo, hi = int(lo_text), int(hi_text)
                step = int(step_text) if step_text else 1
                if step < 1:
                    raise UsageError(f"-k {item!r}: the step must be at least 1")
                if hi < lo:
                    raise UsageError(f"-k {item!r}: the range ends before it starts")
                ks.update(range(lo, hi + 1, step))
            else:
                if ":" in item:
                    raise ValueError(item)
                ks.add(int(item))
        except ValueError:
            raise UsageError(f"-k {item!r} is not a count or range (e.g. 1-10, 1-200:10, 2,4,8)") from None
    if min(ks) < 1:
        raise UsageError(f"-k counts must be at least 1, got {min(ks)}")
    return sorted(ks)


def parse_covariance_types(text: str | Sequence[str]) -> list[str]:
    """``"all"``, ``"full,diag"`` or a list -> covariance types in the given order, no repeats."""
    names = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text)]
    names = [t for t in names if t]
    if not names or names == ["all"]:
        return list(COVARIANCE_TYPES)
    for t in names:
        if t not in COVARIANCE_TYPES:
            raise UsageError(f"unknown covariance type {t!r} (choose from {', '.join(COVARIANCE_TYPES)}, or all)")
    return list(dict.fromkeys(names))


def parse_inits(init: str | Sequence[str]) -> list[str]:
    """``"kmeans,random_from_data"`` or a list -> initialisation methods, no repeats."""
    names = [m.strip() for m in (init.split(",") if isinstance(init, str) else init)]
    names = [m for m in names if m]
    if not names:
        raise UsageError(f"--init needs a method (choose from {', '.join(em.INIT_METHODS)})")
    for m in names:
        if m not in em.INIT_METHODS:
            raise UsageError(f"unknown --init {m!r} (choose from {', '.join(em.INIT_METHODS)})")
    return list(dict.fromkeys(names))


def method_seed(seed: int | None, index: int) -> int | None:
    """The seed of the ``index``-th initialisation method: ``seed`` itself for the first."""
    if seed is None or index == 0:
        return seed
    return int(np.random.SeedSequence([int(seed), index]).generate_state(1)[0])


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Settings:
    n_init: int
    inits: tuple[str, ...]
    seed: int | None
    tol: float
    reg_covar: float
    max_iter: int


@dataclass(frozen=True)
class _Task:
    cell: int
    k: int
    covariance_type: str
    fold: int | None  # None: all rows; else the held-out fold


@dataclass
class _Outcome:
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


def sweep(
    X: np.ndarray,
    ks: Iterable[int],
    covariance_types: Sequence[str] | str = COVARIANCE_TYPES,
    *,
    n_init: int = DEFAULT_N_INIT,
    init: str | Sequence[str] = DEFAULT_INIT,
    seed: int | None = 0,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    cv: int | None = None,
    jobs: int | None = None,
    sample_weight: np.ndarray | None = None,
    on_done: Callable[[Cell], None] | None = None,
    keep_params: bool = True,
    backend: str = "local",
) -> list[Cell]:
    """Fit every (k, covariance type) cell and return the cells, by covariance type then k.

    Parameters
    ----------
    X : array (n, d) of finite floats.
    ks : component counts; covariance_types : names or a comma list ("all" for the four).
    n_init, init, seed, tol, reg_covar, max_iter : EM settings, as scikit-learn names them;
        ``init`` may name several methods (each gets ``n_init`` restarts; the best fit wins).
    cv : with K >= 2, also fit on K-1 folds and score the held-out fold, K times per cell.
    jobs : worker processes (None: all available cores; 1: run in this process).
    sample_weight : optional per-row weights, passed to the EM engine.
    on_done : called with each cell as soon as all its fits are done (any order).
    keep_params : keep each cell's fitted parameters (``Cell.params``), e.g. to save the winner.
    backend : "local" (``jobs`` threads or worker processes) or "dask" (the active Dask client's cluster).

    A cell that cannot be fitted (more components than rows, a degenerate covariance) gets NaN
    criteria and an ``error``; the sweep goes on. The result does not depend on ``jobs``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"expected a non-empty 2-D array of rows, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise DataError("the data holds missing or infinite values")
    n = len(X)
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise UsageError("component counts must be at least 1")
    types = parse_covariance_types(covariance_types)
    settings = _Settings(int(n_init), tuple(parse_inits(init)), seed, float(tol), float(reg_covar), int(max_iter))
    if settings.n_init < 1 or settings.max_iter < 1:
        raise UsageError("--n-init and --max-iter must be at least 1")
    if settings.tol < 0 or settings.reg_covar < 0:
        raise UsageError("--tol and --reg-covar must not be negative")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (n,) or not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
            raise DataError("sample weights must be one finite, non-negative number per row")
    fold_of = None
    if cv is not None:
        cv = int(cv)
        if cv < 2:
            raise UsageError(f"--cv needs at least 2 folds, got {cv}")
        if cv > n:
            raise UsageError(f"--cv {cv} needs at least {cv} rows, the data has {n}")
        fold_of = _fold_labels(n, cv, seed)
    jobs = available_cores() if jobs is None or jobs < 1 else int(jobs)

    cells = [Cell(k, t, n_parameters=gaussian.n_parameters(k, X.shape[1], t)) for t in types for k in ks]
    tasks = [_Task(i, c.k, c.covariance_type, None) for i, c in enumerate(cells)]
    if cv:
        tasks += [_Task(i, c.k, c.covariance_type, f) for i, c in enumerate(cells) for f in range(cv)]
    parts_per_cell = 1 + (cv or 0)
    pending: dict[int, list[_Outcome]] = {}
    for outcome in _execute(X, sample_weight, fold_of, tasks, settings, jobs, keep_params, backend):
        parts = pending.setdefault(outcome.cell, [])
        parts.append(outcome)
        if len(parts) == parts_per_cell:
            _finish(cells[outcome.cell], pending.pop(outcome.cell), n if sample_weight is None else float(sample_weight.sum()), cv)
            if on_done is not None:
                on_done(cells[outcome.cell])
    return cells


def best(cells: Sequence[Cell], criterion: str = "bic") -> Cell:
    """The winning cell: lowest AIC or BIC, or highest held-out log-likelihood (``cv``).

    Cells without a finite value for the criterion cannot win; ties go to the earlier cell.
    """
    criterion = _check_criterion(criterion)
    sign = 1.0 if LOWER_IS_BETTER[criterion] else -1.0
    scored = [(sign * c.value(criterion), i) for i, c in enumerate(cells) if math.isfinite(c.value(criterion))]
    if not scored:
        reasons = sorted({c.error for c in cells if c.error})
        why = f": {reasons[0]}" if len(reasons) == 1 else " (see the error column)"
        raise FitFailed(f"no cell of the grid has a {criterion.upper() if criterion != 'cv' else 'cross-validated'} score{why}")
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


def _cost(task: _Task, d: int) -> float:
    shape = d * d if task.covariance_type in ("full", "tied") else d
    return task.k * (shape + d) * (0.8 if task.fold is not None else 1.0)


def _execute(X, w, fold_of, tasks, settings, jobs, keep_params, backend="local"):
    """Yield an outcome per task, in this process or ``jobs`` workers, in completion order.

    backend "dask" sends the tasks to the Dask cluster of the active client, all at once.
    """
    ordered = sorted(tasks, key=lambda t: -_cost(t, X.shape[1]))
    jobs = min(jobs, len(tasks))
    if backend == "dask" or (jobs > 1 and X.shape[0] * X.shape[1] ** 2 < THREADS_MIN_WORK):
        from joblib import Parallel, delayed, parallel_config

        config = {"backend": "dask"} if backend == "dask" else {"backend": "loky", "inner_max_num_threads": FIT_THREADS}
        with parallel_config(**config):
            run = Parallel(n_jobs=-1 if backend == "dask" else jobs, return_as=_unordered())
            yield from run(delayed(_run_task)(X, w, fold_of, t, settings, keep_params) for t in ordered)
        return
    from threadpoolctl import threadpool_limits

    _warm_up(settings)  # first, so that the libraries it loads are limited too
    with threadpool_limits(limits=FIT_THREADS):
        if jobs == 1:  # the EM engine threads over blocks of rows instead
            for task in tasks:
                yield _fit_task(X, w, fold_of, task, settings, keep_params)
        else:
            yield from _on_threads(X, w, fold_of, ordered, settings, keep_params, jobs)


def _on_threads(X, w, fold_of, tasks, settings, keep_params, n_threads: int):
    """The fits on ``n_threads`` threads of this process, one fit per thread at a time.

    For data large enough (``THREADS_MIN_WORK``): numpy's GEMMs release the GIL, the data is
    shared instead of copied to each worker, and no worker has to start. Daemon threads, so that
    Ctrl-C ends the process at once: the fits in flight are abandoned, not waited for.
    """
    import queue
    import threading

    todo, done, stop = queue.SimpleQueue(), queue.SimpleQueue(), threading.Event()
    for task in tasks:
        todo.put(task)

    def work():
        while not stop.is_set():
            try:
                task = todo.get_nowait()
            except queue.Empty:
                return
            try:
                done.put(_fit_task(X, w, fold_of, task, settings, keep_params, threads=1))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                done.put(exc)
                return

    for i in range(n_threads):
        threading.Thread(target=work, name=f"gmmcli-fit-{i}", daemon=True).start()
    def finished():
        while True:
            try:
                return done.get(timeout=0.1)  # short waits: signals reach this thread
            except queue.Empty:
                pass

    try:
        for _ in range(len(tasks)):
            item = finished()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # on an error or an interrupt, the threads take no further fit


def _unordered() -> str:
    """joblib >= 1.4 hands results back as they finish; older versions in submission order."""
    import joblib

    major, minor = (int(p) for p in joblib.__version__.split(".")[:2])
    return "generator_unordered" if (major, minor) >= (1, 4) else "generator"


def _run_task(X, w, fold_of, task: _Task, settings: _Settings, keep_params: bool) -> _Outcome:
    """One fit in a worker process or on a Dask worker: one BLAS thread, lazy imports paid
    before the clock starts."""
    from threadpoolctl import threadpool_limits

    _warm_up(settings)
    with threadpool_limits(limits=FIT_THREADS):
        return _fit_task(X, w, fold_of, task, settings, keep_params)


_warmed: set = set()


def _warm_up(settings: _Settings) -> None:
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


def _fit_task(X, w, fold_of, task: _Task, settings: _Settings, keep_params: bool, threads: int | None = None) -> _Outcome:
    start = time.perf_counter()
    out = _Outcome(task.cell, task.fold, 0.0)
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
        else:
            scores = gaussian.score_samples(X[held], result.params)
            out.heldout = float(scores.sum() if w is None else np.dot(w[held], scores))
            if not math.isfinite(out.heldout):
                raise _CellError("held-out log-likelihood is not finite")
    except (_CellError, ValueError, ArithmeticError, MemoryError) as exc:
        out.error = _reason(exc)
    out.seconds = time.perf_counter() - start
    return out


class _CellError(Exception):
    """A cell that cannot be fitted, with a reason for the error column."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "out of memory"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _best_fit(X, w, k, covariance_type, settings: _Settings, threads: int | None = None):
    """The best of ``n_init`` restarts for each initialisation method, by log-likelihood."""
    best = None
    for index, method in enumerate(settings.inits):
        seed = method_seed(settings.seed, index)
        kwargs = dict(covariance_type=covariance_type, tol=settings.tol, reg_covar=settings.reg_covar,
                      max_iter=settings.max_iter, n_init=settings.n_init, init=method, seed=seed)
        if w is not None:
            kwargs["sample_weight"] = w
        result = em.fit(X, k, threads=threads, score=True, **kwargs)
        ll = result.log_likelihood  # the engine's E-step on the fit's own prepared data
        if not math.isfinite(ll):
            raise _CellError("log-likelihood is not finite")
        if best is None or ll > best[1]:
            best = (result, ll, method, seed)
    return best


def _finish(cell: Cell, parts: list[_Outcome], n_eff: float, cv: int | None) -> None:
    """Fill ``cell`` from its outcomes: the fit on all rows, then the cross-validation folds."""
    full = next(p for p in parts if p.fold is None)
    cell.seconds = sum(p.seconds for p in parts)
    if full.error is None:
        ll, p = full.log_likelihood, cell.n_parameters
        cell.log_likelihood = ll
        cell.aic = -2.0 * ll + 2.0 * p
        cell.bic = -2.0 * ll + p * math.log(n_eff)
        cell.converged, cell.n_iter = bool(full.converged), int(full.n_iter)
        cell.lower_bound, cell.init, cell.seed, cell.params = full.lower_bound, full.init, full.seed, full.params
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
