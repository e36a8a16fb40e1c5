"""From a feature matrix to a ``Model``: validation at the edge, EM, and the metadata to save."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from . import em
from .errors import DataError, FitFailed, UsageError
from .gaussian import COVARIANCE_TYPES, IllDefinedCovariance
from .model import Model, training_metadata


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
        if self.tol < 0 or self.reg_covar < 0:
            raise UsageError("--tol and --reg-covar must not be negative")
        if self.max_iter < 1 or self.n_init < 1:
            raise UsageError("--max-iter and --n-init must be at least 1")
        if self.dtype not in DTYPES:
            raise UsageError(f"unknown --dtype {self.dtype!r} (choose from {', '.join(DTYPES)})")
        return self


def fit_model(X: np.ndarray, feature_names: list[str], settings: FitSettings, *,
              sample_weight: np.ndarray | None = None, jobs: int = 1) -> tuple[Model, em.FitResult]:
    """Fit EM to ``X`` (restarts over ``jobs`` processes) and wrap the result for the model file."""
    settings.validate()
    if len(X) < settings.n_components:
        raise DataError(f"{len(X)} rows cannot fit {settings.n_components} components: need at least as many rows")
    try:
        result = em.fit(
            X,
            settings.n_components,
            covariance_type=settings.covariance_type,
            tol=settings.tol,
            reg_covar=settings.reg_covar,
            max_iter=settings.max_iter,
            n_init=settings.n_init,
            init=settings.init,
            seed=settings.seed,
            sample_weight=sample_weight,
            jobs=jobs,
        )
    except IllDefinedCovariance as exc:
        raise FitFailed(f"fit failed: {exc}") from None
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
