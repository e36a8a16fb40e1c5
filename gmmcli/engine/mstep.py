"""The M-step: parameters from summed statistics, with scikit-learn's conventions.

The covariance part belongs to the model (``covariance.models``): the structure turns the
moments into each component's scatter covariance, the model regularises and constrains it.
"""

from __future__ import annotations

import numpy as np

from . import covariance
from .params import ILL_DEFINED_COVARIANCE, IllDefinedCovariance, MixtureParams, with_noise
from .stats import SuffStats

_EPS64 = float(np.finfo(np.float64).eps)


def m_step(stats: SuffStats, reg_covar: float, *, initial: bool = False) -> MixtureParams:
    """Parameters from summed statistics, with scikit-learn's formulas and conventions.

    As in scikit-learn, N_k gets 10 * eps added, covariances get ``reg_covar`` on the diagonal,
    and the weights are N_k / sum(N_k), except for the initialisation (``initial=True``) where
    scikit-learn divides by the number of rows (here: the total weight). Variances that are only
    rounding noise become exactly zero before ``reg_covar`` is added, so rounding can never make
    them negative. Raises IllDefinedCovariance when a covariance is not positive definite.
    """
    if stats.moments is None:
        raise ValueError("these statistics carry no moments")
    model = covariance.get(stats.covariance_type)
    n_sum = stats.nk
    nk = n_sum + 10.0 * _EPS64
    m = stats.s1 / nk[:, None]  # means measured from the shift
    means = stats.shift + m
    corr = 2.0 - n_sum / nk  # sum r (x - m)(x - m)^T / nk = S2 / nk - corr m m^T (exactly)
    if not np.all(np.isfinite(stats.moments)):
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE)
    scatter = model.structure.scatter_covariance(stats, nk, m, corr)
    try:
        cov = model.covariances(scatter, nk, reg_covar)
        prec_chol = model.structure.precision_cholesky(cov)
    except ValueError:  # not positive definite, or a constrained estimate that does not exist
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE) from None
    weights = nk / stats.weight if initial else nk / nk.sum()
    params = MixtureParams(stats.covariance_type, weights, means, cov, prec_chol)
    if stats.noise is not None:  # the Gaussians' weights stay among themselves (see MixtureParams)
        params = with_noise(params, stats.noise_box, stats.noise / (stats.noise + nk.sum()))
    return params
