"""The parameters of a fitted mixture, shaped as scikit-learn shapes them, and their factorisation."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import covariance
from .covariance import NotPositiveDefinite

ILL_DEFINED_COVARIANCE = (
    "some components have an ill-defined covariance (singleton or collapsed points): "
    "try fewer components (-k), a larger --reg-covar, or scaled data"
)


#: What a noise component adds to the parameter count: its weight and its volume V, which is
#: estimated from the data too. mclust 6.0.0's ``nMclustParams(..., noise = TRUE)`` adds 2, and
#: its ``mclustBIC`` counts them so (tests/reference/mclust_noise.json).
NOISE_PARAMETERS = 2


class IllDefinedCovariance(ValueError):
    """A covariance is not positive definite, so its precision cannot be factorised."""


@dataclass
class MixtureParams:
    """Weights (k,), means (k, d), covariances and precision factors in the model's structure.

    covariances / precisions_cholesky: full (k, d, d); tied (d, d); diag (k, d); spherical (k,).
    ``covariance_type`` is any name ``covariance.get`` knows; it is kept in the canonical form
    (scikit-learn's name for the four it has, mclust's for the others).

    An optional uniform noise component (mclust's ``noise``): ``noise_box`` (2, d) holds the
    lower and upper corners of the box whose volume V gives its density 1/V everywhere, and
    ``noise_weight`` its mixing weight. ``weights`` then stay the Gaussians' weights among
    themselves (summing to 1): the mixture is (1 - noise_weight) sum_k w_k N_k + noise_weight / V.
    """

    covariance_type: str
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    noise_weight: float = 0.0
    noise_box: np.ndarray | None = None

    def __post_init__(self):
        self.covariance_type = covariance.get(self.covariance_type).name

    @property
    def model(self) -> covariance.CovarianceModel:
        return covariance.get(self.covariance_type)

    @property
    def structure(self):
        return self.model.structure

    @property
    def has_noise(self) -> bool:
        return self.noise_box is not None

    @property
    def noise_log_density(self) -> float:
        """log(noise_weight / V): the noise component's weighted log-density, the same everywhere."""
        with np.errstate(divide="ignore"):
            return float(np.log(self.noise_weight)) - log_volume(self.noise_box)

    @property
    def n_parameters(self) -> int:
        """Free parameters (mclust's ``nMclustParams``): a noise component adds NOISE_PARAMETERS."""
        return self.model.n_parameters(self.n_components, self.n_features) + (
            NOISE_PARAMETERS if self.has_noise else 0
        )

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])

    def sklearn_start(self) -> dict:
        """GaussianMixture's arguments that start its EM from these parameters (the tests'
        and the benchmark's side-by-side runs)."""
        return dict(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            weights_init=self.weights,
            means_init=self.means,
            precisions_init=self.structure.sklearn_precisions(self.precisions_cholesky),
        )

    @classmethod
    def from_covariances(cls, covariance_type, weights, means, covariances) -> MixtureParams:
        """Build parameters, factorising the precisions from the covariances."""
        return cls(
            covariance_type, weights, means, covariances, precision_cholesky(covariances, covariance_type)
        )


def log_volume(box: np.ndarray) -> float:
    """log of the volume of the box (2, d): lower corner, upper corner."""
    return float(np.sum(np.log(box[1] - box[0])))


def with_noise(params: MixtureParams, box: np.ndarray, weight: float) -> MixtureParams:
    """The same Gaussians with a uniform noise component over ``box`` of weight ``weight``."""
    return replace(params, noise_weight=float(weight), noise_box=np.asarray(box, dtype=np.float64))


def precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Upper factor U of each precision (precision = U U^T), as scikit-learn stores it."""
    try:
        return covariance.get(covariance_type).structure.precision_cholesky(covariances)
    except NotPositiveDefinite:
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE) from None


def log_det_cholesky(prec_chol: np.ndarray, covariance_type: str, n_features: int) -> np.ndarray:
    """log det of each precision factor, i.e. -1/2 log det of each covariance."""
    return covariance.get(covariance_type).structure.log_det(prec_chol, n_features)
