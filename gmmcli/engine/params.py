"""The parameters of a fitted mixture, shaped as scikit-learn shapes them, and their factorisation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import covariance
from .covariance import NotPositiveDefinite

ILL_DEFINED_COVARIANCE = (
    "some components have an ill-defined covariance (singleton or collapsed points): "
    "try fewer components (-k), a larger --reg-covar, or scaled data"
)


class IllDefinedCovariance(ValueError):
    """A covariance is not positive definite, so its precision cannot be factorised."""


@dataclass
class MixtureParams:
    """Weights (k,), means (k, d), covariances and precision factors in the model's structure.

    covariances / precisions_cholesky: full (k, d, d); tied (d, d); diag (k, d); spherical (k,).
    ``covariance_type`` is any name ``covariance.get`` knows; it is kept in the canonical form
    (scikit-learn's name for the four it has, mclust's for the others).
    """

    covariance_type: str
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray

    def __post_init__(self):
        self.covariance_type = covariance.get(self.covariance_type).name

    @property
    def model(self) -> covariance.CovarianceModel:
        return covariance.get(self.covariance_type)

    @property
    def structure(self):
        return self.model.structure

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])

    @classmethod
    def from_covariances(cls, covariance_type, weights, means, covariances) -> MixtureParams:
        """Build parameters, factorising the precisions from the covariances."""
        return cls(
            covariance_type, weights, means, covariances, precision_cholesky(covariances, covariance_type)
        )


def precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Upper factor U of each precision (precision = U U^T), as scikit-learn stores it."""
    try:
        return covariance.get(covariance_type).structure.precision_cholesky(covariances)
    except NotPositiveDefinite:
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE) from None


def log_det_cholesky(prec_chol: np.ndarray, covariance_type: str, n_features: int) -> np.ndarray:
    """log det of each precision factor, i.e. -1/2 log det of each covariance."""
    return covariance.get(covariance_type).structure.log_det(prec_chol, n_features)
