"""Models over time: warm start, aligned labels, compare, drift check, outlier flags."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, read_csv_text

from gmmcli import load_model
from gmmcli.alignment import permuted
from gmmcli.comparison import adjusted_rand_index
from gmmcli.engine import density
from gmmcli.engine.params import MixtureParams
from gmmcli.io.model_file import dump_sealed, load_plain
from gmmcli.model import Model, save_model

BLOBS = SAMPLE / "blobs.csv"
CENTRES = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


def _separated(path, n=200, seed=0):
    """Four well-separated round clusters (unit spread, centres 10 apart), with an id column."""
    rng = np.random.default_rng(seed)
    X = np.vstack([c + rng.standard_normal((n, 2)) for c in CENTRES])
    pd.DataFrame({"id": np.arange(len(X)), "x": X[:, 0], "y": X[:, 1]}).to_csv(path, index=False)
    return X


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """blobs.csv, k=4 full, seed 0: the 'previous night' model."""
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("base") / "prev.joblib"
    assert run(["-q", "fit", str(BLOBS), "-k", "4", "-x", "id", "--seed", "0", "-o", str(path)]) == 0
    return path


def _labels(gmm, model, data):
    res = gmm("predict", model, data)
    assert res.code == 0, res.err
    return read_csv_text(res.out)["label"].to_numpy()


# ------------------------------------------------------------------------------------------
# warm start


def test_warm_start_starts_from_previous_parameters(gmm, base, tmp_path):
    out = tmp_path / "warm.joblib"
    res = gmm("fit", BLOBS, "-x", "id", "--init-model", base, "-o", out)  # -k, -t from PREV
    assert res.code == 0, res.err
    prev, warm = load_model(base), load_model(out)
    assert warm.n_components == 4 and warm.covariance_type == "full"
    # already at an optimum: EM stops at once and stays there (same component order)
    assert warm.meta["n_iter"] <= 3
    np.testing.assert_allclose(warm.params.means, prev.params.means, atol=0.05)
    assert warm.meta["warm_start"]["data_fingerprint"] == prev.meta["data_fingerprint"]


def test_warm_start_matches_features_by_name(gmm, base, tmp_path):
    frame = pd.read_csv(BLOBS)[["y", "id", "x"]]  # columns in another order
    frame.to_csv(tmp_path / "swapped.csv", index=False)
    out = tmp_path / "warm.joblib"
    assert gmm("fit", tmp_path / "swapped.csv", "-x", "id", "--init-model", base, "-o", out).code == 0
    warm, prev = load_model(out), load_model(base)
    assert warm.feature_names == ["x", "y"]
    np.testing.assert_allclose(warm.params.means, prev.params.means, atol=0.05)


@pytest.mark.parametrize(
    "extra, words",
    [
        (["-k", "3"], "4 components"),
        (["-t", "diag"], "4 components (full)"),
        (["-c", "x"], "features"),
    ],
    ids=["k", "model", "features"],
)
def test_warm_start_mismatch_is_a_usage_error(gmm, base, tmp_path, extra, words):
    out = tmp_path / "warm.joblib"
    res = gmm("fit", BLOBS, "-x", "id", "--init-model", base, *extra, "-o", out)
    assert res.code == 2, res.err
    assert res.err.startswith("error: ") and words in res.err and len(res.err.splitlines()) == 1
    assert not out.exists()


def test_warm_start_missing_model(gmm, tmp_path):
    res = gmm("fit", BLOBS, "-x", "id", "--init-model", tmp_path / "nope.joblib", "-o", tmp_path / "m.joblib")
    assert res.code == 66 and "does not exist" in res.err


# ------------------------------------------------------------------------------------------
# aligned labels


def test_refit_on_resample_keeps_99_percent_of_labels(gmm, tmp_path):
    """The issue's test: another seed and a resampled copy, aligned to the first model."""
    X = _separated(tmp_path / "day1.csv")
    first = tmp_path / "first.joblib"
    assert gmm("fit", tmp_path / "day1.csv", "-k", 4, "-x", "id", "--seed", 0, "-o", first).code == 0
    rng = np.random.default_rng(42)
    pick = rng.integers(0, len(X), len(X))
    pd.read_csv(tmp_path / "day1.csv").iloc[pick].to_csv(tmp_path / "day2.csv", index=False)
    args = ("fit", tmp_path / "day2.csv", "-k", 4, "-x", "id", "--seed", 3, "--init", "random_from_data")
    assert gmm(*args, "-o", tmp_path / "plain.joblib").code == 0
    res = gmm(*args, "--align-to", first, "-o", tmp_path / "aligned.joblib")
    assert res.code == 0 and "labels aligned to" in res.err
    before = _labels(gmm, first, tmp_path / "day1.csv")
    plain = _labels(gmm, tmp_path / "plain.joblib", tmp_path / "day1.csv")
    aligned = _labels(gmm, tmp_path / "aligned.joblib", tmp_path / "day1.csv")
    assert np.mean(plain == before) < 0.9  # the unaligned refit numbers the clusters otherwise
    assert np.mean(aligned == before) >= 0.99
    meta = load_model(tmp_path / "aligned.joblib").meta
    assert [c["label"] for c in meta["alignment"]["components"]] == [0, 1, 2, 3]
    assert all(0 <= c["distance"] < 0.1 for c in meta["alignment"]["components"])
    assert "component_labels" not in meta  # labels are 0..k-1: the file stays format 1
    assert load_plain(tmp_path / "aligned.joblib")["format_version"] == 1


