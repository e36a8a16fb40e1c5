"""From a feature matrix to a ``Model``: validation at the edge, EM, and the metadata to save."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from . import em
from .errors import DataError, FitFailed, UsageError
from .gaussian import COVARIANCE_TYPES, IllDefinedCovariance
from .model import Model, fit_metadata, training_metadata


DTYPES = ("float64", "float32")


@dataclass
class FitSettings:
    """The EM settings, named as scikit-learn names them; recorded in every model file."""

    n_components: int = 1
    covariance_type: str = "full"
    tol: float = 1e-3
    reg_covar: float = 1e-6
    max_iter: int = 100
    n_init: int = 1
    init: str = "kmeans"
    seed: int | None = None
    weights: str | None = None  # the --weights column, recorded for provenance
    dtype: str = "float64"

    def validate(self) -> "FitSettings":
        if self.n_components < 1:
            raise UsageError(f"-k must be at least 1, got {self.n_components}")
        if self.covariance_type not in COVARIANCE_TYPES:
            raise UsageError(f"unknown covariance type {self.covariance_type!r} (choose from {', '.join(COVARIANCE_TYPES)})")
        if self.init not in em.INIT_METHODS:
            raise UsageError(f"unknown --init {self.init!r} (choose from {', '.join(em.INIT_METHODS)})")
        if not (math.isfinite(self.tol) and math.isfinite(self.reg_covar)):
            raise UsageError("--tol and --reg-covar must be finite numbers")
        if self.tol < 0 or self.reg_covar < 0:
            raise UsageError("--tol and --reg-covar must not be negative")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise UsageError(f"--seed must be between 0 and {2**32 - 1}, got {self.seed}")
        if self.max_iter < 1 or self.n_init < 1:
            raise UsageError("--max-iter and --n-init must be at least 1")
        if self.dtype not in DTYPES:
            raise UsageError(f"unknown --dtype {self.dtype!r} (choose from {', '.join(DTYPES)})")
        return self


def _run_engine(engine_fit, data, settings: FitSettings, **extra) -> em.FitResult:
    """Call an engine's fit with the settings, named as the engines name them."""
    try:
        return engine_fit(
            data,
            settings.n_components,
            covariance_type=settings.covariance_type,
            tol=settings.tol,
            reg_covar=settings.reg_covar,
            max_iter=settings.max_iter,
            n_init=settings.n_init,
            init=settings.init,
            seed=settings.seed,
            **extra,
        )
    except IllDefinedCovariance as exc:
        raise FitFailed(f"fit failed: {exc}") from None


def fit_model(X: np.ndarray, feature_names: list[str], settings: FitSettings, *,
              sample_weight: np.ndarray | None = None, jobs: int = 1) -> tuple[Model, em.FitResult]:
    """Fit EM to ``X`` (restarts over ``jobs`` processes) and wrap the result for the model file."""
    settings.validate()
    if len(X) < settings.n_components:
        raise DataError(f"{len(X)} rows cannot fit {settings.n_components} components: need at least as many rows")
    result = _run_engine(em.fit, X, settings, sample_weight=sample_weight, jobs=jobs)
    meta = training_metadata(
        X,
        result.params,
        converged=result.converged,
        n_iter=result.n_iter,
        lower_bound=result.lower_bound,
        fit_settings=asdict(settings),
        feature_names=feature_names,
        sample_weight=sample_weight,
    )
    return Model(result.params, list(feature_names), meta), result


def fit_model_dask(runner, settings: FitSettings, *, init_params=None) -> tuple[Model, em.FitResult]:
    """Fit on a Dask cluster (``dask_engine.DaskRunner``) and record it like an in-memory fit.

    The log-likelihood, AIC and BIC are exact (a last pass over all partitions); the training
    log-density quantiles are estimated on the uniform sample of rows used for initialisation.
    """
    from . import dask_engine, gaussian

    settings.validate()
    result = _run_engine(dask_engine.fit, runner, settings, init_params=init_params)
    final = runner.stats(result.params, moments=False)
    sample = runner.last_sample if runner.last_sample is not None else runner.sample(dask_engine.INIT_SAMPLE_ROWS, settings.seed)[0]
    meta = fit_metadata(
        result.params,
        log_likelihood=final.loglik,
        n_eff=runner.weight,
        n_rows=runner.n_rows,
        log_densities=gaussian.score_samples(sample, result.params),
        data_fingerprint=runner.fingerprint,
        converged=result.converged,
        n_iter=result.n_iter,
        lower_bound=result.lower_bound,
        fit_settings={**asdict(settings), "engine": "dask"},
    )
    return Model(result.params, list(runner.names), meta), result
