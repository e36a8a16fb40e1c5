"""The EM engine: fit a Gaussian mixture to an array.

Pure numpy on arrays; knows nothing of files or the command line. This first version delegates
the EM loop to scikit-learn's ``GaussianMixture`` (imported lazily); the engine issue replaces
it with blocked sufficient-statistics EM behind the same ``fit`` signature.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .gaussian import ILL_DEFINED_COVARIANCE, IllDefinedCovariance, MixtureParams

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data")


@dataclass
class FitResult:
    """A fitted mixture and how the fit went."""

    params: MixtureParams
    converged: bool
    n_iter: int
    lower_bound: float  # mean log-likelihood per row at the last E-step of the best init


def fit(
    X: np.ndarray,
    n_components: int,
    *,
    covariance_type: str = "full",
    tol: float = 1e-3,
    reg_covar: float = 1e-6,
    max_iter: int = 100,
    n_init: int = 1,
    init: str = "kmeans",
    seed: int | None = None,
) -> FitResult:
    """Fit by EM with scikit-learn's semantics for every setting; the best of n_init wins."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        tol=tol,
        reg_covar=reg_covar,
        max_iter=max_iter,
        n_init=n_init,
        init_params=init,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            gm.fit(X)
        except ValueError as exc:
            if "ill-defined empirical covariance" in str(exc):
                raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE) from None
            raise
    params = MixtureParams(
        covariance_type,
        gm.weights_,
        gm.means_,
        gm.covariances_,
        gm.precisions_cholesky_,
    )
    return FitResult(params, bool(gm.converged_), int(gm.n_iter_), float(gm.lower_bound_))
