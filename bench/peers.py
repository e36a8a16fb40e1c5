"""The other engines bench_engine.py times: scikit-learn, pomegranate and mlpack.

Each ``*_run(X, start, max_iter)`` runs EM from gmmcli's start (``MixtureParams``) with tol=0
and returns what ``*_value`` turns, outside the timing, into a number to compare with gmmcli's.
pomegranate and mlpack are optional (``pip install pomegranate mlpack`` into the benchmark's
environment; never project dependencies): ``available(name)`` says whether they import.
"""

from __future__ import annotations

import warnings

import numpy as np

#: pomegranate's name for a covariance structure (it has no tied covariance).
POMEGRANATE_TYPES = {"full": "full", "diag": "diag", "spherical": "sphere"}

#: mlpack's gmm_train: full or diagonal covariances only (diagonal_covariance=...).
MLPACK_TYPES = {"full": False, "diag": True}


def available(name: str) -> bool:
    """Whether the optional engine ``name`` ("pomegranate", "mlpack") imports here."""
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    try:
        return _version(name)
    except PackageNotFoundError:
        return "?"


def sklearn_run(X, start, max_iter):
    """GaussianMixture from ``start``; returns its lower bound (mean log-likelihood per row)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(tol=0.0, max_iter=max_iter, **start.sklearn_start())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    return gm.lower_bound_


def pomegranate_run(Xt, start, max_iter):
    """pomegranate's GeneralMixtureModel from ``start`` in Xt's dtype (a torch tensor);
    tol=-inf so that it runs exactly max_iter E-steps, check_data=False (its fastest path)."""
    import torch
    from pomegranate.distributions import Normal
    from pomegranate.gmm import GeneralMixtureModel

    dtype = {torch.float32: np.float32, torch.float64: np.float64}[Xt.dtype]
    kind = POMEGRANATE_TYPES[start.covariance_type]
    d = start.n_features
    covs = [np.asarray(c, dtype=dtype) for c in start.covariances]
    dists = [
        Normal(
            means=start.means[i].astype(dtype),
            covs=np.broadcast_to(covs[i], (d,) * max(covs[i].ndim, 1)).copy(),  # sphere: (d,)
            covariance_type=kind,
            check_data=False,
        )
        for i in range(start.n_components)
    ]
    model = GeneralMixtureModel(
        dists, priors=start.weights.astype(dtype), max_iter=max_iter, tol=-np.inf, check_data=False
    )
    return model.fit(Xt), Xt


def pomegranate_value(result) -> float:
    """Mean log-likelihood per row under pomegranate's final parameters (NaN if it broke)."""
    import torch

    model, Xt = result
    with torch.no_grad():
        return float(model.log_probability(Xt).mean())


def mlpack_run(X, k, diagonal: bool, max_iter: int):
    """mlpack's gmm_train: its own k-means start (it cannot take ours), tol=0."""
    import mlpack

    return mlpack.gmm_train(
        gaussians=k,
        input_=X,
        max_iterations=max_iter,
        tolerance=0.0,
        seed=1,
        kmeans_max_iterations=10,
        diagonal_covariance=diagonal,
    )
