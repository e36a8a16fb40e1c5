"""predict / proba / score agree with scikit-learn on the same parameters, for every covariance type."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLE, load_xy, read_csv_text
from sklearn.mixture import GaussianMixture

from gmmcli import load_model
from gmmcli.engine.covariance import SKLEARN_TYPES as COVARIANCE_TYPES

RTOL = 1e-10


@pytest.fixture(scope="module", params=COVARIANCE_TYPES)
def fitted(request, tmp_path_factory):
    """A model file fitted by gmmcli on the stretched blobs, and the sklearn twin of it."""
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("m") / f"{request.param}.joblib"
    assert (
        run(
            [
                "-q",
                "fit",
                str(SAMPLE / "stretched.csv"),
                "-k",
                "4",
                "-t",
                request.param,
                "--seed",
                "3",
                "-o",
                str(path),
            ]
        )
        == 0
    )
    return path, load_model(path).to_sklearn()


def test_predict_equals_sklearn(gmm, fitted):
    path, reference = fitted
    X = load_xy("stretched.csv")
    res = gmm("predict", path, SAMPLE / "stretched.csv")
    assert res.code == 0, res.err
    labels = read_csv_text(res.out)["label"].to_numpy()
    np.testing.assert_array_equal(labels, reference.predict(X))


def test_proba_equals_sklearn(gmm, fitted):
    path, reference = fitted
    X = load_xy("stretched.csv")
    res = gmm("proba", path, SAMPLE / "stretched.csv")
    assert res.code == 0, res.err
    frame = read_csv_text(res.out)
    assert list(frame.columns) == ["p0", "p1", "p2", "p3"]
    np.testing.assert_allclose(frame.to_numpy(), reference.predict_proba(X), rtol=RTOL, atol=1e-300)


def test_score_equals_sklearn(gmm, fitted):
    path, reference = fitted
    X = load_xy("stretched.csv")
    res = gmm("score", path, SAMPLE / "stretched.csv")
    assert res.code == 0, res.err
    np.testing.assert_allclose(read_csv_text(res.out)["log_density"], reference.score_samples(X), rtol=RTOL)


def test_api_equals_sklearn(fitted):
    path, reference = fitted
    model = load_model(path)
    X = load_xy("stretched.csv")
    np.testing.assert_array_equal(model.predict(X), reference.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(model.score_samples(X), reference.score_samples(X), rtol=RTOL)


def test_to_sklearn_is_a_working_estimator(fitted):
    path, reference = fitted
    X = load_xy("stretched.csv")
    assert isinstance(reference, GaussianMixture)
    assert reference.n_components == 4
    np.testing.assert_allclose(reference.score(X), load_model(path).score_samples(X).mean(), rtol=1e-12)
    draws, labels = reference.sample(50)  # sklearn's own sampler runs on our parameters
    assert draws.shape == (50, 2) and labels.shape == (50,)


def test_log_density_matches_hand_computed_gaussians():
    """An independent check: the mixture density written out with scipy's multivariate normal."""
    from scipy.stats import multivariate_normal

    from gmmcli.engine.density import score_samples
    from gmmcli.engine.params import MixtureParams

    weights = np.array([0.3, 0.7])
    means = np.array([[0.0, 1.0], [2.0, -1.0]])
    covs = np.array([[[1.0, 0.3], [0.3, 0.5]], [[2.0, -0.4], [-0.4, 1.0]]])
    params = MixtureParams.from_covariances("full", weights, means, covs)
    X = np.random.default_rng(0).normal(size=(25, 2)) * 2
    expected = np.log(sum(w * multivariate_normal(m, c).pdf(X) for w, m, c in zip(weights, means, covs)))
    np.testing.assert_allclose(score_samples(X, params), expected, rtol=1e-12)


def test_columns_matched_by_name_in_any_order(gmm, fitted, tmp_path):
    path, reference = fitted
    X = load_xy("stretched.csv")
    shuffled = tmp_path / "yx.csv"
    lines = ["note,y,x"] + [f"row{i},{float(y)!r},{float(x)!r}" for i, (x, y) in enumerate(X)]
    shuffled.write_text("\n".join(lines) + "\n")
    res = gmm("score", path, shuffled, "--keep", "note")
    assert res.code == 0, res.err
    frame = read_csv_text(res.out)
    assert list(frame.columns) == ["note", "log_density"]
    assert frame["note"].iloc[3] == "row3"
    np.testing.assert_allclose(frame["log_density"], reference.score_samples(X), rtol=RTOL)
