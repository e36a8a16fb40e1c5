"""The EM engine: fit a Gaussian mixture to an array.

Pure numpy on arrays; knows nothing of files or the command line. joblib (parallel restarts) and
threadpoolctl are imported lazily, inside the functions that need them.

The engine reproduces ``sklearn.mixture.GaussianMixture``: the same initialisation from the same
seed (``starts``), the same M-step formulas, and the same meaning of ``tol``, ``max_iter``,
``reg_covar``, ``n_init``, ``lower_bound`` (mean log-likelihood per row at the last E-step, i.e.
under the parameters before the last M-step), ``n_iter`` and ``converged``. Its E-step and
M-step are blocked sufficient statistics (``estep.prepare_estep``, ``estep.block_stats``,
``stats.sum_stats``, ``mstep.m_step``), which is what makes sample weights, float32 and the
Dask engine fall out of the same code. The data as the loop holds it and the block runner are
``blocks``; the checks of inputs and settings are ``checks``.

Public functions::

    fit(X, n_components, *, covariance_type, tol, reg_covar, max_iter, n_init, init, seed,
        sample_weight=None, jobs=1, init_params=None, threads=None, score=False) -> FitResult
    run_em(X, initial_params, *, tol, reg_covar, max_iter, sample_weight=None,
           threads=None, block_rows=None) -> FitResult
    em_loop(runner, params, tol, reg_covar, max_iter) -> FitResult
                                    (the loop over any runner with .stats(params) -> SuffStats)
    initial_params(X, n_components, covariance_type, *, init, random_state, reg_covar,
                   sample_weight=None) -> MixtureParams
    log_likelihood(X, params, sample_weight=None) -> float        (total, weighted)
    effective_rows(X, sample_weight=None) -> float                (sum of weights)
    best_restart(results) -> FitResult         (scikit-learn's rule; used by every engine)
    aic(X, params, sample_weight=None) / bic(X, params, sample_weight=None) -> float
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from . import covariance, criteria
from .blocks import EMData, running
from .checks import check_params_for, check_settings, check_weights, check_X
from .cpus import available_cores
from .mstep import degenerate_components, m_step
from .params import ILL_DEFINED_COVARIANCE, IllDefinedCovariance, MixtureParams, with_noise
from .starts import DETERMINISTIC, INIT_METHODS, check_random_state
from .starts import initial_params as _initial_params

__all__ = [
    "INIT_METHODS",
    "FitResult",
    "IllDefinedCovariance",
    "ILL_DEFINED_COVARIANCE",
    "aic",
    "best_restart",
    "bic",
    "effective_rows",
    "em_loop",
    "fit",
    "initial_params",
    "log_likelihood",
    "noise_starts",
    "run_em",
]


#: The noise component's weight when EM starts (then EM estimates it).
NOISE_START = 0.05


@dataclass
class FitResult:
    """A fitted mixture and how the fit went."""

    params: MixtureParams
    converged: bool
    n_iter: int
    lower_bound: float  # mean log-likelihood per row at the last E-step of the best init
    log_likelihood: float | None = None  # total, under ``params`` (fit with score=True)
    degenerate: tuple[str, ...] = ()  # why components are degenerate (mstep.degenerate_components)
    failed: str | None = None  # why this restart broke off (an ill-defined covariance)


# --------------------------------------------------------------------------------------------
# EM


def em_loop(runner, params: MixtureParams, tol, reg_covar, max_iter) -> FitResult:
    """The EM iterations, with scikit-learn's stopping rule, over any source of statistics.

    ``runner.stats(params)`` must return the summed ``SuffStats`` of all rows under
    ``params`` (the in-memory block runner here; a distributed engine maps ``block_stats``
    over its partitions). Each iteration: E-step statistics, lower bound = loglik / weight,
    M-step; stop when |change of lower bound| < tol, or after max_iter iterations.
    """
    if max_iter == 0:
        return FitResult(params, False, 0, -math.inf)
    lower_bound = -math.inf
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is returned
        prev_lower_bound = lower_bound
        stats = runner.stats(params)
        lower_bound = stats.loglik / stats.weight
        params = m_step(stats, reg_covar, previous=params)
        if abs(lower_bound - prev_lower_bound) < tol:
            converged = True
            break
    degenerate = degenerate_components(stats, params)
    return FitResult(params, converged, n_iter, float(lower_bound), degenerate=degenerate)


def run_em(
    X: np.ndarray,
    initial_params: MixtureParams,
    *,
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    sample_weight: np.ndarray | None = None,
    threads: int | None = None,
    block_rows: int | None = None,
) -> FitResult:
    """EM from given initial parameters, until |change of lower bound| < tol or max_iter.

    ``lower_bound`` is the (weighted) mean log-likelihood per row at the last E-step, as
    scikit-learn's ``lower_bound_``; ``max_iter=0`` returns the initial parameters with
    lower bound -inf, as scikit-learn does. ``threads`` (default: the CPUs available, at most
    OMP_NUM_THREADS when that is set) spreads the blocks over threads with BLAS limited to one
    thread; the result does not depend on it, nor on how the blocks are spread.
    float32 X stays float32: the E-step distances run in float32 blocks, the statistics are
    accumulated in float64, and the returned parameters are float64.
    """
    X = check_X(X)
    check_params_for(initial_params, X.shape[1])
    w = check_weights(sample_weight, X.shape[0])
    data = EMData(X, w, initial_params.covariance_type, initial_params.n_components, block_rows)
    return best_restart([_run_on(data, initial_params, tol, reg_covar, max_iter, threads)])


def _run_on(data, params, tol, reg_covar, max_iter, threads):
    """One restart; one whose covariance degenerates is a failed result, not an exception, so
    that the other restarts still count (``best_restart`` raises when all failed)."""
    if isinstance(params, IllDefinedCovariance):  # its start already failed
        return FitResult(None, False, 0, -math.inf, failed=str(params))
    with running(data, threads) as runner:
        try:
            return em_loop(runner, params, tol, reg_covar, max_iter)
        except IllDefinedCovariance as exc:
            return FitResult(None, False, 0, -math.inf, failed=str(exc))


def _total_loglik(data, params, threads) -> float:
    with running(data, threads) as runner:
        return float(runner.stats(params, moments=False).loglik)


def _run_in_worker(X, w, params, tol, reg_covar, max_iter, block_rows, covariance_type, n_components):
    """One restart in a joblib worker: one thread, BLAS limited to one thread."""
    data = EMData(X, w, covariance_type, n_components, block_rows)
    return _run_on(data, params, tol, reg_covar, max_iter, threads=1)


def initial_params(
    X: np.ndarray,
    n_components: int,
    covariance_type: str = "full",
    *,
    init: str = "kmeans",
    random_state=None,
    reg_covar: float = 1e-6,
    sample_weight: np.ndarray | None = None,
) -> MixtureParams:
    """One initialisation exactly as scikit-learn's (see ``starts``); consumes random_state."""
    X = check_X(X, n_components)
    w = check_weights(sample_weight, X.shape[0])
    return _initial_params(
        EMData(X, w, covariance_type, n_components), n_components, init, random_state, reg_covar
    )


