"""mclust's fitted parameters (as the tests/reference JSON stores them) as gmmcli's MixtureParams."""

from __future__ import annotations

import numpy as np

from gmmcli.engine import covariance
from gmmcli.engine.params import MixtureParams


def mclust_params(model: str, fit: dict) -> MixtureParams:
    """``fit``: pro (k), mean (d rows x k columns), sigma (k d x d matrices) of mclust ``model``."""
    unit = covariance.get(model)
    sigma = np.array(fit["sigma"], dtype=float).reshape(len(fit["pro"]), *np.shape(fit["sigma"])[-2:])
    storage = unit.structure.name
    if storage == "full":
        cov = sigma
    elif storage == "tied":
        cov = sigma[0]
    elif storage == "diag":
        cov = np.array([np.diag(s) for s in sigma])
    else:
        cov = sigma[:, 0, 0].copy()
    weights = np.atleast_1d(np.array(fit["pro"], dtype=float))
    means = np.array(fit["mean"], dtype=float).T
    return MixtureParams.from_covariances(unit.name, weights, means, cov)
