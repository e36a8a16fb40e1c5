"""The fourteen covariance models against R mclust 6's ``me()``, and their constraints.

Reference: tests/reference/mclust_me.R -> mclust_me.json (R is never needed here). mclust's
``me(X, model, z0)`` runs an M-step from the membership matrix z0, then E-steps and M-steps; after
``iterations`` of them its parameters and log-likelihood belong together. gmmcli from the same z0:
the initial M-step (``starts``' one-hot path, here from z0), ``iterations - 1`` EM iterations, and
the log-likelihood of the parameters they return. reg_covar = 0, as mclust has none.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from gmmcli.engine import covariance, em
from gmmcli.engine.covariance import MODEL_NAMES
from gmmcli.engine.mstep import m_step
from gmmcli.engine.stats import resp_stats

REF = json.loads((ROOT / "tests" / "reference" / "mclust_me.json").read_text())
DATA = {
    name: pd.read_csv(ROOT / "tests" / "reference" / "data" / f"{name}.csv").to_numpy(float)
    for name in REF["datasets"]
}
# mclust's VVE M-step updates the common orientation as EVE's, ignoring the volumes, so it is not
# the likelihood's maximiser (mclust's EM even lowers the likelihood on diabetes, iris); gmmcli's
# is. Compared separately below.
EXACT = [r for r in REF["runs"] if r["control"] == "fixed20" and r["model"] != "VVE"]
# VEE and EVE: mclust stops their inner M-step loops on the change of the objective (tol[2]) and
# warm-starts them from the last EM iteration, which leaves its parameters up to ~1e-3 relative
# short of the M-step's fixed point, which gmmcli's iterations reach (tests/reference/README.md);
# their log-likelihoods still agree to 1e-6.
PARAMETER_RTOL = {"VEE": 2e-3, "EVE": 2e-3}


def _z0(run) -> np.ndarray:
    return np.asarray(REF["datasets"][run["dataset"]]["start"][str(run["k"])]["z"], dtype=float)


def _run(run, max_iter=None):
    X = DATA[run["dataset"]]
    start = m_step(resp_stats(X, _z0(run), X.mean(axis=0), run["model"]), 0.0)
    iterations = abs(run["iterations"]) - 1 if max_iter is None else max_iter
    fit = em.run_em(X, start, tol=0.0, reg_covar=0.0, max_iter=iterations) if iterations else None
    params = start if fit is None else fit.params
    return params, em.log_likelihood(X, params)


@pytest.mark.parametrize("run", EXACT, ids=[f"{r['dataset']}-{r['model']}-{r['k']}" for r in EXACT])
def test_same_numbers_as_mclust_me(run):
    params, loglik = _run(run)
    assert loglik == pytest.approx(run["loglik"], rel=1e-6)
    rtol = PARAMETER_RTOL.get(run["model"], 1e-5)
    np.testing.assert_allclose(params.weights, run["pro"], rtol=rtol, atol=1e-8)
    np.testing.assert_allclose(params.means, np.asarray(run["mean"]).T, rtol=rtol)
    k, d = params.n_components, params.n_features
    sigma = params.structure.matrices(params.covariances, k, d)
    np.testing.assert_allclose(sigma, np.asarray(run["sigma"]), rtol=rtol, atol=1e-8 * np.abs(sigma).max())


def test_parameter_counts_equal_nMclustParams():
    table = REF["nMclustParams"]
    checked = 0
    for d_text, by_model in table.items():
        for model, counts in by_model.items():
            for k, count in enumerate(counts, start=1):
                assert covariance.get(model).n_parameters(k, int(d_text)) == count
                checked += 1
    assert checked == 5 * 14 * 9


def test_vve_is_at_least_as_good_as_mclusts():
    runs = [r for r in REF["runs"] if r["model"] == "VVE" and r["control"] == "converged"]
    assert runs
    for run in runs:
        X = DATA[run["dataset"]]
        start = m_step(resp_stats(X, _z0(run), X.mean(axis=0), "VVE"), 0.0)
        fit = em.run_em(X, start, tol=1e-9, reg_covar=0.0, max_iter=5000)
        assert em.log_likelihood(X, fit.params) >= run["loglik"] - 1e-6 * abs(run["loglik"])


def _letters_hold(model: str, sigma: np.ndarray) -> None:
    """Each letter of the name, checked in the fitted covariances (k, d, d)."""
    k, d = sigma.shape[:2]
    volume, shape, orientation = model
    values, vectors = np.linalg.eigh(sigma)
    volumes = np.exp(np.mean(np.log(values), axis=1))  # det^(1/d)
    shapes = values / volumes[:, None]
    if volume == "E":
        np.testing.assert_allclose(volumes, np.full(k, volumes[0]), rtol=1e-9)
    if shape == "I":
        np.testing.assert_allclose(shapes, np.ones_like(shapes), rtol=1e-9)
    if orientation == "I":  # diagonal covariances
        off = sigma - np.einsum("kii->ki", sigma)[:, :, None] * np.eye(d)
        assert np.abs(off).max() <= 1e-12 * np.abs(sigma).max()
    if shape == "E":
        if orientation == "I":
            diag = np.einsum("kii->ki", sigma) / volumes[:, None]
            np.testing.assert_allclose(diag, np.broadcast_to(diag[0], diag.shape), rtol=1e-8)
        else:
            np.testing.assert_allclose(shapes, np.broadcast_to(shapes[0], shapes.shape), rtol=1e-8)
    if orientation == "E":  # the same eigenvectors: D^T Sigma_k D diagonal for every k
        rotated = np.swapaxes(vectors[0], 0, 1) @ sigma @ vectors[0]
        off = rotated - np.einsum("kii->ki", rotated)[:, :, None] * np.eye(d)
        assert np.abs(off).max() <= 1e-7 * np.abs(sigma).max()


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_constraints_hold_and_em_never_lowers_the_likelihood(model):
    X = DATA["iris"]
    start = em.initial_params(X, 3, model, init="kmeans", random_state=0, reg_covar=0.0)
    previous, params = -math.inf, start
    for _ in range(25):
        fit = em.run_em(X, params, tol=0.0, reg_covar=1e-6, max_iter=1)
        loglik = em.log_likelihood(X, fit.params)
        assert loglik >= previous - 1e-10 * abs(loglik)
        previous, params = loglik, fit.params
    assert params.covariance_type == covariance.get(model).name
    _letters_hold(model, params.structure.matrices(params.covariances, 3, X.shape[1]))
