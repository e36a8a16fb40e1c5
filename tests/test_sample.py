"""gmmcli sample: N rows under the model's feature names, reproducible, distributed as the model says."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import read_csv_text

from gmmcli.engine.covariance import SKLEARN_TYPES as COVARIANCE_TYPES
from gmmcli.engine.density import sample
from gmmcli.engine.params import MixtureParams
from gmmcli.model import Model, save_model

WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[0.0, 0.0, 0.0], [6.0, -3.0, 1.0], [-4.0, 5.0, 10.0]])
FULL = np.array(
    [
        [[2.0, 0.8, 0.3], [0.8, 1.0, -0.2], [0.3, -0.2, 0.5]],
        [[1.0, -0.6, 0.0], [-0.6, 1.5, 0.4], [0.0, 0.4, 0.7]],
        [[0.3, 0.1, 0.05], [0.1, 0.4, 0.0], [0.05, 0.0, 2.5]],
    ]
)
COVARIANCES = {
    "full": FULL,
    "tied": FULL[0],
    "diag": np.array([[2.0, 1.0, 0.5], [1.0, 1.5, 0.7], [0.3, 0.4, 2.5]]),
    "spherical": np.array([1.0, 0.25, 2.0]),
}


def known_params(covariance_type: str) -> MixtureParams:
    return MixtureParams.from_covariances(
        covariance_type, WEIGHTS.copy(), MEANS.copy(), COVARIANCES[covariance_type]
    )


def full_covariance(params: MixtureParams, k: int) -> np.ndarray:
    """Component k's covariance as a (d, d) matrix, whatever the storage type."""
    cov, d = params.covariances, params.n_features
    return {
        "full": lambda: cov[k],
        "tied": lambda: cov,
        "diag": lambda: np.diag(cov[k]),
        "spherical": lambda: cov[k] * np.eye(d),
    }[params.covariance_type]()


@pytest.fixture
def model_file(tmp_path):
    def make(covariance_type="full", names=("a", "b", "c")) -> str:
        path = tmp_path / f"known-{covariance_type}.joblib"
        save_model(Model(known_params(covariance_type), list(names), {}), path)
        return str(path)

    return make


def assert_matches_model(X: np.ndarray, labels: np.ndarray, params: MixtureParams) -> None:
    """Weights, means and covariances of the draws agree with the parameters within 5 standard errors."""
    n = len(X)
    counts = np.bincount(labels, minlength=params.n_components)
    se_w = np.sqrt(params.weights * (1 - params.weights) / n)
    assert np.all(np.abs(counts / n - params.weights) < 5 * se_w)
    for k in range(params.n_components):
        Xk, nk, cov = X[labels == k], counts[k], full_covariance(params, k)
        se_mean = np.sqrt(np.diag(cov) / nk)
        assert np.all(np.abs(Xk.mean(axis=0) - params.means[k]) < 5 * se_mean), k
        # Var of a sample covariance entry for Gaussian data: (S_ii S_jj + S_ij^2) / n
        se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / nk)
        assert np.all(np.abs(np.cov(Xk, rowvar=False) - cov) < 5 * se_cov), k
    # and the mixture as a whole: mean sum_k w_k mu_k
    overall = params.weights @ params.means
    total_cov = sum(
        params.weights[k]
        * (full_covariance(params, k) + np.outer(params.means[k] - overall, params.means[k] - overall))
        for k in range(params.n_components)
    )
    assert np.all(np.abs(X.mean(axis=0) - overall) < 5 * np.sqrt(np.diag(total_cov) / n))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_library_draws_follow_the_parameters(covariance_type):
    params = known_params(covariance_type)
    X, labels = sample(params, 20_000, np.random.default_rng(7))
    assert X.shape == (20_000, 3) and labels.shape == (20_000,)
    assert_matches_model(X, labels, params)


def test_cli_draws_follow_the_parameters(gmm, model_file):
    r = gmm("sample", model_file("full"), "-n", "20000", "--seed", "11", "--with-component")
    assert r.code == 0, r.err
    frame = read_csv_text(r.out)
    assert_matches_model(
        frame[["a", "b", "c"]].to_numpy(), frame["component"].to_numpy(), known_params("full")
    )