def fit(
    X: np.ndarray,
    n_components: int,
    *,
    covariance_type: str = "full",
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init: str = "kmeans",
    seed: int | None = None,
    sample_weight: np.ndarray | None = None,
    jobs: int = 1,
    init_params: MixtureParams | None = None,
    threads: int | None = None,
    score: bool = False,
    noise_box: np.ndarray | None = None,
) -> FitResult:
    """Fit by EM with scikit-learn's semantics for every setting; the best of n_init wins.

    The same seed gives the same result as ``GaussianMixture(random_state=seed)`` (to rounding).
    ``sample_weight`` (n,) weights the rows: integer weights fit as repeated rows would.
    ``jobs`` runs the n_init restarts on that many worker processes (joblib; -1 for all CPUs):
    the initialisations are drawn first, in order, from one random state (exactly as
    scikit-learn's sequential loop draws them), then the EM runs are spread over the workers, so
    the result does not depend on ``jobs``. ``init_params`` starts EM from given parameters
    instead (``init``, ``n_init`` and ``seed`` are then unused). ``threads``: block threads of
    each EM run in this process (default: the CPUs available); the result does not depend on it.
    ``score`` also fills ``log_likelihood``, the total under the returned parameters, on the data
    already prepared here (what ``log_likelihood(X, result.params)`` would prepare again).
    ``noise_box`` (2, d: lower and upper corners) adds mclust's uniform noise component of
    density 1/V over that box: every start (that has none yet) gets it with weight
    ``NOISE_START``, and EM updates its weight like any component's.

    Raises IllDefinedCovariance when a component's covariance degenerates, ValueError on bad
    input or settings.
    """
    check_settings(
        n_components=n_components,
        covariance_type=covariance_type,
        tol=tol,
        reg_covar=reg_covar,
        max_iter=max_iter,
        n_init=n_init,
        init=init,
    )
    covariance_type = covariance.get(covariance_type).name
    X = check_X(X, n_components)
    w = check_weights(sample_weight, X.shape[0])
    data = EMData(X, w, covariance_type, n_components)

    if init_params is not None:
        check_params_for(init_params, X.shape[1])
        if init_params.covariance_type != covariance_type:
            raise ValueError("init_params has a different covariance type")
        if init_params.n_components != n_components:
            raise ValueError("init_params has a different number of components")
        starts = [init_params]
    else:
        random_state = check_random_state(seed)
        n_starts = 1 if init in DETERMINISTIC else n_init  # the same start again gains nothing
        starts = [_try_start(data, n_components, init, random_state, reg_covar) for _ in range(n_starts)]

    starts = noise_starts(starts, noise_box)

    n_workers = _n_workers(jobs, len(starts))
    if n_workers == 1:
        results = [_run_on(data, p, tol, reg_covar, max_iter, threads) for p in starts]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_workers)(
            delayed(_run_in_worker)(
                X, w, p, tol, reg_covar, max_iter, data.block_rows, covariance_type, n_components
            )
            for p in starts
        )

    best = best_restart(results)
    if score:
        best = replace(best, log_likelihood=_total_loglik(data, best.params, threads))
    return best


