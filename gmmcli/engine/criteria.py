"""Information criteria, in one place (scikit-learn's sign: lower is better).

``aic = -2 log L + 2 p`` and ``bic = -2 log L + p log n``, where p is the model's parameter
count (mclust's ``nMclustParams``) and n the sum of the row weights; mclust's BIC is the same
number with the opposite sign.

``icl = bic + 2 E``, where E = -sum_n w_n log z_n,MAP is the entropy of the MAP classification
(z the responsibilities, MAP the most probable component of each row). mclust's ``icl()`` is
``bic + 2 sum C log z`` in its higher-is-better sign (C the 0/1 MAP matrix, 0 log 0 = 0): the same
number with the opposite sign. ICL penalises components that overlap.
"""

from __future__ import annotations

import math

import numpy as np

#: Rows per block when the classification entropy is summed (memory flat in the row count).
ENTROPY_BLOCK_ROWS = 65_536


def aic(log_likelihood: float, n_parameters: int) -> float:
    return -2.0 * float(log_likelihood) + 2.0 * n_parameters


def bic(log_likelihood: float, n_parameters: int, n_eff: float) -> float:
    return -2.0 * float(log_likelihood) + n_parameters * math.log(n_eff)


def icl(log_likelihood: float, n_parameters: int, n_eff: float, entropy: float) -> float:
    """BIC plus twice the classification entropy (``classification_entropy``, >= 0)."""
    return bic(log_likelihood, n_parameters, n_eff) + 2.0 * float(entropy)


def classification_entropy(X: np.ndarray, params, sample_weight: np.ndarray | None = None) -> float:
    """E = -sum_n w_n log z_n,MAP >= 0 under ``params`` (a ``MixtureParams``), block by block.

    log z_n,MAP is the largest log-responsibility of row n: max_k (log pi_k + log N_k) minus the
    row's log-density, so a row that one component owns entirely adds 0.
    """
    from .density import logsumexp_rows, weighted_log_prob

    total = 0.0
    for a in range(0, len(X), ENTROPY_BLOCK_ROWS):
        wlp = weighted_log_prob(np.asarray(X[a : a + ENTROPY_BLOCK_ROWS], dtype=np.float64), params)
        w = None if sample_weight is None else sample_weight[a : a + ENTROPY_BLOCK_ROWS]
        total += map_entropy(wlp - logsumexp_rows(wlp)[:, None], w)
    return max(total, 0.0)  # rounding can leave -1e-17 where every row is owned


def map_entropy(log_resp: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """-sum_n w_n max_k log z_nk of log-responsibilities (n, k): the MAP classification's entropy."""
    log_z_map = np.max(log_resp, axis=1)
    return -float(log_z_map.sum() if sample_weight is None else np.dot(sample_weight, log_z_map))
