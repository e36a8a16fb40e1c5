"""Stable labels across refits: match the components of two models, and relabel one to the other.

Two components are compared by the Bhattacharyya distance between their Gaussians (on the
full covariance matrices, whatever the covariance model stores), and the components of two
models are paired by the assignment of least total distance (scipy's
``linear_sum_assignment``, imported only here). With different numbers of components, the
smaller number of pairs is made and the rest stay unmatched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import UsageError
from .model import Model


@dataclass
class Matching:
    """Pairs (a_index[i], b_index[i]) at ``distance[i]``, and the indices left unmatched."""

    a_index: np.ndarray
    b_index: np.ndarray
    distance: np.ndarray
    a_unmatched: list[int]
    b_unmatched: list[int]


def gaussians(model: Model, feature_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(means (k, d), covariance matrices (k, d, d)) with the features in the order given."""
    p = model.params
    order = [model.feature_names.index(name) for name in feature_names]
    covs = p.structure.matrices(p.covariances, p.n_components, p.n_features)
    return p.means[:, order], covs[:, order][:, :, order]


def bhattacharyya(means_a, covs_a, means_b, covs_b) -> np.ndarray:
    """(k_a, k_b) Bhattacharyya distances between Gaussians N(means_a[i], covs_a[i]) and N(b[j]).

    D = 1/8 (mu_a - mu_b)^T S^-1 (mu_a - mu_b) + 1/2 log(det S / sqrt(det S_a det S_b)),
    S = (S_a + S_b) / 2: zero for equal Gaussians, symmetric, finite for any covariances.
    """
    logdet_a = np.linalg.slogdet(covs_a)[1]
    logdet_b = np.linalg.slogdet(covs_b)[1]
    out = np.empty((len(means_a), len(means_b)))
    for i in range(len(means_a)):  # one row at a time: (k_b, d, d) at most in memory
        s = 0.5 * (covs_a[i] + covs_b)
        diff = means_a[i] - means_b
        maha = np.einsum("kd,kd->k", diff, np.linalg.solve(s, diff[:, :, None])[:, :, 0])
        out[i] = 0.125 * maha + 0.5 * (np.linalg.slogdet(s)[1] - 0.5 * (logdet_a[i] + logdet_b))
    return np.maximum(out, 0.0)  # rounding can leave -1e-16 for equal Gaussians


def same_features(a: Model, b: Model, what: str) -> None:
    """UsageError (exit 2) unless the two models have the same features (in any order)."""
    if set(a.feature_names) != set(b.feature_names) or len(a.feature_names) != len(b.feature_names):
        raise UsageError(
            f"{what}: the models have different features "
            f"({', '.join(a.feature_names)} vs {', '.join(b.feature_names)})"
        )


def match(a: Model, b: Model) -> Matching:
    """Pair the components of ``a`` with those of ``b`` at least total Bhattacharyya distance."""
    from scipy.optimize import linear_sum_assignment

    names = a.feature_names
    cost = bhattacharyya(*gaussians(a, names), *gaussians(b, names))
    rows, cols = linear_sum_assignment(cost)
    return Matching(
        rows,
        cols,
        cost[rows, cols],
        sorted(set(range(a.n_components)) - set(rows.tolist())),
        sorted(set(range(b.n_components)) - set(cols.tolist())),
    )


def permuted(params, order: np.ndarray):
    """The same mixture with its components in ``order``: weights, means, covariances and
    precision factors together (a tied covariance is shared, so it stays as it is)."""
    tied = params.structure.shared
    return replace(
        params,
        weights=params.weights[order],
        means=params.means[order],
        covariances=params.covariances if tied else params.covariances[order],
        precisions_cholesky=params.precisions_cholesky if tied else params.precisions_cholesky[order],
    )


def align(model: Model, reference: Model, reference_name: str = "") -> Model:
    """``model`` with its components labelled as ``reference``'s, and the matching recorded.

    Each component matched to a reference component takes that component's label; unmatched
    ones (``model`` has more components) take new labels after the reference's largest. The
    components are then stored in label order; when the labels are not 0..k-1 (``model`` has
    fewer components, or the reference had gaps) they are recorded as ``component_labels``.
    The metadata's ``alignment`` lists each component's label and its distance to its match.
    """
    same_features(reference, model, "cannot align")
    m = match(reference, model)
    ref_labels = reference.labels
    labels = np.empty(model.n_components, dtype=np.int64)
    labels[m.b_index] = ref_labels[m.a_index]
    fresh = int(ref_labels.max()) + 1
    for offset, j in enumerate(m.b_unmatched):
        labels[j] = fresh + offset
    distance = np.full(model.n_components, np.nan)
    distance[m.b_index] = m.distance
    order = np.argsort(labels, kind="stable")
    labels, distance = labels[order], distance[order]
    meta = {k: v for k, v in model.meta.items() if k != "component_labels"}
    if not np.array_equal(labels, np.arange(model.n_components)):
        meta["component_labels"] = [int(v) for v in labels]
    meta["alignment"] = {
        "reference": str(reference_name),
        "reference_fingerprint": reference.meta.get("data_fingerprint"),
        "reference_created": reference.meta.get("created"),
        "distance": "bhattacharyya",
        "components": [
            {"label": int(lab), "distance": None if np.isnan(dist) else float(dist)}
            for lab, dist in zip(labels, distance)
        ],
        "unmatched_reference_labels": [int(ref_labels[i]) for i in m.a_unmatched],
    }
    return Model(permuted(model.params, order), list(model.feature_names), meta)
