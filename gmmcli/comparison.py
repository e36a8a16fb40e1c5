"""Two models side by side: their matched components, and how they label and score data.

The components are matched as ``alignment.match`` matches them. On data, the labels of the two
models are compared by the adjusted Rand index (Hubert and Arabie), from a contingency table
accumulated block by block, so the data is never held whole.
"""

from __future__ import annotations

import math

import numpy as np

from .alignment import match, same_features
from .engine import density

COMPONENT_FIELDS = (
    "label_a",
    "label_b",
    "distance",
    "weight_a",
    "weight_b",
    "weight_shift",
    "mean_shift",
)
SUMMARY_FIELDS = (
    "components_a",
    "components_b",
    "matched",
    "largest_distance",
    "noise_weight_a",
    "noise_weight_b",
    "rows",
    "adjusted_rand_index",
    "mean_log_likelihood_a",
    "mean_log_likelihood_b",
)


def components(a, b) -> list[dict]:
    """One record per component pair (label_a, label_b, Bhattacharyya distance, weight shift
    b - a, Euclidean distance between the means), then the unmatched ones with blanks."""
    same_features(a, b, "cannot compare")
    m = match(a, b)
    order = [a.feature_names.index(n) for n in b.feature_names]
    means_b = np.empty_like(b.params.means)
    means_b[:, order] = b.params.means  # b's means in a's feature order
    la, lb = a.labels, b.labels
    wa, wb = a.params.weights, b.params.weights
    rows = []
    for i, j, dist in zip(m.a_index, m.b_index, m.distance):
        rows.append(
            dict(
                label_a=int(la[i]),
                label_b=int(lb[j]),
                distance=float(dist),
                weight_a=float(wa[i]),
                weight_b=float(wb[j]),
                weight_shift=float(wb[j] - wa[i]),
                mean_shift=float(np.linalg.norm(means_b[j] - a.params.means[i])),
            )
        )
    rows.sort(key=lambda r: r["label_a"])
    blank = dict.fromkeys(COMPONENT_FIELDS)
    rows += [{**blank, "label_a": int(la[i]), "weight_a": float(wa[i])} for i in m.a_unmatched]
    rows += [{**blank, "label_b": int(lb[j]), "weight_b": float(wb[j])} for j in m.b_unmatched]
    return rows


class DataComparison:
    """The two models' labels and log-likelihoods over blocks of rows (``add``), summed."""

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.order_b = [a.feature_names.index(n) for n in b.feature_names]
        self.pairs: dict[tuple[int, int], int] = {}
        self.rows = 0
        self.loglik = [0.0, 0.0]

    def add(self, X: np.ndarray) -> None:
        """A block of rows, its columns in ``a``'s feature order."""
        labels = []
        for i, (model, Xm) in enumerate(((self.a, X), (self.b, X[:, self.order_b]))):
            wlp = density.weighted_log_prob(Xm, model.params)
            self.loglik[i] += float(np.sum(density.logsumexp_rows(wlp)))
            labels.append(model.label_rows(density.labels_of(wlp, model.params)))
        pair, count = np.unique(np.column_stack(labels), axis=0, return_counts=True)
        for (x, y), c in zip(pair.tolist(), count.tolist()):
            self.pairs[(x, y)] = self.pairs.get((x, y), 0) + c
        self.rows += len(X)

    def summary(self) -> dict:
        n = self.rows
        return dict(
            rows=n,
            adjusted_rand_index=adjusted_rand_index(self.pairs),
            mean_log_likelihood_a=self.loglik[0] / n if n else None,
            mean_log_likelihood_b=self.loglik[1] / n if n else None,
        )


def adjusted_rand_index(pairs: dict[tuple[int, int], int]) -> float:
    """The adjusted Rand index of two labellings from their contingency counts {(x, y): n}.

    1 for identical partitions (whatever the label names), about 0 for independent ones.
    """

    def pairs_of(counts) -> float:
        counts = np.asarray(list(counts), dtype=np.float64)
        return float(np.sum(counts * (counts - 1) / 2))

    rows, cols = {}, {}
    for (x, y), c in pairs.items():
        rows[x] = rows.get(x, 0) + c
        cols[y] = cols.get(y, 0) + c
    n = sum(pairs.values())
    index = pairs_of(pairs.values())
    sum_a, sum_b = pairs_of(rows.values()), pairs_of(cols.values())
    total = n * (n - 1) / 2
    if total == 0:
        return 1.0
    expected = sum_a * sum_b / total
    top = 0.5 * (sum_a + sum_b)
    if math.isclose(top, expected):  # both partitions trivial (one cluster, or all singletons)
        return 1.0
    return (index - expected) / (top - expected)


def summary(a, b, matched: list[dict], data: dict | None = None) -> dict:
    """One record: the component counts, matches, largest distance, noise and the data's numbers."""
    distances = [r["distance"] for r in matched if r["distance"] is not None]
    out = dict.fromkeys(SUMMARY_FIELDS)
    out.update(
        components_a=a.n_components,
        components_b=b.n_components,
        matched=len(distances),
        largest_distance=max(distances) if distances else None,
        noise_weight_a=a.params.noise_weight if a.params.has_noise else None,
        noise_weight_b=b.params.noise_weight if b.params.has_noise else None,
    )
    out.update(data or {})
    return out
