"""Each component of a model described as mclust describes it: size, mean, and the volume /
shape / orientation decomposition of its covariance, Sigma_k = lambda_k D_k A_k D_k^T.

lambda = det(Sigma)^(1/d) (the volume), A = the eigenvalues of Sigma / lambda, sorted from the
largest (the shape: det A = 1), D = the matching unit eigenvectors, one per column (the
orientation; each column's sign chosen so that its largest entry in absolute value is positive).
numpy only.
"""

from __future__ import annotations

import numpy as np


def describe(model) -> list[dict]:
    """One JSON-ready dict per Gaussian component of ``model`` (a ``Model``), in component order:
    label, weight (its share of the mixture, the noise component's taken out), expected_rows
    (weight x training rows), mean, volume, shape, orientation (d x d, columns = axes)."""
    params = model.params
    k, d = params.n_components, params.n_features
    matrices = params.structure.matrices(params.covariances, k, d)
    weights = params.weights / params.weights.sum() * (1.0 - params.noise_weight)
    rows = model.meta.get("n_train_rows")
    out = []
    for j, label in enumerate(model.labels):
        volume, shape, orientation = decompose(matrices[j])
        out.append(
            {
                "label": int(label),
                "weight": float(weights[j]),
                "expected_rows": None if rows is None else float(weights[j] * rows),
                "mean": params.means[j].tolist(),
                "volume": volume,
                "shape": shape.tolist(),
                "orientation": orientation.tolist(),
            }
        )
    return out


def decompose(sigma: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(lambda, A, D) of one covariance matrix: volume, shape (decreasing), orientation."""
    d = sigma.shape[0]
    values, vectors = np.linalg.eigh((sigma + sigma.T) / 2)
    order = np.argsort(values)[::-1]
    values, vectors = values[order], vectors[:, order]
    volume = float(np.exp(np.sum(np.log(values)) / d))  # det^(1/d), without overflow
    top = np.argmax(np.abs(vectors), axis=0)
    vectors = vectors * np.sign(vectors[top, np.arange(d)])
    return volume, values / volume, vectors
