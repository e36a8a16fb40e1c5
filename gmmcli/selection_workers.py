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

from .engine import covariance, criteria, density, em
from .engine.params import IllDefinedCovariance, MixtureParams
from .errors import first_line

FIT_THREADS = 1  # BLAS/OpenMP threads per fit: parallelism comes from --jobs

#: Parallel fits run on threads when the data has at least this many rows x columns^2 (their
#: time is then in numpy's matrix products, which release the GIL), else in worker processes
#: (many small numpy calls would queue on the GIL). Measured on 2 cores, whole processes:
#: digits 1797 x 41 (3.0e6), 20 fits: 3.2-3.4 s on threads, 3.7-4.2 s in processes; blobs
#: 400 x 2, 1,920 small fits (--cv 5): 11-12 s on threads, 5.7-6.2 s in processes.
THREADS_MIN_WORK = 1_000_000


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
    """Yield an outcome per task, in this process or ``jobs`` workers, in completion order.

    backend "dask" sends the tasks to the Dask cluster of the active client, all at once.
    """
    ordered = sorted(tasks, key=lambda t: -_cost(t, X.shape[1]))
    jobs = min(jobs, len(tasks))
    if backend == "dask" or (jobs > 1 and X.shape[0] * X.shape[1] ** 2 < THREADS_MIN_WORK):
        from joblib import Parallel, delayed, parallel_config

        config = (
            {"backend": "dask"}
            if backend == "dask"
            else {"backend": "loky", "inner_max_num_threads": FIT_THREADS}
        )
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


def _run_task(X, w, fold_of, task: Task, settings: RunSettings, keep_params: bool) -> Outcome:
    """One fit in a worker process or on a Dask worker: one BLAS thread, lazy imports paid
    before the clock starts."""
    from threadpoolctl import threadpool_limits

    _warm_up(settings)
    with threadpool_limits(limits=FIT_THREADS):
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