def test_writes_n_rows_under_the_feature_names(gmm, model_file):
    r = gmm("sample", model_file(names=("height", "weight", "age")), "-n", "7", "--seed", "1")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "height,weight,age"
    assert len(lines) == 8
    assert np.isfinite(read_csv_text(r.out).to_numpy()).all()
    assert r.err == ""


def test_with_component_adds_the_component_column(gmm, model_file):
    r = gmm("sample", model_file(), "-n", "50", "--seed", "1", "--with-component")
    frame = read_csv_text(r.out)
    assert list(frame.columns) == ["a", "b", "c", "component"]
    assert set(frame["component"]) <= {0, 1, 2}


def test_rows_are_shuffled_not_grouped_by_component(gmm, model_file):
    r = gmm("sample", model_file(), "-n", "300", "--seed", "2", "--with-component")
    component = read_csv_text(r.out)["component"].to_numpy()
    changes = np.count_nonzero(np.diff(component))
    assert changes > 50  # grouped output would change component only twice


def test_same_seed_gives_identical_files_and_another_seed_does_not(gmm, model_file, tmp_path):
    model = model_file()
    paths = [tmp_path / name for name in ("one.csv", "two.csv", "three.csv")]
    for path, seed in zip(paths, ("5", "5", "6")):
        r = gmm("sample", model, "-n", "100", "--seed", seed, "-o", path)
        assert r.code == 0 and r.out == "", r.err
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_sample_seed_is_independent_of_the_fit_seed(gmm, tmp_path):
    data = "\n".join(["x,y"] + [f"{i % 7},{(i * 3) % 11}" for i in range(60)]) + "\n"
    outputs = []
    for fit_seed in ("1", "2"):
        model = tmp_path / f"m{fit_seed}.joblib"
        assert gmm("fit", "-", "-k", "1", "--seed", fit_seed, "-o", model, stdin=data).code == 0
        outputs.append(gmm("sample", model, "-n", "20", "--seed", "3").out)
    assert outputs[0] == outputs[1]  # one component: the fit is the same, so the draw must be too


@pytest.mark.parametrize("fmt, sep", [("tsv", "\t"), ("csv", ",")])
def test_formats(gmm, model_file, fmt, sep):
    r = gmm("sample", model_file(), "-n", "3", "--seed", "0", "--format", fmt)
    assert r.code == 0
    assert r.out.splitlines()[0] == sep.join(["a", "b", "c"])


def test_json_is_one_object_per_line(gmm, model_file):
    r = gmm("sample", model_file(), "-n", "4", "--seed", "0", "--with-component", "-f", "json")
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert len(rows) == 4
    assert set(rows[0]) == {"a", "b", "c", "component"} and isinstance(rows[0]["component"], int)


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["-n", "0"], 2, "-n must be at least 1"),
        (["-n", "-3"], 2, "-n must be at least 1"),
        (["-n", "3", "--format", "xml"], 2, "unknown format 'xml'"),
        ([], 2, "Missing option"),
    ],
)
def test_bad_options(gmm, model_file, args, code, message):
    r = gmm("sample", model_file(), *args)
    assert r.code == code
    assert r.out == ""
    assert r.err.startswith("error: ") and message in r.err and len(r.err.strip().splitlines()) == 1


def test_missing_model_is_66(gmm, tmp_path):
    r = gmm("sample", tmp_path / "nope.joblib", "-n", "3")
    assert r.code == 66 and "does not exist" in r.err


def test_output_folder_missing_is_73(gmm, model_file, tmp_path):
    r = gmm("sample", model_file(), "-n", "3", "-o", tmp_path / "no" / "such.csv")
    assert r.code == 73 and r.err.startswith("error: ")


def test_component_name_clash_is_a_usage_error(gmm, model_file):
    r = gmm("sample", model_file(names=("a", "component", "c")), "-n", "3", "--with-component")
    assert r.code == 2 and "component" in r.err
    assert gmm("sample", model_file(names=("a", "component", "c")), "-n", "3").code == 0
