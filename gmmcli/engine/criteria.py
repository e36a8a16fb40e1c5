"""Information criteria, in one place (scikit-learn's sign: lower is better).

``aic = -2 log L + 2 p`` and ``bic = -2 log L + p log n``, where p is the model's parameter
count (mclust's ``nMclustParams``) and n the sum of the row weights; mclust's BIC is the same
number with the opposite sign.
"""

from __future__ import annotations

import math


def aic(log_likelihood: float, n_parameters: int) -> float:
    return -2.0 * float(log_likelihood) + 2.0 * n_parameters


def bic(log_likelihood: float, n_parameters: int, n_eff: float) -> float:
    return -2.0 * float(log_likelihood) + n_parameters * math.log(n_eff)
