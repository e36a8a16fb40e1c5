"""Every command works for every one of the fourteen covariance models.

fit (with --weights, --dtype float32), predict, proba, score, sample, plot, info, select --cv
and ``to_sklearn``, for each model, on iris (150 x 4).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, read_csv_text

from gmmcli import load_model
from gmmcli.engine import covariance, em
from gmmcli.engine.covariance import MODEL_NAMES

IRIS = ROOT / "tests" / "reference" / "data" / "iris.csv"
PLOTTED = ("EII", "VEI", "EEE", "EVE")  # one model per storage structure: the ellipses need only that


@pytest.fixture(scope="module")
def X():
    return pd.read_csv(IRIS).to_numpy(float)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_command_for_every_model(gmm, tmp_path, model, X):
    path = tmp_path / "m.joblib"
    fit = gmm("fit", IRIS, "-k", "3", "-t", model.lower(), "--seed", "0", "-o", path)
    assert fit.code == 0, fit.err
    m = load_model(path)
    unit = covariance.get(model)
    assert m.covariance_type == unit.name and m.meta["n_parameters"] == unit.n_parameters(3, 4)
    labels = read_csv_text(gmm("predict", path, IRIS).out)["label"].to_numpy()
    proba = read_csv_text(gmm("proba", path, IRIS).out).to_numpy()
    score = read_csv_text(gmm("score", path, IRIS).out)["log_density"].to_numpy()
    np.testing.assert_array_equal(labels, m.predict(X))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert score.sum() == pytest.approx(m.meta["log_likelihood"], rel=1e-10)

    sk = m.to_sklearn()  # scikit-learn's structural type, the same covariances
    assert sk.covariance_type == unit.structure.name
    np.testing.assert_array_equal(sk.predict(X), labels)
    np.testing.assert_allclose(sk.score_samples(X), score, rtol=1e-9)

    sample = gmm("sample", path, "-n", "50", "--seed", "1")
    assert sample.code == 0 and len(read_csv_text(sample.out)) == 50
    if model in PLOTTED:
        plot = gmm("plot", path, IRIS, "-o", tmp_path / "p.png")
        assert plot.code == 0 and (tmp_path / "p.png").stat().st_size > 1000, plot.err
    info = json.loads(gmm("info", path, "--json").out)
    assert info["covariance_type"] == unit.name


@pytest.mark.parametrize("model", ["VEI", "EVE", "VEV", "EEI"])
def test_weights_and_float32(model, X):
    start = em.initial_params(X, 3, model, init="kmeans", random_state=0)
    plain = em.run_em(X, start, tol=1e-8, max_iter=50)
    ones = em.run_em(X, start, sample_weight=np.ones(len(X)), tol=1e-8, max_iter=50)
    np.testing.assert_allclose(ones.params.means, plain.params.means, rtol=1e-10)
    rep = np.r_[X, X[:30]]
    w = np.ones(len(X))
    w[:30] = 2.0
    start_rep = em.initial_params(rep, 3, model, init="kmeans", random_state=0)
    weighted = em.run_em(X, start_rep, sample_weight=w, tol=0, max_iter=10)
    repeated = em.run_em(rep, start_rep, tol=0, max_iter=10)
    np.testing.assert_allclose(weighted.params.covariances, repeated.params.covariances, rtol=1e-7)
    f32 = em.run_em(X.astype(np.float32), start, tol=1e-8, max_iter=50)
    np.testing.assert_allclose(f32.lower_bound, plain.lower_bound, rtol=1e-4)


def test_select_cv_over_constrained_models(gmm):
    r = gmm(
        "select",
        IRIS,
        "-k",
        "1-3",
        "-t",
        "VEV,EEI,evi",
        "--cv",
        "3",
        "--criterion",
        "cv",
        "--format",
        "json",
        "--jobs",
        "1",
    )
    assert r.code == 0, r.err
    grid = [json.loads(line) for line in r.out.splitlines()]
    assert [(c["model"], c["k"]) for c in grid] == [(m, k) for m in ("VEV", "EEI", "EVI") for k in (1, 2, 3)]
    assert all(isinstance(c["cv_log_likelihood"], float) for c in grid)
    assert all(c["covariance_type"] == c["model"] for c in grid)  # no scikit-learn name for these


def test_select_all_is_the_fourteen_with_both_names(gmm):
    r = gmm("select", IRIS, "-k", "2", "-t", "all", "--format", "json", "--jobs", "1")
    grid = [json.loads(line) for line in r.out.splitlines()]
    assert [c["model"] for c in grid] == list(MODEL_NAMES)
    names = {c["model"]: c["covariance_type"] for c in grid}
    assert (names["VVV"], names["EEE"], names["VVI"], names["VII"], names["VEV"]) == (
        "full",
        "tied",
        "diag",
        "spherical",
        "VEV",
    )
