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


#: The label ``predict`` gives rows the uniform noise component explains best.
NOISE_LABEL = -1


def weighted_log_prob(X: np.ndarray, params: MixtureParams) -> np.ndarray:
    """log(pi_k) + log N(x_n | k), shape (n, k); with a noise component, (n, k + 1), the last
    column log(noise_weight / V) and the Gaussians' weights scaled by 1 - noise_weight."""
    wlp = log_gaussian_prob(X, params) + np.log(params.weights)
    if not params.has_noise:
        return wlp
    with np.errstate(divide="ignore"):
        wlp += math.log1p(-params.noise_weight) if params.noise_weight < 1 else -math.inf
    return np.column_stack([wlp, np.full(len(X), params.noise_log_density)])


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
    """Posterior membership probabilities, shape (n, k) (noise last: (n, k + 1)); rows sum to 1."""
    wlp = weighted_log_prob(X, params)
    return np.exp(wlp - logsumexp_rows(wlp)[:, None])


def predict(X: np.ndarray, params: MixtureParams) -> np.ndarray:
    """Most probable component of each row (``NOISE_LABEL`` where the noise component is)."""
    return labels_of(weighted_log_prob(X, params), params)


def labels_of(wlp: np.ndarray, params: MixtureParams) -> np.ndarray:
    """The most probable component of each row of ``weighted_log_prob``; noise as NOISE_LABEL."""
    best = np.argmax(wlp, axis=1)
    if params.has_noise:
        best[best == params.n_components] = NOISE_LABEL
    return best


def sample(params: MixtureParams, n_samples: int, rng: np.random.Generator):
    """Draw points and their component labels, shuffled (scikit-learn groups by component).

    With a noise component, its points (label ``NOISE_LABEL``) are uniform over its box; a
    model without one draws exactly as before.
    """
    k, d = params.n_components, params.n_features
    weights = params.weights / params.weights.sum()
    if params.has_noise:
        weights = np.append(weights * (1.0 - params.noise_weight), params.noise_weight)
    counts = rng.multinomial(n_samples, weights)
    labels = np.repeat(np.append(np.arange(k), NOISE_LABEL)[: len(counts)], counts)
    z = rng.standard_normal((n_samples, d))
    X = np.empty((n_samples, d))
    start = 0
    for i, c in enumerate(counts[:k]):
        X[start : start + c] = (
            params.structure.draw(z[start : start + c], params.covariances, i) + params.means[i]
        )
        start += c
    if params.has_noise:
        low, high = params.noise_box
        X[start:] = low + rng.random((n_samples - start, d)) * (high - low)
    order = rng.permutation(n_samples)
    return X[order], labels[order]
