"""gmmcli fit: same model as scikit-learn for the same seed, deterministic files, clear failures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SAMPLE, load_xy
from sklearn.mixture import GaussianMixture

from gmmcli import load_model
from gmmcli.engine.covariance import SKLEARN_TYPES as COVARIANCE_TYPES


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_fit_equals_sklearn_with_same_seed(gmm, tmp_path, cov):
    out = tmp_path / "m.joblib"
    res = gmm(
        "fit",
        SAMPLE / "blobs.csv",
        "-k",
        4,
        "-t",
        cov,
        "--exclude",
        "id",
        "--seed",
        7,
        "--n-init",
        2,
        "-o",
        out,
    )
    assert res.code == 0, res.err
    X = load_xy("blobs.csv")
    ref = GaussianMixture(4, covariance_type=cov, random_state=7, n_init=2).fit(X)
    model = load_model(out)
    np.testing.assert_allclose(model.params.weights, ref.weights_, rtol=1e-8)
    np.testing.assert_allclose(model.params.means, ref.means_, rtol=1e-8)
    np.testing.assert_allclose(model.params.covariances, ref.covariances_, rtol=1e-8)
    assert model.meta["converged"] == ref.converged_
    assert model.meta["n_iter"] == ref.n_iter_
    np.testing.assert_allclose(model.meta["aic"], ref.aic(X), rtol=1e-10)
    np.testing.assert_allclose(model.meta["bic"], ref.bic(X), rtol=1e-10)
    assert model.feature_names == ["x", "y"]


def test_summary_on_stderr_and_nothing_on_stdout(gmm, tmp_path):
    res = gmm("fit", SAMPLE / "moons.csv", "-k", 2, "-o", tmp_path / "m.joblib")
    assert res.code == 0
    assert res.out == ""
    for word in ("2 components", "converged=True", "log-likelihood", "AIC", "BIC"):
        assert word in res.err


def test_quiet_fit_prints_nothing(gmm, tmp_path):
    res = gmm("-q", "fit", SAMPLE / "moons.csv", "-k", 2, "-o", tmp_path / "m.joblib")
    assert (res.code, res.out, res.err) == (0, "", "")


def test_fit_reads_stdin(gmm, tmp_path):
    text = (SAMPLE / "moons.csv").read_text()
    res = gmm("fit", "-", "-k", 2, "--seed", 0, "-o", tmp_path / "m.joblib", stdin=text)
    assert res.code == 0, res.err
    ref = GaussianMixture(2, random_state=0).fit(load_xy("moons.csv"))
    np.testing.assert_allclose(load_model(tmp_path / "m.joblib").params.means, ref.means_, rtol=1e-8)


def test_two_runs_are_byte_identical(gmm, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    outputs = []
    for run in ("a", "b"):
        model = tmp_path / f"{run}.joblib"
        assert gmm("fit", SAMPLE / "blobs.csv", "-k", 4, "-x", "id", "--seed", 1, "-o", model).code == 0
        res = gmm("proba", model, SAMPLE / "blobs.csv", "--keep", "id")
        outputs.append((model.read_bytes(), res.out))
    assert outputs[0] == outputs[1]
    assert load_model(tmp_path / "a.joblib").meta["created"].startswith("2023-11-14")


def test_columns_option_selects_features(gmm, tmp_path):
    out = tmp_path / "m.joblib"
    assert gmm("fit", SAMPLE / "blobs.csv", "-k", 2, "--columns", "x", "-o", out).code == 0
    assert load_model(out).feature_names == ["x"]


def test_model_records_its_provenance(gmm, tmp_path):
    out = tmp_path / "m.joblib"
    assert (
        gmm(
            "fit", SAMPLE / "blobs.csv", "-k", 3, "-x", "id", "--seed", 5, "--reg-covar", "1e-5", "-o", out
        ).code
        == 0
    )
    res = gmm("info", out, "--json")
    info = json.loads(res.out)
    assert info["fit_settings"] == {
        "n_components": 3,
        "covariance_type": "full",
        "tol": 1e-3,
        "reg_covar": 1e-5,
        "max_iter": 100,
        "n_init": 1,
        "init": "kmeans",
        "seed": 5,
        "weights": None,
        "dtype": "float64",
    }
    assert info["n_train_rows"] == 400
    assert info["feature_names"] == ["x", "y"]
    assert set(info["versions"]) >= {"gmmcli", "numpy", "scikit-learn"}
    assert info["data_fingerprint"].startswith("sha256:")
    q = info["train_log_density_quantiles"]
    assert q["0.0"] <= q["0.5"] <= q["1.0"]
    for key in ("converged", "n_iter", "log_likelihood", "aic", "bic", "lower_bound", "created"):
        assert key in info


def test_fingerprint_changes_with_the_data(gmm, tmp_path):
    a, b = tmp_path / "a.joblib", tmp_path / "b.joblib"
    assert gmm("fit", SAMPLE / "moons.csv", "-k", 2, "--seed", 0, "-o", a).code == 0
    assert gmm("fit", SAMPLE / "stretched.csv", "-k", 2, "--seed", 0, "-o", b).code == 0
    assert load_model(a).meta["data_fingerprint"] != load_model(b).meta["data_fingerprint"]


def test_non_convergence_warns_and_strict_fails(gmm, tmp_path):
    out = tmp_path / "m.joblib"
    res = gmm("fit", SAMPLE / "moons.csv", "-k", 8, "--max-iter", 1, "--tol", "1e-12", "-o", out)
    assert res.code == 0 and "did not converge" in res.err and out.exists()
    strict_out = tmp_path / "strict.joblib"
    res = gmm(
        "fit", SAMPLE / "moons.csv", "-k", 8, "--max-iter", 1, "--tol", "1e-12", "--strict", "-o", strict_out
    )
    assert res.code == 3
    assert res.err.startswith("error: EM did not converge") and res.err.count("\n") == 1
    assert not strict_out.exists()


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_degenerate_data_names_the_option_that_helps(gmm, tmp_path, cov):
    data = tmp_path / "flat.csv"
    data.write_text("a,b\n" + "1,2\n" * 30 + "5,6\n" * 30)
    X = np.array([[1.0, 2.0]] * 30 + [[5.0, 6.0]] * 30)
    if cov in ("full", "diag"):  # scikit-learn fails on it too; for tied and spherical it
        # returns variances of 1e-15 (rounding noise), which gmmcli refuses as well
        with pytest.raises(ValueError, match="ill-defined"):
            GaussianMixture(2, covariance_type=cov, reg_covar=0, random_state=0).fit(X)
    out = tmp_path / "m.joblib"
    res = gmm("fit", data, "-k", 2, "-t", cov, "--reg-covar", 0, "--seed", 0, "-o", out)
    assert res.code == 65
    assert "ill-defined covariance" in res.err and "--reg-covar" in res.err
    assert res.err.count("\n") == 1 and not out.exists()


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_reg_covar_rescues_collapsed_points_like_sklearn(gmm, tmp_path, cov):
    data = tmp_path / "flat.csv"
    data.write_text("a,b\n" + "1,2\n" * 30 + "5,6\n" * 30)
    out = tmp_path / "m.joblib"
    assert gmm("fit", data, "-k", 2, "-t", cov, "--seed", 0, "-o", out).code == 0
    X = np.array([[1.0, 2.0]] * 30 + [[5.0, 6.0]] * 30)
    ref = GaussianMixture(2, covariance_type=cov, random_state=0).fit(X)
    np.testing.assert_allclose(load_model(out).params.covariances, ref.covariances_, rtol=1e-6, atol=1e-12)
