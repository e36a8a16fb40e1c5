"""Gaussian mixture densities from stored parameters, in numpy alone.

This is the scoring path (predict, proba, score, sample): it must not import scikit-learn or
scipy, so that a pipeline calling gmmcli thousands of times does not pay their import cost.
The formulas follow scikit-learn's ``_gaussian_mixture.py`` operation for operation, so results
agree with ``GaussianMixture`` to rounding.
"""

from __future__ import annotations

import math

import numpy as np

from .params import MixtureParams


def log_gaussian_prob(X: np.ndarray, params: MixtureParams) -> np.ndarray:
    """log N(x_n | mu_k, Sigma_k) for every row and component, shape (n, k)."""
    d = X.shape[1]
    structure = params.structure
    log_det = structure.log_det(params.precisions_cholesky, d)
    maha = structure.maha(X, params.means, params.precisions_cholesky)
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
    start = 0
    for i, c in enumerate(counts):
        X[start : start + c] = (
            params.structure.draw(z[start : start + c], params.covariances, i) + params.means[i]
        )
        start += c
    order = rng.permutation(n_samples)
    return X[order], labels[order]
