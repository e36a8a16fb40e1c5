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

#: A component is degenerate when its covariance without ``reg_covar``, in units of the mixture's
#: own per-feature variances, has an eigenvalue at most this small: it sits on a lower-dimensional
#: set of rows (3 rows in 3 dimensions, say), a spurious maximum of the likelihood that only
#: ``reg_covar`` keeps finite. Rounding leaves ~1e-14 on a truly singular covariance; a genuine
#: component this flat would need a condition number of 1e10 against the data's own spread.
DEGENERATE_EIGENVALUE = 1e-10


def m_step(
    stats: SuffStats, reg_covar: float, *, initial: bool = False, previous: MixtureParams | None = None
) -> MixtureParams:
    """Parameters from summed statistics, with scikit-learn's formulas and conventions.

    As in scikit-learn, N_k gets 10 * eps added, covariances get ``reg_covar`` on the diagonal,
    and the weights are N_k / sum(N_k), except for the initialisation (``initial=True``) where
    scikit-learn divides by the number of rows (here: the total weight). Variances that are only
    rounding noise become exactly zero before ``reg_covar`` is added, so rounding can never make
    them negative. Raises IllDefinedCovariance when a covariance is not positive definite.
    ``previous`` (the last iteration's parameters) warm-starts the iterative constrained M-steps
    (VEE, EVE, VVE) as mclust's EM does; their result is the same to the inner tolerance.
    """
    if stats.moments is None:
        raise ValueError("these statistics carry no moments")
    model = covariance.get(stats.covariance_type)
    nk, m, scatter = _scatter(stats, model)
    means = stats.shift + m
    try:
        warm = previous.covariances if previous is not None and previous.model is model else None
        cov = model.covariances(scatter, nk, reg_covar, stats.n_features, previous=warm)
        prec_chol = model.structure.precision_cholesky(cov)
    except ValueError:  # not positive definite, or a constrained estimate that does not exist
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE) from None
    weights = nk / stats.weight if initial else nk / nk.sum()
    params = MixtureParams(stats.covariance_type, weights, means, cov, prec_chol)
    if stats.noise is not None:  # the Gaussians' weights stay among themselves (see MixtureParams)
        params = with_noise(params, stats.noise_box, stats.noise / (stats.noise + nk.sum()))
    return params


def _scatter(stats: SuffStats, model):
    """(N_k + 10 eps, means from the shift, each component's scatter covariance in its layout)."""
    n_sum = stats.nk
    nk = n_sum + 10.0 * _EPS64
    m = stats.s1 / nk[:, None]
    corr = 2.0 - n_sum / nk  # sum r (x - m)(x - m)^T / nk = S2 / nk - corr m m^T (exactly)
    if not np.all(np.isfinite(stats.moments)):
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE)
    return nk, m, model.structure.scatter_covariance(stats, nk, m, corr)


def degenerate_components(stats: SuffStats, params: MixtureParams) -> tuple[str, ...]:
    """Why each degenerate component of the M-step from ``stats`` is degenerate (empty: none).

    The rule (``DEGENERATE_EIGENVALUE``): the component's covariance as the model estimates it
    without ``reg_covar``, scaled by the mixture's per-feature standard deviations (``params``,
    the fit those statistics gave), has an eigenvalue <= 1e-10. With a pooled covariance (EEE,
    EII, ...) a small component is not degenerate; its pooled estimate is what is tested.
    """
    model = params.model
    d = params.n_features
    nk, _, scatter = _scatter(stats, model)
    structure = model.structure
    try:
        # warm-started from the fit itself: the same basin, and a few inner steps instead of a cold start
        cov0 = model.covariances(scatter, nk, 0.0, d, previous=params.covariances)
        cov0 = structure.matrices(cov0, params.n_components, d)
    except ValueError:  # the constrained estimate does not even exist without reg_covar
        return ("the covariances are singular without reg_covar",)
    cov = structure.matrices(params.covariances, params.n_components, d)
    w = params.weights / params.weights.sum()
    mean = w @ params.means
    spread = np.einsum("k,kii->i", w, cov) + w @ (params.means - mean) ** 2
    scale = 1.0 / np.sqrt(np.maximum(spread, np.finfo(np.float64).tiny))
    lowest = np.linalg.eigvalsh(cov0 * scale[:, None] * scale[None, :])[:, 0]
    return tuple(
        f"component {i} holds {stats.nk[i]:.1f} rows in {d} dimensions: its covariance is singular "
        "without reg_covar"
        for i in np.flatnonzero(~(lowest > DEGENERATE_EIGENVALUE))
    )