def test_fewer_components_keep_previous_labels(gmm, base, tmp_path):
    out = tmp_path / "k3.joblib"
    assert gmm("fit", BLOBS, "-x", "id", "-k", 3, "--seed", 0, "--align-to", base, "-o", out).code == 0
    model = load_model(out)
    labels = model.meta["component_labels"]
    assert len(labels) == 3 and set(labels) < {0, 1, 2, 3} and labels == sorted(labels)
    assert model.meta["alignment"]["unmatched_reference_labels"] == sorted({0, 1, 2, 3} - set(labels))
    assert set(_labels(gmm, out, BLOBS)) <= set(labels)
    proba = read_csv_text(gmm("proba", out, BLOBS).out)
    assert list(proba.columns) == [f"p{j}" for j in labels]
    assert load_plain(out)["format_version"] == 2
    # and the next night, aligned to this one, keeps the gap and numbers a new cluster after it
    k4 = tmp_path / "k4.joblib"
    assert gmm("fit", BLOBS, "-x", "id", "-k", 4, "--seed", 0, "--align-to", out, "-o", k4).code == 0
    again = load_model(k4)
    assert sorted(again.meta["component_labels"]) == sorted(labels + [4])
    assert sum(c["distance"] is None for c in again.meta["alignment"]["components"]) == 1


def test_more_components_get_new_labels(gmm, base, tmp_path):
    out = tmp_path / "k5.joblib"
    assert gmm("fit", BLOBS, "-x", "id", "-k", 5, "--seed", 0, "--align-to", base, "-o", out).code == 0
    model = load_model(out)
    assert "component_labels" not in model.meta  # labels 0..4
    components = model.meta["alignment"]["components"]
    assert [c["distance"] is None for c in components] == [False] * 4 + [True]


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_permuting_components_keeps_the_mixture(cov):
    from gmmcli.engine import em

    X = np.random.default_rng(0).standard_normal((300, 3)) * [1, 2, 3]
    params = em.fit(X, 3, covariance_type=cov, seed=0).params
    order = np.array([2, 0, 1])
    moved = permuted(params, order)
    np.testing.assert_allclose(density.score_samples(X, moved), density.score_samples(X, params))
    np.testing.assert_array_equal(order[density.predict(X, moved)], density.predict(X, params))
    if cov == "tied":
        assert moved.covariances is params.covariances


def test_select_saves_an_aligned_winner(gmm, base, tmp_path):
    out = tmp_path / "best.joblib"
    args = ("select", BLOBS, "-x", "id", "-k", "3-5", "-t", "full", "--n-init", 1, "--jobs", 1)
    res = gmm(*args, "-o", out, "--align-to", base)
    assert res.code == 0, res.err
    assert load_model(out).meta["alignment"]["reference"] == str(base)
    res = gmm(*args, "--align-to", base)
    assert res.code == 2 and "-o" in res.err


