"""The parametric bootstrap likelihood-ratio test for the number of components (mclust's
``mclustBootstrapLRT``), for one covariance model.

For k = 1, 2, ...: the statistic LRTS = 2 (log L_{k+1} - log L_k) of the fits of k and k + 1
components to the data, and its p-value from ``n_boot`` parametric bootstrap samples: each is
``n`` rows drawn from the fitted k-component model, refitted with k and with k + 1 components,
and gives a bootstrap LRTS. p = (1 + #{bootstrap LRTS >= observed}) / (n_boot + 1), as mclust's
R/bootstrap.R computes it. The sequence stops at the first k whose test does not reject at
``level`` (that k is the answer), or, with ``run_all``, goes on to ``max_k`` (as mclust does when
given ``maxG``).

As in mclust, each bootstrap refit is one EM run started from the observed fit's parameters
(k components from the k fit, k + 1 from the k + 1 fit), and its log-likelihood is that of the
parameters EM returns. A replicate whose refit fails or is degenerate (a component whose
covariance is singular without ``reg_covar``, ``mstep.degenerate_components``) is drawn again:
mclust's EM, which has no ``reg_covar``, gives NA there and mclust redraws when its LRTS is NA.
(Kept, such refits would be held up by ``reg_covar`` alone and inflate the bootstrap statistics:
on diabetes VVV 4 vs 5, most refits of mclust's 5-component fit put a component on 1-3 rows.)
The observed fits are a selection grid's cells
(``selection.sweep``: restarts, degenerate fits refused).

Seeds. Replicate b of test k draws from ``SeedSequence([seed, k, b, attempt])``: a replicate's
value depends only on its own numbers, never on which worker ran it, so the result is the same for
any ``jobs``. The replicates run ``jobs`` at a time, in worker processes for small data and on
threads for large data (``parallel.THREADS_MIN_WORK``), each with one BLAS thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import parallel
from .engine import checks, covariance, density, em
from .engine.cpus import available_cores
from .engine.params import IllDefinedCovariance, MixtureParams
from .errors import DataError, FitFailed, SettingError

FIELDS = (
    "model",
    "covariance_type",
    "k0",
    "k1",
    "log_likelihood0",
    "log_likelihood1",
    "lrts",
    "p_value",
    "n_boot",
    "n_boot_ge",
    "boot_median",
    "boot_q95",
    "redraws",
    "rejected",
)

#: A replicate is drawn again at most this many times when its refits fail.
MAX_REDRAWS = 100

DEFAULT_N_BOOT = 999
DEFAULT_LEVEL = 0.05
DEFAULT_MAX_K = 8  # tests 1 vs 2 ... 8 vs 9, as mclust's G = 1:9
#: The observed fits' starts: select's k-means restarts and mclust's hierarchical start, the best
#: of them. Measured (bench/bench_lrt.py --fits-only, faithful and diabetes, VVV and EEE, k 1-5):
#: ten k-means starts alone fell short of the hc start by up to 11 (diabetes VVV k=3), the hc
#: start alone of k-means by up to 28 (diabetes EEE k=3); the statistic needs both fits at their best.
DEFAULT_INIT = ("kmeans", "hc")


@dataclass(frozen=True)
class Fit:
    """An observed fit of ``k`` components: its parameters and log-likelihood on the data."""

    k: int
    params: MixtureParams
    log_likelihood: float


@dataclass(frozen=True)
class RefitSettings:
    """The EM settings of the test's fits: the observed fits and the bootstrap refits.

    By default EM stops as mclust's does (``emControl()$tol[1]``): when the log-likelihood gains
    less than ``rtol`` x (1 + |log L|), i.e. at gmmcli's per-row tolerance rtol (1 + |L|) / n,
    with L the log-likelihood of the fit a run starts from (a refit: the observed fit; the
    observed fits: the one-component fit). ``tol`` (gmmcli's rule: the mean log-likelihood per
    row gains less than tol) replaces it. The statistic depends on this: the k + 1 refits of a
    k-component sample converge slowly, and EM run longer raises their log-likelihood (faithful
    VVV 2 vs 3: bootstrap 95% quantile 18.4 at tol 1e-5, 17.7 at mclust's rule, 17.8 in mclust).
    """

    rtol: float = 1e-5
    tol: float | None = None
    reg_covar: float = 1e-6
    max_iter: int = 1000

    def tol_for(self, log_likelihood: float, n_rows: int) -> float:
        """gmmcli's per-row tolerance for a run that starts at ``log_likelihood``."""
        if self.tol is not None:
            return self.tol
        return self.rtol * (1.0 + abs(float(log_likelihood))) / n_rows

    def check(self) -> None:
        if not (isinstance(self.rtol, (int, float)) and math.isfinite(self.rtol) and self.rtol >= 0):
            raise SettingError("rtol", f"{{}} must be a finite number >= 0, got {self.rtol!r}")
        settings = dict(reg_covar=self.reg_covar, max_iter=self.max_iter)
        checks.check_settings(**settings, **({} if self.tol is None else {"tol": self.tol}))


@dataclass
class Step:
    """The test of k0 against k1 = k0 + 1 components."""

    covariance_type: str
    k0: int
    log_likelihood0: float
    log_likelihood1: float
    boot: np.ndarray = field(repr=False)  # the bootstrap statistics, replicate by replicate
    redraws: int
    level: float

    @property
    def k1(self) -> int:
        return self.k0 + 1

    @property
    def model(self) -> str:
        return covariance.get(self.covariance_type).mclust

    @property
    def lrts(self) -> float:
        return statistic(self.log_likelihood0, self.log_likelihood1)

    @property
    def n_boot(self) -> int:
        return len(self.boot)

    @property
    def n_boot_ge(self) -> int:
        return int(np.sum(self.boot >= self.lrts))

    @property
    def p_value(self) -> float:
        return p_value(self.boot, self.lrts)

    @property
    def rejected(self) -> bool:
        """k0 components are rejected in favour of k1 (p <= level; mclust stops when p > level)."""
        return self.p_value <= self.level

    @property
    def boot_median(self) -> float:
        return float(np.median(self.boot))

    @property
    def boot_q95(self) -> float:
        return float(np.quantile(self.boot, 0.95))

    def record(self) -> dict:
        """The fields in ``FIELDS`` as JSON-ready builtins."""
        return {name: _builtin(getattr(self, name)) for name in FIELDS}


@dataclass
class Result:
    """The tests run, the number of components they choose, and why the sequence stopped."""

    steps: list[Step]
    n_components: int | None  # the first k not rejected; None when every test rejected
    stopped: str | None = None  # why the sequence ended before max_k, when it did not choose

    def records(self) -> list[dict]:
        return [s.record() for s in self.steps]


def statistic(log_likelihood0: float, log_likelihood1: float) -> float:
    """LRTS = 2 (log L1 - log L0)."""
    return 2.0 * (float(log_likelihood1) - float(log_likelihood0))


def p_value(boot: np.ndarray, observed: float) -> float:
    """mclust's bootstrap p-value (1 + #{boot >= observed}) / (B + 1)."""
    boot = np.asarray(boot, dtype=np.float64)
    return (1.0 + float(np.sum(boot >= observed))) / (len(boot) + 1.0)


def check_test_settings(n_boot: int, level: float, max_k: int) -> None:
    """The test's own settings (SettingError names the setting)."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise SettingError("n_boot", f"{{}} must be a positive number of replicates, got {n_boot!r}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise SettingError("level", f"{{}} must lie strictly between 0 and 1, got {level!r}")
    if isinstance(max_k, bool) or not isinstance(max_k, (int, np.integer)) or max_k < 1:
        raise SettingError(
            "max_k", f"{{}} must be at least 1 (the last test is max-k vs max-k + 1), got {max_k!r}"
        )


def observed_fits(
    X: np.ndarray, covariance_type: str, max_k: int, *, jobs: int | None = None, **sweep_settings
) -> dict[int, Fit | str]:
    """The fits of 1 .. max_k + 1 components (``selection.sweep``, by default from
    ``DEFAULT_INIT``): a Fit, or the reason a count cannot be fitted (more components than rows,
    a degenerate fit)."""
    from . import selection

    sweep_settings.setdefault("init", DEFAULT_INIT)
    cells = selection.sweep(X, range(1, max_k + 2), [covariance_type], jobs=jobs, **sweep_settings)
    return {c.k: Fit(c.k, c.params, c.log_likelihood) if c.error is None else c.error for c in cells}


def bootstrap_step(
    fit0: Fit,
    fit1: Fit,
    n_rows: int,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    refit: RefitSettings = RefitSettings(),
    jobs: int | None = 1,
    on_replicates: Callable[[int], None] | None = None,
) -> Step:
    """The bootstrap test of ``fit0`` (k components) against ``fit1`` (k + 1), on ``n_rows`` rows.

    ``on_replicates(m)`` is called as each batch of m replicates finishes. Raises FitFailed when a
    replicate's refits fail ``MAX_REDRAWS + 1`` times in a row.
    """
    if fit1.k != fit0.k + 1:
        raise ValueError(f"a test of {fit0.k} against {fit1.k} components: expected {fit0.k + 1}")
    jobs = available_cores() if jobs is None or jobs < 1 else int(jobs)
    batches = _batches(n_boot, jobs)
    work = [(fit0, fit1, n_rows, seed, list(b), refit) for b in batches]
    out = np.empty(n_boot)
    redraws = 0
    d = fit0.params.n_features
    for first, values, extra in parallel.unordered(
        _replicates, work, jobs, parallel.place_for(n_rows, d, jobs)
    ):
        out[first : first + len(values)] = values
        redraws += extra
        if on_replicates is not None:
            on_replicates(len(values))
    return Step(
        fit0.params.covariance_type, fit0.k, fit0.log_likelihood, fit1.log_likelihood, out, redraws, level
    )


def sequential(
    X: np.ndarray,
    covariance_type: str,
    *,
    max_k: int = DEFAULT_MAX_K,
    n_boot: int = DEFAULT_N_BOOT,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    run_all: bool = False,
    refit: RefitSettings = RefitSettings(),
    jobs: int | None = None,
    fits: dict[int, Fit | str] | None = None,
    on_replicates: Callable[[int, int], None] | None = None,
    **sweep_settings,
) -> Result:
    """mclust's sequential bootstrap LRT: k = 1 vs 2, 2 vs 3, ... up to max_k vs max_k + 1.

    Stops at the first k not rejected at ``level`` (the answer), unless ``run_all``. ``fits``
    (k -> Fit or a reason) replaces the observed fits (``observed_fits``, with ``seed``,
    ``refit``'s EM settings and ``sweep_settings``: n_init, init). ``on_replicates(k, m)``: m
    more replicates of test k done.
    A count that cannot be fitted ends the sequence there (``Result.stopped``); FitFailed when no
    test can be run at all.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or len(X) < 2:
        raise DataError(f"the test needs at least 2 rows of data, got shape {X.shape}")
    check_test_settings(n_boot, level, max_k)
    refit.check()
    if fits is None:
        tol = observed_tolerance(X, covariance_type, refit)
        fits = observed_fits(
            X,
            covariance_type,
            max_k,
            jobs=jobs,
            seed=seed,
            tol=tol,
            reg_covar=refit.reg_covar,
            max_iter=refit.max_iter,
            **sweep_settings,
        )
    steps: list[Step] = []
    chosen, stopped = None, None
    for k in range(1, max_k + 1):
        fit0, fit1 = fits.get(k), fits.get(k + 1)
        bad = next(((j, f) for j, f in ((k, fit0), (k + 1, fit1)) if not isinstance(f, Fit)), None)
        if bad is not None:
            stopped = f"{bad[0]} component{'s' if bad[0] > 1 else ''} cannot be fitted: {bad[1]}"
            break
        progress = None if on_replicates is None else (lambda m, k=k: on_replicates(k, m))
        step = bootstrap_step(
            fit0, fit1, len(X), n_boot=n_boot, level=level, seed=seed, refit=refit, jobs=jobs,
            on_replicates=progress,
        )  # fmt: skip
        steps.append(step)
        if not step.rejected and chosen is None:
            chosen = k
            if not run_all:
                break
    if not steps:
        raise FitFailed(f"no test can be run: {stopped}")
    return Result(steps, chosen, stopped)


# --- internals ----------------------------------------------------------------------------------


def observed_tolerance(X: np.ndarray, covariance_type: str, refit: RefitSettings) -> float:
    """The per-row tolerance of the observed fits: ``refit.tol``, else mclust's rule at the
    log-likelihood of the one-component fit (closed form: EM's first M-step)."""
    if refit.tol is not None:
        return refit.tol
    one = em.fit(X, 1, covariance_type=covariance_type, reg_covar=refit.reg_covar, max_iter=2, score=True)
    return refit.tol_for(one.log_likelihood, len(X))


def _batches(n_boot: int, jobs: int) -> list[range]:
    """Replicate numbers cut into batches: several per worker (an even load, a moving progress
    bar), at most 50 replicates each. The cut never changes a replicate's value."""
    size = max(1, min(50, math.ceil(n_boot / (8 * jobs))))
    return [range(a, min(n_boot, a + size)) for a in range(0, n_boot, size)]


def _replicates(fit0: Fit, fit1: Fit, n_rows: int, seed: int, numbers: list[int], refit: RefitSettings):
    """The bootstrap statistics of replicates ``numbers`` (consecutive) of the test of fit0.k:
    (first number, values, redraws)."""
    values, redraws = [], 0
    for b in numbers:
        for attempt in range(MAX_REDRAWS + 1):
            value = _one_replicate(
                fit0, fit1, n_rows, np.random.SeedSequence([seed, fit0.k, b, attempt]), refit
            )
            if value is not None:
                break
            redraws += 1
        else:
            raise FitFailed(
                f"bootstrap test of {fit0.k} vs {fit1.k} components: replicate {b + 1} could not be refitted "
                f"in {MAX_REDRAWS + 1} draws (components collapse: try fewer components or --reg-covar)"
            )
        values.append(value)
    return numbers[0], values, redraws


def _one_replicate(fit0: Fit, fit1: Fit, n_rows: int, seed_seq, refit: RefitSettings) -> float | None:
    """One bootstrap statistic, or None when a refit fails, is degenerate or is not finite (draw
    again)."""
    X, _ = density.sample(fit0.params, n_rows, np.random.default_rng(seed_seq))
    logliks = []
    for fit in (fit0, fit1):
        try:
            result = em.fit(
                X,
                fit.k,
                covariance_type=fit.params.covariance_type,
                tol=refit.tol_for(fit.log_likelihood, n_rows),
                reg_covar=refit.reg_covar,
                max_iter=refit.max_iter,
                init_params=fit.params,
                threads=1,
                score=True,
            )
        except (IllDefinedCovariance, ValueError, ArithmeticError):
            return None
        if result.degenerate:  # singular without reg_covar: mclust's EM gives NA there
            return None
        logliks.append(result.log_likelihood)
    value = statistic(*logliks)
    return value if math.isfinite(value) else None


def _builtin(value):
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


__all__ = [
    "DEFAULT_INIT",
    "DEFAULT_LEVEL",
    "DEFAULT_MAX_K",
    "DEFAULT_N_BOOT",
    "FIELDS",
    "Fit",
    "RefitSettings",
    "Result",
    "Step",
    "bootstrap_step",
    "check_test_settings",
    "observed_fits",
    "observed_tolerance",
    "p_value",
    "sequential",
    "statistic",
]
