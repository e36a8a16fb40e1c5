"""fit --noise: mclust's uniform noise component absorbs gross outliers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, read_csv_text

from gmmcli import load_model
from gmmcli.engine import density, em
from gmmcli.engine.params import with_noise
from gmmcli.io.model_file import dump_sealed, load_plain

REFERENCE = ROOT / "tests" / "reference"
MCLUST = json.loads((REFERENCE / "mclust_noise.json").read_text())  # tests/reference/mclust_noise.R
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


def test_noise_counts_two_more_parameters_as_mclust(fitted):
    _, X, outliers, paths = fitted
    plain, noisy = load_model(paths["plain"]), load_model(paths["noise"])
    # mclust 6's nMclustParams("VVV", 2, 3, noise = TRUE) = 17 + 2: the noise weight and its volume
    assert noisy.meta["n_parameters"] == plain.meta["n_parameters"] + 2 == 19
    n = len(X) + len(outliers)
    assert noisy.meta["bic"] == pytest.approx(-2 * noisy.meta["log_likelihood"] + 19 * np.log(n))
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


def test_tied_noise_pools_only_the_gaussians_share():
    """With one component, tied (EEE) and full (VVV) are the same model, noise or not. The tied
    M-step pools the data scatter: it must weight each row by its share of the Gaussians, or the
    outliers the noise explains widen the covariance (BIC 3373 against mclust's 3290)."""
    X = np.loadtxt(REFERENCE / "data" / "noisy_blobs.csv", delimiter=",", skiprows=1)
    box = np.stack([X.min(0), X.max(0)])
    tied, full = (em.fit(X, 1, covariance_type=t, seed=0, noise_box=box, tol=1e-8) for t in ("tied", "full"))
    np.testing.assert_allclose(tied.params.covariances, full.params.covariances[0], rtol=1e-6)
    assert tied.params.noise_weight == pytest.approx(full.params.noise_weight, rel=1e-6)
    # and integer weights still fit like repeated rows
    w = np.random.default_rng(0).integers(1, 4, len(X))
    start = with_noise(em.initial_params(X, 2, "tied", init="kmeans", random_state=0), box, 0.05)
    weighted = em.run_em(X, start, sample_weight=w.astype(float))
    repeated = em.run_em(np.repeat(X, w, axis=0), start)
    np.testing.assert_allclose(weighted.params.covariances, repeated.params.covariances, rtol=1e-9)
    assert weighted.params.noise_weight == pytest.approx(repeated.params.noise_weight, rel=1e-9)


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


@pytest.mark.parametrize(
    "change", [{"noise_weight": 1.5}, {"noise_box": np.zeros((2, 2))}, {"noise_box": np.zeros((3, 2))}]
)
def test_damaged_noise_is_refused(gmm, fitted, tmp_path, change):
    data = load_plain(fitted[3]["noise"])
    data.update(change)
    dump_sealed(data, tmp_path / "bad.joblib")
    res = gmm("score", tmp_path / "bad.joblib", fitted[0])
    assert res.code == 65 and "noise" in res.err


# --- select --noise ------------------------------------------------------------------------------

NOISY = REFERENCE / "data" / "noisy_blobs.csv"  # 300 rows in three blobs, then 15 gross outliers
QUICK = ("--init", "kmeans", "--n-init", "2", "--seed", "0")


def _records(text):
    import json

    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture(scope="module")
def noisy_grid(tmp_path_factory):
    """select --noise over mclust_noise.R's grid, with -o: (records, stderr, model path)."""
    from gmmcli.cli import run

    model = tmp_path_factory.mktemp("select-noise") / "best.joblib"
    types = ",".join(MCLUST["models"])
    args = ["select", str(NOISY), "-k", "1-6", "-t", types, "--noise", "--format", "json", "-o", str(model)]
    return _run_captured(run, args), model


def _run_captured(run, args):
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(args)
    assert code == 0, err.getvalue()
    return _records(out.getvalue()), err.getvalue()


def test_select_noise_matches_mclusts_bic_table(noisy_grid):
    (grid, err), _ = noisy_grid
    ref = MCLUST
    assert "best: EII, k=3, BIC" in err and "noise weight 0.05" in err
    assert (ref["best_model"], ref["best_G"]) == ("EII", 3)
    by_cell = {(c["model"], c["k"]): c for c in grid}
    for i, k in enumerate(ref["G"]):
        for j, name in enumerate(ref["models"]):
            cell = by_cell[(name, k)]
            assert cell["n_parameters"] == ref["df"][i][j]  # nMclustParams(..., noise = TRUE)
            assert 0 < cell["noise_weight"] < 1
            if ref["bic"][i][j] is not None:  # at least mclust's optimum, in its sign
                assert cell["bic"] <= -ref["bic"][i][j] + 0.05, (name, k)
    best = by_cell[("EII", 3)]
    # the same optimum, to the two programs' stopping rules
    assert best["bic"] == pytest.approx(ref["best_bic_lower_better"], abs=1e-3)
    assert best["noise_weight"] == pytest.approx(ref["best_noise_weight"], abs=1e-3)


def test_select_noise_saves_the_winner_with_its_noise(gmm, noisy_grid):
    _, model = noisy_grid
    m = load_model(model)
    assert m.params.has_noise and m.meta["fit_settings"]["noise"] is True
    X = np.loadtxt(NOISY, delimiter=",", skiprows=1)
    np.testing.assert_array_equal(m.params.noise_box, [X.min(axis=0), X.max(axis=0)])
    labels = read_csv_text(gmm("predict", model, NOISY).out)["label"].to_numpy()
    # the rows mclust's winner calls noise (1-based): 14 of the 15 outliers and one blob row
    assert list(np.flatnonzero(labels == density.NOISE_LABEL) + 1) == MCLUST["best_noise_rows"]
    assert sorted(set(labels[:300])) == [-1, 0, 1, 2]


def test_without_noise_the_outliers_take_a_component(gmm):
    r = gmm("select", NOISY, "-k", "1-6", "-t", "EII", "--format", "json", *QUICK)
    assert r.code == 0, r.err
    assert "best: EII, k=3" not in r.err  # a fourth component for the outliers, or worse
    assert all(c["noise_weight"] is None for c in _records(r.out))


def test_a_select_noise_cell_is_fit_noise(gmm, tmp_path):
    em_settings = ("--tol", "1e-5", "--max-iter", "1000")
    r = gmm("select", NOISY, "-k", "3", "-t", "VVV", "--noise", "--format", "json", *QUICK, *em_settings)
    assert r.code == 0, r.err
    [cell] = _records(r.out)
    out = tmp_path / "fit.joblib"
    assert gmm("fit", NOISY, "-k", 3, "-t", "VVV", "--noise", *QUICK, *em_settings, "-o", out).code == 0
    meta = load_model(out).meta
    for name in ("log_likelihood", "aic", "bic"):
        assert cell[name] == pytest.approx(meta[name], rel=1e-11, abs=1e-9), name
    assert cell["n_parameters"] == meta["n_parameters"] == 19
    assert cell["noise_weight"] == pytest.approx(load_model(out).params.noise_weight, rel=1e-10)


def test_select_noise_is_the_same_for_jobs_1_and_2_with_cv(gmm):
    grids = []
    for jobs in (1, 2):
        args = ("-k", "2-4", "-t", "EII,tied", "--cv", "3", "--noise", "--jobs", jobs, "--format", "json")
        r = gmm("select", NOISY, *args, *QUICK)
        assert r.code == 0, r.err
        grids.append([{k: v for k, v in c.items() if k != "seconds"} for c in _records(r.out)])
    assert grids[0] == grids[1]
    assert all(c["cv_log_likelihood"] is not None and c["noise_weight"] for c in grids[0])


def test_select_noise_table_and_flat_data(gmm, tmp_path):
    r = gmm("select", NOISY, "-k", "3", "-t", "EII", "--noise", "--format", "table", *QUICK)
    assert r.code == 0 and "each with a noise component" in r.out
    (tmp_path / "flat.csv").write_text("x,y\n" + "".join(f"{i},1\n" for i in range(20)))
    out = tmp_path / "m.joblib"
    r = gmm("select", tmp_path / "flat.csv", "-k", "1-2", "--noise", "-o", out, *QUICK)
    assert r.code == 65 and "bounding box" in r.err and not out.exists() and r.out == ""
