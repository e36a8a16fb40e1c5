"""The Dask engine equals the in-memory engine, partition by partition (local cluster, 2 workers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE

from gmmcli.engine import dask_em as dask_engine  # noqa: E402  (dask is in the test extras)
from gmmcli.engine import em
from gmmcli.engine.covariance import SKLEARN_TYPES as COVARIANCE_TYPES
from gmmcli.io import dask_tables  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    with dask_engine.connect(n_workers=2, memory_limit="600MB") as c:
        yield c


@pytest.fixture(scope="module")
def stretched():
    frame = pd.read_csv(SAMPLE / "stretched.csv")
    return frame[["x", "y"]].to_numpy()


def _runner(client, path, weight_column=None, names=("x", "y"), blocksize="4kB"):
    frame = dask_tables.open_table([str(path)], blocksize=blocksize)  # several partitions from a small file
    assert frame.npartitions > 1
    return dask_engine.DaskRunner(
        client, frame, list(names), dask_tables.partition_matrix, weight_column=weight_column
    )


@pytest.mark.parametrize("cov", COVARIANCE_TYPES + ("EEI", "VEV", "EVE"))  # three of mclust's models too
def test_dask_fit_equals_in_memory_fit(client, stretched, cov):
    runner = _runner(client, SAMPLE / "stretched.csv")
    start = em.initial_params(stretched, 4, cov, init="kmeans", random_state=0)
    got = dask_engine.fit(runner, 4, covariance_type=cov, init_params=start)
    want = em.run_em(stretched, start)
    assert (got.n_iter, got.converged) == (want.n_iter, want.converged)
    np.testing.assert_allclose(got.lower_bound, want.lower_bound, rtol=1e-9)
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        np.testing.assert_allclose(
            getattr(got.params, name), getattr(want.params, name), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize(
    "cov", ["full", "tied"]
)  # tied: the pooled scatter weighs rows by the Gaussians' share
def test_dask_noise_fit_equals_in_memory_fit(client, cov):
    from gmmcli.engine.params import with_noise

    path = ROOT / "tests" / "reference" / "data" / "noisy_blobs.csv"
    X = pd.read_csv(path).to_numpy()
    runner = _runner(client, path, blocksize="2kB")
    np.testing.assert_array_equal(runner.box, [X.min(axis=0), X.max(axis=0)])
    start = em.initial_params(X, 3, cov, init="kmeans", random_state=0)
    got = dask_engine.fit(runner, 3, covariance_type=cov, init_params=start, noise_box=runner.box)
    want = em.run_em(X, with_noise(start, runner.box, em.NOISE_START))
    assert got.params.has_noise and (got.n_iter, got.converged) == (want.n_iter, want.converged)
    np.testing.assert_allclose(got.params.noise_weight, want.params.noise_weight, rtol=1e-9)
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(
            getattr(got.params, name), getattr(want.params, name), rtol=1e-9, atol=1e-12
        )


def test_weights_column_equals_in_memory_weights(client, stretched, tmp_path):
    w = np.random.default_rng(1).integers(1, 4, size=len(stretched)).astype(float)
    path = tmp_path / "weighted.csv"
    pd.DataFrame({"x": stretched[:, 0], "y": stretched[:, 1], "w": w}).to_csv(path, index=False)
    runner = _runner(client, path, weight_column="w")
    start = em.initial_params(stretched, 3, "diag", init="random", random_state=2, sample_weight=w)
    got = dask_engine.fit(runner, 3, covariance_type="diag", init_params=start)
    want = em.run_em(stretched, start, sample_weight=w)
    np.testing.assert_allclose(got.params.means, want.params.means, rtol=1e-9)
    assert runner.weight == w.sum()


def test_seeded_sample_init_is_reproducible(client):
    runner = _runner(client, SAMPLE / "stretched.csv")
    a = dask_engine.fit(runner, 3, seed=5)
    b = dask_engine.fit(runner, 3, seed=5)
    np.testing.assert_array_equal(a.params.means, b.params.means)


def test_a_repeated_sample_is_not_redrawn(client):
    runner = _runner(client, SAMPLE / "stretched.csv")
    first = runner.sample(50, 3)[0]
    assert runner.sample(50, 3)[0] is first and runner.sample(50, 4)[0] is not first
    assert np.all(np.diff(dask_engine.init_sample(runner, 2, 0)[0][:, 0]) != 0)  # rows, in order


@pytest.mark.parametrize(
    "name, sep, delimiter",
    [("blobs.txt", ";", None), ("blobs.dat", "\t", None), ("blobs", "|", None), ("blobs.txt", "\t", "tab")],
)
def test_open_table_sniffs_the_separator_as_the_local_reader_does(tmp_path, name, sep, delimiter):
    from gmmcli.io import tables

    path = tmp_path / name
    pd.read_csv(SAMPLE / "blobs.csv").to_csv(path, sep=sep, index=False)
    frame = dask_tables.open_table([str(path)], delimiter)
    assert list(frame.columns) == ["id", "x", "y"]
    assert tables.Reader(str(path), delimiter).open(None).columns.tolist() == ["id", "x", "y"]


def test_open_table_refuses_a_header_of_numbers(tmp_path):
    from gmmcli.errors import DataError

    path = tmp_path / "nohdr.csv"
    path.write_text("0.25,6.5\n1.5,2.5\n3,4\n")
    with pytest.raises(
        DataError, match=r"first line of .*nohdr.csv is all numbers \(0.25, 6.5\).*--no-header"
    ):
        dask_tables.open_table([str(path)])


def test_bad_partition_is_a_clean_error(client, tmp_path):
    from gmmcli.errors import DataError

    path = tmp_path / "bad.csv"
    path.write_text("x,y\n" + "1,2\n" * 50 + "3,\n")
    with pytest.raises(DataError, match="missing or infinite"):
        dask_engine.DaskRunner(
            client, dask_tables.open_table([str(path)]), ["x", "y"], dask_tables.partition_matrix
        )


def test_missing_glob_is_input_missing(tmp_path):
    from gmmcli.errors import InputMissing

    with pytest.raises(InputMissing, match="no file matches"):
        dask_tables.expand_paths([str(tmp_path / "*.csv")])


# --- through the command line (each call starts a local 2-worker cluster) -----------------


def test_cli_fit_and_score_on_dask(gmm, tmp_path):
    from gmmcli import load_model

    parts = tmp_path / "parts"
    parts.mkdir()
    frame = pd.read_csv(SAMPLE / "blobs.csv")
    for i, start in enumerate(range(0, 400, 134)):
        frame.iloc[start : start + 134].to_csv(parts / f"blobs-{i}.csv", index=False)
    model = tmp_path / "m.joblib"
    res = gmm(
        "fit",
        "--engine",
        "dask",
        "--worker-memory",
        "600MB",
        str(parts / "blobs-*.csv"),
        "-k",
        4,
        "-x",
        "id",
        "--seed",
        0,
        "-o",
        model,
    )
    assert res.code == 0, res.err
    assert "on 400 rows" in res.err
    m = load_model(model)
    assert m.meta["fit_settings"]["engine"] == "dask" and m.meta["n_train_rows"] == 400
    # the same clusters as the in-memory fit (labels up to order: compare sorted means)
    local = tmp_path / "local.joblib"
    assert gmm("fit", SAMPLE / "blobs.csv", "-k", 4, "-x", "id", "--seed", 0, "-o", local).code == 0
    np.testing.assert_allclose(
        np.sort(m.params.means, axis=0), np.sort(load_model(local).params.means, axis=0), atol=1e-2
    )

    out = tmp_path / "labels"
    res = gmm(
        "predict",
        "--engine",
        "dask",
        "--worker-memory",
        "600MB",
        model,
        str(parts / "blobs-*.csv"),
        "--keep",
        "id",
        "-o",
        out,
    )
    assert res.code == 0, res.err
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["part-00000.csv", "part-00001.csv", "part-00002.csv"]
    got = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    local_labels = gmm("predict", model, SAMPLE / "blobs.csv", "--keep", "id")
    pd.testing.assert_frame_equal(got, pd.read_csv(__import__("io").StringIO(local_labels.out)))


def test_cli_dask_noise_warm_start_and_alignment_equal_local(gmm, tmp_path):
    """fit --noise --init-model --align-to on Dask: the same start as the local engine, so the
    same model (to rounding), noise and labels included."""
    from gmmcli import load_model

    data = ROOT / "tests" / "reference" / "data" / "noisy_blobs.csv"
    prev = tmp_path / "prev.joblib"
    assert gmm("-q", "fit", data, "-k", 3, "--noise", "--seed", 1, "-o", prev).code == 0
    models = {}
    for engine in ("local", "dask"):
        models[engine] = tmp_path / f"{engine}.joblib"
        extra = ["--worker-memory", "600MB"] if engine == "dask" else []
        args = ["fit", data, "--engine", engine, *extra, "--noise", "--init-model", prev, "--align-to", prev]
        res = gmm(*args, "-o", models[engine])
        assert res.code == 0, res.err
        assert "noise weight" in res.err and "labels aligned to" in res.err
    local, dask = load_model(models["local"]), load_model(models["dask"])
    assert dask.meta["fit_settings"]["engine"] == "dask" and dask.meta["fit_settings"]["noise"] is True
    assert dask.meta["warm_start"]["model"] == str(prev)
    np.testing.assert_array_equal(dask.params.noise_box, local.params.noise_box)
    np.testing.assert_allclose(dask.params.noise_weight, local.params.noise_weight, rtol=1e-9)
    np.testing.assert_allclose(dask.params.means, local.params.means, rtol=1e-9)
    pairs = [(c["label"], c["distance"]) for c in local.meta["alignment"]["components"]]
    got = [(c["label"], c["distance"]) for c in dask.meta["alignment"]["components"]]
    assert [label for label, _ in got] == [label for label, _ in pairs]
    np.testing.assert_allclose([d for _, d in got], [d for _, d in pairs], rtol=1e-6, atol=1e-7)
    assert dask.meta["bic"] == pytest.approx(local.meta["bic"], rel=1e-12)


def test_cli_dask_reads_like_the_local_engine(gmm, tmp_path):
    """A semicolon file with no telling name and an id column: sniffed, and the id warned about
    (on the rows EM starts from); a header of numbers refused before any cluster starts."""
    path = tmp_path / "blobs.txt"
    pd.read_csv(SAMPLE / "blobs.csv").to_csv(path, sep=";", index=False)
    model = tmp_path / "m.joblib"
    res = gmm("fit", "--engine", "dask", "--worker-memory", "600MB", path, "-k", 2, "-o", model)
    assert res.code == 0, res.err
    assert "warning: column 'id' looks like a row id" in res.err and "--exclude id" in res.err
    assert "on 400 rows x 3 columns" in res.err
    headless = tmp_path / "nohdr.csv"
    pd.read_csv(SAMPLE / "blobs.csv").to_csv(headless, header=False, index=False)
    for args in (
        ["fit", "--engine", "dask", headless, "-o", tmp_path / "n.joblib"],
        ["predict", "--engine", "dask", model, headless, "-o", tmp_path / "out"],
    ):
        res = gmm(*args)
        assert res.code == 65 and res.err.count("\n") == 1 and "--no-header with the local engine" in res.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs.txt", "m.joblib", "nohdr.csv"]


def test_cli_dask_scoring_refuses_a_full_folder(gmm, tmp_path):
    model = tmp_path / "m.joblib"
    assert gmm("fit", SAMPLE / "moons.csv", "-k", 2, "-o", model).code == 0
    out = tmp_path / "full"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    res = gmm("score", "--engine", "dask", model, SAMPLE / "moons.csv", "-o", out)
    assert res.code == 2 and "not empty" in res.err
    assert [f.name for f in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--engine", "spark"], "unknown --engine 'spark'"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler goes with --engine dask"),
        (["--worker-memory", "2GB"], "--worker-memory goes with --engine dask"),
        (
            ["--engine", "dask", "--scheduler", "tcp://127.0.0.1:1", "--worker-memory", "2GB"],
            "a --scheduler's workers keep their own",
        ),
        (["--engine", "dask", "--no-header"], "--no-header is not supported with --engine dask"),
        ([str(SAMPLE / "blobs.csv")], "2 inputs given"),
    ],
)
def test_cli_engine_usage_errors(gmm, tmp_path, args, message):
    out = tmp_path / "m.joblib"
    res = gmm("fit", SAMPLE / "moons.csv", *args, "-o", out)
    assert res.code == 2 and message in res.err and not out.exists()


def test_without_dask_the_error_says_how_to_install(gmm, tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    out = tmp_path / "m.joblib"
    res = gmm("fit", "--engine", "dask", SAMPLE / "moons.csv", "-o", out)
    assert res.code == 2 and "pip install 'gmmcli[dask]'" in res.err and not out.exists()