def noise_starts(starts: list, noise_box: np.ndarray | None) -> list:
    """The starts with the uniform noise component over ``noise_box`` (weight ``NOISE_START``)
    where they have none yet; failed starts (exceptions) and ``noise_box=None`` left as they are.
    The one rule of the in-memory and the Dask engines."""
    if noise_box is None:
        return starts
    return [
        p if isinstance(p, Exception) or p.has_noise else with_noise(p, noise_box, NOISE_START)
        for p in starts
    ]


def _try_start(*args):
    """One start, or the IllDefinedCovariance its first M-step raised (that restart fails)."""
    try:
        return _initial_params(*args)
    except IllDefinedCovariance as exc:
        return exc


def best_restart(results: list[FitResult]) -> FitResult:
    """The choice among restarts: a degenerate restart loses to any that is not; then
    scikit-learn's rule, the first strictly best lower bound wins.

    A restart whose lower bound is -inf (no iteration ran: ``max_iter=0``) is replaced by any
    later one, so with ``max_iter=0`` the last start is kept, as scikit-learn keeps it. Failed
    restarts never win; when all failed, the first one's IllDefinedCovariance is raised.
    """
    ran = [res for res in results if res.failed is None]
    if not ran:
        raise IllDefinedCovariance(results[0].failed)
    sound = [res for res in ran if not res.degenerate]
    best = None
    for res in sound or ran:
        if best is None or res.lower_bound > best.lower_bound or best.lower_bound == -math.inf:
            best = res
    return best


def _n_workers(jobs: int, n_tasks: int) -> int:
    jobs = int(jobs)
    if jobs == 0:
        raise ValueError("jobs must be a positive number of workers, or -1 for all CPUs")
    if jobs < 0:
        jobs = max(1, available_cores() + 1 + jobs)
    return max(1, min(jobs, n_tasks))


# --------------------------------------------------------------------------------------------
# Scoring helpers for model selection


def log_likelihood(
    X: np.ndarray, params: MixtureParams, sample_weight=None, threads: int | None = None
) -> float:
    """Total (weighted) log-likelihood sum_n w_n log p(x_n | params); ``threads`` as in ``fit``."""
    X = check_X(X)
    check_params_for(params, X.shape[1])
    w = check_weights(sample_weight, X.shape[0])
    return _total_loglik(EMData(X, w, params.covariance_type, params.n_components), params, threads)


def effective_rows(X: np.ndarray, sample_weight=None) -> float:
    """The number of rows an information criterion should count: the sum of the weights."""
    n = np.asarray(X).shape[0]
    w = check_weights(sample_weight, n)
    return float(n if w is None else w.sum())


def aic(X: np.ndarray, params: MixtureParams, sample_weight=None) -> float:
    """Akaike information criterion of ``params`` on X (``criteria.aic``)."""
    p = params.n_parameters
    return criteria.aic(log_likelihood(X, params, sample_weight), p)


def bic(X: np.ndarray, params: MixtureParams, sample_weight=None) -> float:
    """Bayesian information criterion of ``params`` on X (``criteria.bic``, n = sum of weights)."""
    p = params.n_parameters
    return criteria.bic(log_likelihood(X, params, sample_weight), p, effective_rows(X, sample_weight))
