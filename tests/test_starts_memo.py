"""The remembered starts (starts._MEMO): the same starts as computed afresh, the random state
advanced as the run itself advances it, and bounded in size."""

import numpy as np
import pytest

from gmmcli.engine import em, starts


@pytest.fixture()
def X():
    rng = np.random.default_rng(3)
    return np.vstack([rng.normal(c, 1.0, size=(60, 3)) for c in (0.0, 4.0, 9.0)])


@pytest.fixture(autouse=True)
def empty_memo():
    starts._MEMO.clear()
    yield
    starts._MEMO.clear()


def _fresh(X, k, model, seed, init):
    """The starts of n_init=2 with the memo emptied before each."""
    rs = np.random.RandomState(seed)
    out = []
    for _ in range(2):
        starts._MEMO.clear()
        out.append(em.initial_params(X, k, model, init=init, random_state=rs))
    return out, rs.randint(1 << 30)


@pytest.mark.parametrize("init", ["kmeans", "hc"])
def test_remembered_starts_equal_fresh_ones_under_every_model(X, init):
    for model in ("VVV", "EII", "VEE", "diag"):
        expected, next_draw = _fresh(X, 3, model, 7, init)
        starts._MEMO.clear()
        em.initial_params(X, 3, "VVV", init=init, random_state=np.random.RandomState(7))
        for _pass in range(2):  # after another model's starts, and from the memo itself
            rs = np.random.RandomState(7)
            got = [em.initial_params(X, 3, model, init=init, random_state=rs) for _ in range(2)]
            assert rs.randint(1 << 30) == next_draw  # the state moved on as if k-means had run
            for a, b in zip(got, expected):
                np.testing.assert_array_equal(a.means, b.means)
                np.testing.assert_array_equal(a.covariances, b.covariances)


def test_kmeans_is_run_once_per_start_across_models(X, monkeypatch):
    calls = []
    real = starts.kmeans_labels
    monkeypatch.setattr(starts, "kmeans_labels", lambda *a, **k: calls.append(1) or real(*a, **k))
    for model in ("VVV", "EEE", "VEV", "spherical"):
        em.fit(X, 3, covariance_type=model, n_init=2, seed=0, max_iter=3)
    assert len(calls) == 2  # two restarts, shared by the four models


def test_a_changed_row_is_another_data_set(X, monkeypatch):
    calls = []
    real = starts.kmeans_labels
    monkeypatch.setattr(starts, "kmeans_labels", lambda *a, **k: calls.append(1) or real(*a, **k))
    em.initial_params(X, 3, "VVV", random_state=0)
    Y = X.copy()
    Y[5, 1] += 1e-9
    em.initial_params(Y, 3, "VVV", random_state=0)
    em.initial_params(X, 3, "VVV", random_state=0, sample_weight=np.full(len(X), 2.0))
    assert len(calls) == 3


def test_memo_stays_within_its_byte_budget(X, monkeypatch):
    monkeypatch.setattr(starts, "MEMO_MAX_BYTES", 3 * X.shape[0] * 8)  # room for ~3 label vectors
    for seed in range(10):
        em.initial_params(X, 3, "VVV", random_state=seed)
    assert sum(b for _, b in starts._MEMO.values()) <= starts.MEMO_MAX_BYTES
    assert 1 <= len(starts._MEMO) <= 3