def test_align_to_a_model_of_other_features(gmm, base, tmp_path):
    frame = pd.read_csv(BLOBS).rename(columns={"y": "z"})
    frame.to_csv(tmp_path / "z.csv", index=False)
    out = tmp_path / "m.joblib"
    res = gmm("fit", tmp_path / "z.csv", "-x", "id", "-k", 4, "--align-to", base, "-o", out)
    assert res.code == 2 and "different features" in res.err and not out.exists()


def test_bad_component_labels_are_refused(gmm, base, tmp_path):
    data = load_plain(base)
    data["component_labels"] = [0, 0, 1, 2]
    dump_sealed(data, tmp_path / "bad.joblib")
    res = gmm("predict", tmp_path / "bad.joblib", BLOBS)
    assert res.code == 65 and "component_labels" in res.err


# ------------------------------------------------------------------------------------------
# compare


def test_adjusted_rand_index_matches_scikit_learn():
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 500), rng.integers(0, 3, 500)
    b[:300] = a[:300]
    pairs = {}
    for x, y in zip(a.tolist(), b.tolist()):
        pairs[(x, y)] = pairs.get((x, y), 0) + 1
    assert adjusted_rand_index(pairs) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    assert adjusted_rand_index({(0, 5): 3, (1, 7): 4}) == 1.0  # same partition, other names


def test_compare_a_model_with_itself(gmm, base):
    res = gmm("compare", base, base, BLOBS, "--summary", "--format", "json")
    assert res.code == 0, res.err
    summary = json.loads(res.out)
    assert summary["adjusted_rand_index"] == 1.0 and summary["rows"] == 400
    assert summary["mean_log_likelihood_a"] == summary["mean_log_likelihood_b"]
    assert summary["largest_distance"] == pytest.approx(0.0, abs=1e-12)
    assert "adjusted Rand index 1.0000" in res.err


def test_compare_components_csv_off_a_terminal(gmm, base, tmp_path):
    k3 = tmp_path / "k3.joblib"
    assert gmm("-q", "fit", BLOBS, "-x", "id", "-k", 3, "--seed", 0, "-o", k3).code == 0
    res = gmm("compare", base, k3)
    assert res.code == 0, res.err
    table = read_csv_text(res.out)
    assert list(table.columns) == [
        "label_a",
        "label_b",
        "distance",
        "weight_a",
        "weight_b",
        "weight_shift",
        "mean_shift",
    ]
    assert len(table) == 4 and table["label_b"].isna().sum() == 1  # one of A's four is unmatched
    matched = table.dropna()
    np.testing.assert_allclose(matched["weight_shift"], matched["weight_b"] - matched["weight_a"])
    assert (matched["distance"] >= 0).all()


@pytest.mark.parametrize(
    "extra, code",
    [(["--format", "xml"], 2), (["--format", "table", "-o", "x.txt"], 2)],
    ids=["fmt", "table-o"],
)
def test_compare_bad_options(gmm, base, tmp_path, extra, code):
    res = gmm("compare", base, base, *extra)
    assert res.code == code and res.err.startswith("error: ")


# ------------------------------------------------------------------------------------------
# check (drift)


def test_check_passes_a_fresh_sample_and_flags_shifted_data(gmm, base, tmp_path):
    fresh = tmp_path / "fresh.csv"
    assert gmm("sample", base, "-n", 2000, "--seed", 11, "-o", fresh).code == 0
    res = gmm("check", base, fresh)
    assert res.code == 0, res.err
    assert res.err.startswith("check: consistent") and len(res.err.splitlines()) == 1
    frame = pd.read_csv(fresh)
    frame["x"] += 2.0
    frame.to_csv(tmp_path / "shifted.csv", index=False)
    res = gmm("check", base, tmp_path / "shifted.csv", "--json")
    assert res.code == 4
    assert res.err.startswith("error: check: drifted") and len(res.err.splitlines()) == 1
    record = json.loads(res.out)
    assert record["drifted"] and record["tail_share"] > 0.05 and record["p_value"] < 0.001
    # the thresholds are options: with limits nothing can cross, the same data passes
    res = gmm("check", base, tmp_path / "shifted.csv", "--max-tail-share", 1, "--alpha", 0)
    assert res.code == 0, res.err


