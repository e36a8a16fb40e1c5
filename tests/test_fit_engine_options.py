"""fit --weights, --dtype float32 and --jobs: the engine's options through the command line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE

from gmmcli import load_model


@pytest.fixture
def weighted_csv(tmp_path):
    """The stretched blobs with integer weights, and the same data with rows repeated."""
    frame = pd.read_csv(SAMPLE / "stretched.csv")
    w = np.random.default_rng(3).integers(1, 4, size=len(frame))
    weighted = tmp_path / "weighted.csv"
    frame.assign(n=w).to_csv(weighted, index=False)
    repeated = tmp_path / "repeated.csv"
    frame.loc[frame.index.repeat(w)].to_csv(repeated, index=False)
    return weighted, repeated, w


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_integer_weights_fit_like_repeated_rows(gmm, tmp_path, weighted_csv, cov):
    weighted, repeated, w = weighted_csv
    a, b = tmp_path / "a.joblib", tmp_path / "b.joblib"
    assert gmm("fit", weighted, "-k", 1, "-t", cov, "--weights", "n", "-o", a).code == 0
    assert gmm("fit", repeated, "-k", 1, "-t", cov, "-o", b).code == 0
    ma, mb = load_model(a), load_model(b)
    np.testing.assert_allclose(ma.params.means, mb.params.means, rtol=1e-10)
    np.testing.assert_allclose(ma.params.covariances, mb.params.covariances, rtol=1e-10)
    np.testing.assert_allclose(ma.meta["log_likelihood"], mb.meta["log_likelihood"], rtol=1e-10)
    np.testing.assert_allclose(ma.meta["bic"], mb.meta["bic"], rtol=1e-10)  # effective rows = sum of weights
    assert ma.meta["fit_settings"]["weights"] == "n" and ma.feature_names == ["x", "y"]


def test_weights_change_the_fit(gmm, tmp_path, weighted_csv):
    weighted, _, _ = weighted_csv
    a, b = tmp_path / "a.joblib", tmp_path / "b.joblib"
    assert gmm("fit", weighted, "-k", 4, "--weights", "n", "--seed", 0, "-o", a).code == 0
    assert gmm("fit", weighted, "-k", 4, "-x", "n", "--seed", 0, "-o", b).code == 0
    assert not np.allclose(load_model(a).params.weights, load_model(b).params.weights)


@pytest.mark.parametrize(
    "values, message",
    [("1,-1", "negative"), ("1,", "missing"), ("0,0", "sums to zero"), ("1,a", "not numeric")],
)
def test_bad_weights_are_clean_errors(gmm, tmp_path, values, message):
    first, second = values.split(",")
    data = tmp_path / "w.csv"
    data.write_text(f"x,y,n\n1,2,{first}\n3,4,{second}\n5,7,{first}\n")
    out = tmp_path / "m.joblib"
    res = gmm("fit", data, "--weights", "n", "-o", out)
    assert res.code == 65 and message in res.err and res.err.count("\n") == 1
    assert not out.exists()


def test_unknown_weights_column_is_a_usage_error(gmm, tmp_path):
    out = tmp_path / "m.joblib"
    res = gmm("fit", SAMPLE / "moons.csv", "--weights", "nope", "-o", out)
    assert res.code == 2 and "unknown --weights column 'nope'" in res.err and not out.exists()


def test_float32_is_close_to_float64(gmm, tmp_path):
    a, b = tmp_path / "a.joblib", tmp_path / "b.joblib"
    assert gmm("fit", SAMPLE / "stretched.csv", "-k", 4, "--seed", 2, "-o", a).code == 0
    assert gmm("fit", SAMPLE / "stretched.csv", "-k", 4, "--seed", 2, "--dtype", "float32", "-o", b).code == 0
    m64, m32 = load_model(a), load_model(b)
    assert m32.meta["fit_settings"]["dtype"] == "float32"
    np.testing.assert_allclose(m32.params.means, m64.params.means, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m32.meta["log_likelihood"], m64.meta["log_likelihood"], rtol=1e-4)


def test_jobs_do_not_change_the_result(gmm, tmp_path):
    a, b = tmp_path / "a.joblib", tmp_path / "b.joblib"
    args = ("fit", SAMPLE / "stretched.csv", "-k", 4, "--n-init", 3, "--seed", 5)
    assert gmm(*args, "--jobs", 1, "-o", a).code == 0
    assert gmm(*args, "--jobs", 2, "-o", b).code == 0
    np.testing.assert_array_equal(load_model(a).params.means, load_model(b).params.means)


@pytest.mark.parametrize(
    "args, message",
    [(["--dtype", "float16"], "unknown --dtype"), (["--jobs", "0"], "--jobs must be at least 1")],
)
def test_bad_engine_options(gmm, tmp_path, args, message):
    out = tmp_path / "m.joblib"
    res = gmm("fit", SAMPLE / "moons.csv", *args, "-o", out)
    assert res.code == 2 and message in res.err and not out.exists()
