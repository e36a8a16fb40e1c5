"""The Dask engine equals the in-memory engine, partition by partition (local cluster, 2 workers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import SAMPLE
from gmmcli import em
from gmmcli.gaussian import COVARIANCE_TYPES

from gmmcli import dask_engine  # noqa: E402  (dask is in the test extras)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    with dask_engine.connect(n_workers=2, memory_limit="600MB") as c:
        yield c


@pytest.fixture(scope="module")
def stretched():
    frame = pd.read_csv(SAMPLE / "stretched.csv")
    return frame[["x", "y"]].to_numpy()


def _runner(client, path, weight_column=None, names=("x", "y")):
    frame = dask_engine.open_table([str(path)], blocksize="4kB")  # several partitions from a small file
    assert frame.npartitions > 1
    return dask_engine.DaskRunner(client, frame, list(names), weight_column=weight_column)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_dask_fit_equals_in_memory_fit(client, stretched, cov):
    runner = _runner(client, SAMPLE / "stretched.csv")
    start = em.initial_params(stretched, 4, cov, init="kmeans", random_state=0)
    got = dask_engine.fit(runner, 4, covariance_type=cov, init_params=start)
    want = em.run_em(stretched, start)
    assert (got.n_iter, got.converged) == (want.n_iter, want.converged)
    np.testing.assert_allclose(got.lower_bound, want.lower_bound, rtol=1e-9)
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        np.testing.assert_allclose(getattr(got.params, name), getattr(want.params, name), rtol=1e-9, atol=1e-12)


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


def test_bad_partition_is_a_clean_error(client, tmp_path):
    from gmmcli.errors import DataError

    path = tmp_path / "bad.csv"
    path.write_text("x,y\n" + "1,2\n" * 50 + "3,\n")
    with pytest.raises(DataError, match="missing or infinite"):
        dask_engine.DaskRunner(client, dask_engine.open_table([str(path)]), ["x", "y"])


def test_missing_glob_is_input_missing(tmp_path):
    from gmmcli.errors import InputMissing

    with pytest.raises(InputMissing, match="no file matches"):
        dask_engine.expand_paths([str(tmp_path / "*.csv")])