def test_check_catches_a_change_of_shape_the_tail_misses(gmm, base, tmp_path):
    """Data squeezed towards the centres has no extra tail, but its distribution has moved."""
    model = load_model(base)
    X, comp = model.sample(2000, seed=5)
    X = model.params.means[comp] + 0.5 * (X - model.params.means[comp])
    pd.DataFrame(X, columns=["x", "y"]).to_csv(tmp_path / "tight.csv", index=False)
    res = gmm("check", base, tmp_path / "tight.csv", "--json")
    record = json.loads(res.out)
    assert res.code == 4 and not record["tail_drifted"] and record["distribution_drifted"]


@pytest.mark.parametrize("extra", [["--alpha", "1.5"], ["--max-tail-share", "-0.1"]])
def test_check_bad_thresholds(gmm, base, extra):
    res = gmm("check", base, BLOBS, *extra)
    assert res.code == 2 and res.err.startswith("error: ")


# ------------------------------------------------------------------------------------------
# outliers


def test_score_outliers_flag_rows_below_the_training_quantile(gmm, base):
    res = gmm("score", base, BLOBS, "--keep", "id", "--outliers", 0.05)
    assert res.code == 0, res.err
    table = read_csv_text(res.out)
    assert list(table.columns) == ["id", "log_density", "outlier"]
    limit = load_model(base).meta["train_log_density_quantiles"]["0.05"]
    np.testing.assert_array_equal(table["outlier"], (table["log_density"] < limit).astype(int))
    assert table["outlier"].sum() == 20  # 5% of the 400 training rows


def test_predict_outliers_interpolate_between_stored_levels(gmm, base):
    q = load_model(base).meta["train_log_density_quantiles"]
    limit = 0.75 * q["0.01"] + 0.25 * q["0.05"]  # level 0.02 lies a quarter of the way
    table = read_csv_text(gmm("predict", base, BLOBS, "--outliers", 0.02).out)
    scores = read_csv_text(gmm("score", base, BLOBS).out)["log_density"]
    assert list(table.columns) == ["label", "outlier"]
    np.testing.assert_array_equal(table["outlier"], (scores < limit).astype(int))


@pytest.mark.parametrize("q", ["0", "1", "1.5"])
def test_outliers_level_must_be_inside_0_1(gmm, base, q):
    res = gmm("predict", base, BLOBS, "--outliers", q)
    assert res.code == 2 and "between 0 and 1" in res.err and res.out == ""


def test_outliers_keep_clash(gmm, base, tmp_path):
    frame = pd.read_csv(BLOBS)
    frame["outlier"] = 0
    frame.to_csv(tmp_path / "o.csv", index=False)
    res = gmm("score", base, tmp_path / "o.csv", "--keep", "outlier", "--outliers", 0.01)
    assert res.code == 2 and "outlier" in res.err


def test_predict_with_outliers_imports_no_scipy(base):
    from test_process import _imported_modules

    modules = _imported_modules("predict", base, BLOBS, "--outliers", "0.01")
    assert not {m for m in modules if m.split(".")[0] in ("sklearn", "scipy", "pandas")}


def test_model_labels_default_to_component_order(base):
    model = load_model(base)
    np.testing.assert_array_equal(model.labels, np.arange(4))
    relabelled = Model(
        MixtureParams(
            **{k: getattr(model.params, k) for k in ("covariance_type", "weights", "means")},
            covariances=model.params.covariances,
            precisions_cholesky=model.params.precisions_cholesky,
        ),
        model.feature_names,
        {**model.meta, "component_labels": [3, 5, 7, 9]},
    )
    X = pd.read_csv(BLOBS)[["x", "y"]].to_numpy()
    np.testing.assert_array_equal(relabelled.predict(X), np.array([3, 5, 7, 9])[model.predict(X)])


def test_saved_labels_round_trip(base, tmp_path):
    model = load_model(base)
    model.meta["component_labels"] = [1, 2, 3, 4]
    save_model(model, tmp_path / "m.joblib")
    assert load_model(tmp_path / "m.joblib").labels.tolist() == [1, 2, 3, 4]
