"""Gaussian mixture densities from stored parameters, in numpy alone.

This is the scoring path (predict, proba, score, sample): it must not import scikit-learn or
scipy, so that a pipeline calling gmmcli thousands of times does not pay their import cost.
The formulas follow scikit-learn's ``_gaussian_mixture.py`` operation for operation, so results
agree with ``GaussianMixture`` to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

ILL_DEFINED_COVARIANCE = (
    "some components have an ill-defined covariance (singleton or collapsed points): "
    "try fewer components (-k), a larger --reg-covar, or scaled data"
)


class IllDefinedCovariance(ValueError):
    """A covariance is not positive definite, so its precision cannot be factorised."""


@dataclass
class MixtureParams:
    """The parameters of a fitted mixture, shaped as in scikit-learn.

    covariances / precisions_cholesky: full (k, d, d); tied (d, d); diag (k, d); spherical (k,).
    """

    covariance_type: str
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.means.shape[1])

    @classmethod
    def from_covariances(cls, covariance_type, weights, means, covariances) -> "MixtureParams":
        """Build parameters, factorising the precisions from the covariances."""
        return cls(
            covariance_type,
            weights,
            means,
            covariances,
            precision_cholesky(covariances, covariance_type),
        )


def n_parameters(n_components: int, n_features: int, covariance_type: str) -> int:
    """Free parameters of the mixture, as counted by scikit-learn for AIC/BIC."""
    k, d = n_components, n_features
    cov_params = {
        "full": k * d * (d + 1) / 2.0,
        "diag": k * d,
        "tied": d * (d + 1) / 2.0,
        "spherical": k,
    }[covariance_type]
    return int(cov_params + d * k + k - 1)


def precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Upper factor U of each precision (precision = U U^T), as scikit-learn stores it."""
    try:
        if covariance_type in ("full", "tied"):  # all components in one batched LAPACK call
            return np.swapaxes(_inverse_lower(np.linalg.cholesky(covariances)), -1, -2)
    except np.linalg.LinAlgError:
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE) from None
    if np.any(covariances <= 0.0):
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE)
    return 1.0 / np.sqrt(covariances)


def _inverse_lower(lower: np.ndarray) -> np.ndarray:
    """Inverse of lower-triangular Cholesky factors (..., d, d); numpy has no triangular solver."""
    eye = np.broadcast_to(np.eye(lower.shape[-1], dtype=lower.dtype), lower.shape)
    return np.tril(np.linalg.solve(lower, eye))


def log_det_cholesky(prec_chol: np.ndarray, covariance_type: str, n_features: int) -> np.ndarray:
    """log det of each precision factor, i.e. -1/2 log det of each covariance."""
    if covariance_type == "full":
        k = prec_chol.shape[0]
        return np.sum(np.log(prec_chol.reshape(k, -1)[:, :: n_features + 1]), axis=1)
    if covariance_type == "tied":
        return np.sum(np.log(np.diag(prec_chol)))
    if covariance_type == "diag":
        return np.sum(np.log(prec_chol), axis=1)
    return n_features * np.log(prec_chol)


def log_gaussian_prob(X: np.ndarray, params: MixtureParams) -> np.ndarray:
    """log N(x_n | mu_k, Sigma_k) for every row and component, shape (n, k)."""
    means, prec_chol, cov_type = params.means, params.precisions_cholesky, params.covariance_type
    n, d = X.shape
    k = means.shape[0]
    log_det = log_det_cholesky(prec_chol, cov_type, d)
    if cov_type in ("full", "tied"):
        maha = np.empty((n, k), dtype=np.result_type(X, means))
        for i in range(k):
            chol = prec_chol[i] if cov_type == "full" else prec_chol
            y = (X @ chol) - (means[i] @ chol)
            maha[:, i] = np.sum(np.square(y), axis=1)
    elif cov_type == "diag":
        precisions = prec_chol**2
        maha = (
            np.sum(means**2 * precisions, axis=1)
            - 2.0 * (X @ (means * precisions).T)
            + ((X**2) @ precisions.T)
        )
    else:
        precisions = prec_chol**2
        maha = (
            np.sum(means**2, axis=1) * precisions
            - 2 * (X @ means.T * precisions)
            + np.outer(np.einsum("ij,ij->i", X, X), precisions)
        )
    return -0.5 * (d * math.log(2 * math.pi) + maha) + log_det


def weighted_log_prob(X: np.ndarray, params: MixtureParams) -> np.ndarray:
    """log(pi_k) + log N(x_n | k), shape (n, k)."""
    return log_gaussian_prob(X, params) + np.log(params.weights)


def logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """log(sum(exp(a), axis=1)) without overflow, as scipy.special.logsumexp does it."""
    top = np.max(a, axis=1)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.sum(np.exp(a - top[:, None]), axis=1)) + top


def score_samples(X: np.ndarray, params: MixtureParams) -> np.ndarray:
    """Per-row log-density log p(x_n)."""
    return logsumexp_rows(weighted_log_prob(X, params))


def predict_proba(X: np.ndarray, params: MixtureParams) -> np.ndarray:
    """Posterior membership probabilities, shape (n, k); rows sum to 1."""
    wlp = weighted_log_prob(X, params)
    return np.exp(wlp - logsumexp_rows(wlp)[:, None])


def predict(X: np.ndarray, params: MixtureParams) -> np.ndarray:
    """Most probable component of each row."""
    return np.argmax(weighted_log_prob(X, params), axis=1)


def sample(params: MixtureParams, n_samples: int, rng: np.random.Generator):
    """Draw points and their component labels, shuffled (scikit-learn groups by component)."""
    k, d = params.n_components, params.n_features
    counts = rng.multinomial(n_samples, params.weights / params.weights.sum())
    labels = np.repeat(np.arange(k), counts)
    z = rng.standard_normal((n_samples, d))
    X = np.empty((n_samples, d))
    cov = params.covariances
    start = 0
    for i, c in enumerate(counts):
        block = z[start : start + c]
        if params.covariance_type == "full":
            block = block @ np.linalg.cholesky(cov[i]).T
        elif params.covariance_type == "tied":
            block = block @ np.linalg.cholesky(cov).T
        elif params.covariance_type == "diag":
            block = block * np.sqrt(cov[i])
        else:
            block = block * np.sqrt(cov[i])
        X[start : start + c] = block + params.means[i]
        start += c
    order = rng.permutation(n_samples)
    return X[order], labels[order]
