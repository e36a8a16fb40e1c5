"""fit --noise: mclust's uniform noise component absorbs gross outliers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, read_csv_text

from gmmcli import load_model
from gmmcli.engine import density, em
from gmmcli.io.model_file import dump_sealed, load_plain

CENTRES = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])


def _blobs_with_outliers(path):
    """900 rows in three unit blobs, plus 45 (5%) uniform over a much larger square."""
    rng = np.random.default_rng(1)
    X = np.vstack([c + rng.standard_normal((300, 2)) for c in CENTRES])
    outliers = rng.uniform(-15, 20, (45, 2))
    pd.DataFrame(np.vstack([X, outliers]), columns=["x", "y"]).to_csv(path, index=False)
    return X, outliers


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from gmmcli.cli import run

    folder = tmp_path_factory.mktemp("noise")
    X, outliers = _blobs_with_outliers(folder / "data.csv")
    paths = {}
    for name, extra in (("plain", []), ("noise", ["--noise"])):
        paths[name] = folder / f"{name}.joblib"
        args = ["-q", "fit", str(folder / "data.csv"), "-k", "3", "--n-init", "3", "--seed", "0"]
        assert run(args + extra + ["-o", str(paths[name])]) == 0
    return folder / "data.csv", X, outliers, paths


def _centre_error(model) -> float:
    return max(float(np.min(np.linalg.norm(model.params.means - c, axis=1))) for c in CENTRES)


def test_noise_brings_the_means_closer_to_the_true_centres(fitted):
    _, _, _, paths = fitted
    plain, noisy = load_model(paths["plain"]), load_model(paths["noise"])
    assert _centre_error(noisy) < _centre_error(plain)
    assert _centre_error(noisy) < 0.2
    assert 0.02 < noisy.params.noise_weight < 0.08  # about the 5% put there


def test_outliers_get_the_noise_label(gmm, fitted):
    data, X, outliers, paths = fitted
    labels = read_csv_text(gmm("predict", paths["noise"], data).out)["label"].to_numpy()
    inliers, flagged = labels[: len(X)], labels[len(X) :]
    far = np.min(np.linalg.norm(outliers[:, None] - CENTRES[None], axis=2), axis=1) > 4
    assert far.sum() > 30
    assert np.all(flagged[far] == density.NOISE_LABEL)
    assert np.mean(inliers == density.NOISE_LABEL) < 0.01
    plain = read_csv_text(gmm("predict", paths["plain"], data).out)["label"]
    assert (plain >= 0).all()


def test_noise_counts_one_more_parameter(fitted):
    _, X, outliers, paths = fitted
    plain, noisy = load_model(paths["plain"]), load_model(paths["noise"])
    assert noisy.meta["n_parameters"] == plain.meta["n_parameters"] + 1 == 18  # mclust: VVV, k=3, d=2, noise
    n = len(X) + len(outliers)
    assert noisy.meta["bic"] == pytest.approx(-2 * noisy.meta["log_likelihood"] + 18 * np.log(n))
    assert noisy.meta["fit_settings"]["noise"] is True and "noise" not in plain.meta["fit_settings"]


def test_noise_density_and_proba(gmm, fitted):
    data, X, outliers, paths = fitted
    model = load_model(paths["noise"])
    p = model.params
    Z = np.vstack([X[:5], outliers[:5]])
    gauss = np.exp(density.log_gaussian_prob(Z, p)) @ p.weights
    volume = np.prod(p.noise_box[1] - p.noise_box[0])
    expected = np.log((1 - p.noise_weight) * gauss + p.noise_weight / volume)
    np.testing.assert_allclose(model.score_samples(Z), expected, rtol=1e-12)
    proba = read_csv_text(gmm("proba", paths["noise"], data).out)
    assert list(proba.columns) == ["p0", "p1", "p2", "p_noise"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    box = load_plain(paths["noise"])["noise_box"]
    np.testing.assert_allclose(box, [np.vstack([X, outliers]).min(0), np.vstack([X, outliers]).max(0)])
    assert load_plain(paths["noise"])["format_version"] == 2
    assert load_plain(paths["plain"])["format_version"] == 1


def test_sampling_draws_noise_points_inside_the_box(fitted):
    model = load_model(fitted[3]["noise"])
    Z, labels = model.sample(4000, seed=0)
    noise = labels == density.NOISE_LABEL
    low, high = model.params.noise_box
    assert abs(noise.mean() - model.params.noise_weight) < 0.02
    assert np.all((Z[noise] >= low) & (Z[noise] <= high))


def test_engine_noise_start_and_em_weight():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((200, 2)), rng.uniform(-20, 20, (20, 2))])
    box = np.stack([X.min(0), X.max(0)])
    res = em.fit(X, 1, seed=0, noise_box=box)
    assert res.params.has_noise and 0.03 < res.params.noise_weight < 0.15
    # the lower bound is the mean log-likelihood of the mixture with the noise (last E-step)
    after = em.run_em(X, res.params, max_iter=1)
    assert after.lower_bound == pytest.approx(np.mean(density.score_samples(X, res.params)), rel=1e-9)


def test_warm_start_keeps_the_noise(gmm, fitted, tmp_path):
    data, _, _, paths = fitted
    out = tmp_path / "warm.joblib"
    res = gmm("fit", data, "--init-model", paths["noise"], "--noise", "-o", out)
    assert res.code == 0 and "noise weight" in res.err
    assert load_model(out).params.noise_weight == pytest.approx(
        load_model(paths["noise"]).params.noise_weight, abs=0.01
    )
    res = gmm("fit", data, "--init-model", paths["noise"], "-o", out)
    assert res.code == 2 and "--noise" in res.err


def test_noise_needs_a_box_with_volume(gmm, tmp_path):
    (tmp_path / "flat.csv").write_text("x,y\n" + "".join(f"{i},1\n" for i in range(20)))
    out = tmp_path / "m.joblib"
    res = gmm("fit", tmp_path / "flat.csv", "-k", 1, "--noise", "-o", out)
    assert res.code == 65 and "bounding box" in res.err and not out.exists()


def test_noise_is_not_available_on_dask(gmm, tmp_path):
    res = gmm("fit", SAMPLE / "moons.csv", "--noise", "--engine", "dask", "-o", tmp_path / "m.joblib")
    assert res.code == 2 and "--engine dask" in res.err


@pytest.mark.parametrize(
    "change", [{"noise_weight": 1.5}, {"noise_box": np.zeros((2, 2))}, {"noise_box": np.zeros((3, 2))}]
)
def test_damaged_noise_is_refused(gmm, fitted, tmp_path, change):
    data = load_plain(fitted[3]["noise"])
    data.update(change)
    dump_sealed(data, tmp_path / "bad.joblib")
    res = gmm("score", tmp_path / "bad.joblib", fitted[0])
    assert res.code == 65 and "noise" in res.err
