"""The pruned E- and M-step (``engine.pruned``): the same statistics as the dense kernels, from
only the pairs that weigh anything, and the dense kernels wherever pruning does not pay."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.mixture import GaussianMixture

from gmmcli.engine import blocks, density, em, estep, pruned
from gmmcli.engine.params import MixtureParams, with_noise


@pytest.fixture(autouse=True)
def _no_sorting(monkeypatch):
    """The sorted kernel goes first where it applies (``test_sorted_blocks``): off here."""
    monkeypatch.setattr(blocks, "MIN_SORTED_ROWS", 1 << 62)


def _blobs(n=3000, d=20, k=8, seed=0, std=1.0):
    X, y = make_blobs(n, d, centers=k, cluster_std=std, random_state=seed)
    return X, y


def _params_from_labels(X, y, covariance_type="full", weights=None):
    """Each blob's own mean and covariance (stretched, so that the bound is not exact)."""
    k, d = y.max() + 1, X.shape[1]
    rng = np.random.default_rng(3)
    means = np.array([X[y == c].mean(axis=0) for c in range(k)])
    covs = []
    for _ in range(k):
        a = rng.standard_normal((d, d)) * 0.05 + np.eye(d)
        covs.append(a @ a.T)
    w = np.full(k, 1.0 / k) if weights is None else weights
    return MixtureParams.from_covariances(covariance_type, w, means, np.array(covs))


def _states(X, params):
    shift = X.mean(axis=0)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))
    dense = estep.prepare_estep(params, shift, dtype=X.dtype, radius2=r2)
    exact = estep.prepare_estep(params, shift, dtype=np.float64, kernel="direct")
    return pruned.prepare_pruned(params, dense), exact


@pytest.mark.parametrize("weighted", [False, True])
def test_span_statistics_equal_the_dense_kernel(weighted):
    X, y = _blobs()
    params = _params_from_labels(X, y)
    w = np.random.default_rng(1).random(len(X)) if weighted else None
    state, exact = _states(X, params)
    assert state is not None
    got = pruned.span_stats(X, state, w)
    want = estep.block_stats(X, exact, w)
    assert got is not None
    assert got.loglik == pytest.approx(want.loglik, rel=1e-13)
    assert got.weight == pytest.approx(want.weight, rel=1e-15)
    np.testing.assert_allclose(got.moments, want.moments, rtol=1e-11, atol=1e-9)
    np.testing.assert_array_equal(got.shift, want.shift)
    only = pruned.span_stats(X, state, w, moments=False)
    assert only.moments is None and only.loglik == got.loglik


def test_float32_rows_give_float64_statistics():
    X, y = _blobs()
    params = _params_from_labels(X, y)
    X32 = X.astype(np.float32)
    state, _ = _states(X32, params)
    got = pruned.span_stats(X32, state)
    # the same rows in float64, about the same (rounded) origin
    exact = estep.prepare_estep(params, state.shift, dtype=np.float64, kernel="direct")
    want = estep.block_stats(X32.astype(np.float64), exact)
    assert got.loglik == pytest.approx(want.loglik, rel=1e-13)
    np.testing.assert_allclose(got.moments, want.moments, rtol=1e-11, atol=1e-9)


def test_close_pairs_are_kept():
    """Two components over the same rows: every row keeps both, and both are exact."""
    X, y = _blobs(k=8)
    params = _params_from_labels(X, y)
    means = params.means.copy()
    means[1] = means[0] + 0.5  # components 0 and 1 share blob 0's rows
    params = MixtureParams.from_covariances("full", params.weights, means, params.covariances)
    state, exact = _states(X, params)
    got = pruned.span_stats(X, state)
    want = estep.block_stats(X, exact)
    assert got is not None
    assert got.loglik == pytest.approx(want.loglik, rel=1e-13)
    np.testing.assert_allclose(got.moments, want.moments, rtol=1e-11, atol=1e-9)
    assert got.nk[1] > 1.0


def test_bound_is_above_every_log_probability():
    """The bound may only overstate: on stretched, correlated covariances and rows anywhere."""
    rng = np.random.default_rng(5)
    X, y = _blobs(n=2000, d=16, k=8, std=3.0)
    params = _params_from_labels(X, y)
    X = np.vstack([X, rng.standard_normal((500, 16)) * 40])
    state, _ = _states(X, params)
    xt = (X - state.shift).T
    rows = np.vstack([xt, np.ones(len(X)), np.sum(xt * xt, axis=0)])
    bound = (state.coef @ rows)[:8]
    exact = density.weighted_log_prob(X, params).T  # (k, n)
    assert np.all(bound >= exact - 1e-9 * np.abs(exact))
    assert np.max(bound - exact) > 1.0  # and it is a bound, not the value


def test_overlapping_components_fall_back():
    X, _ = make_blobs(3000, 20, centers=8, cluster_std=30.0, random_state=0)
    y = np.arange(len(X)) % 8
    params = _params_from_labels(X, y)
    state, _ = _states(X, params)
    assert pruned.span_stats(X, state) is None


@pytest.mark.parametrize("case", ["diag", "tied", "few components", "few features", "noise", "zero weight"])
def test_pruning_applies_only_where_it_pays(case):
    d = 10 if case == "few features" else 20
    k = 4 if case == "few components" else 8
    X, y = _blobs(d=d, k=k)
    covariance_type = case if case in ("diag", "tied") else "full"
    if covariance_type == "full":
        weights = np.r_[0.0, np.full(k - 1, 1.0 / (k - 1))] if case == "zero weight" else None
        params = _params_from_labels(X, y, weights=weights)
    else:
        params = em.initial_params(X, k, covariance_type, init="kmeans", random_state=0)
    if case == "noise":
        params = with_noise(params, np.array([X.min(axis=0), X.max(axis=0)]), 0.05)
    dense = estep.prepare_estep(params, X.mean(axis=0), radius2=1e4)
    assert pruned.prepare_pruned(params, dense) is None
    X, y = _blobs()
    plain = _params_from_labels(X, y)
    assert pruned.prepare_pruned(plain, estep.prepare_estep(plain, X.mean(axis=0))) is not None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_em_with_pruning_equals_em_without(monkeypatch, dtype):
    X, _ = _blobs(n=4000, d=24, k=8)
    X = X.astype(dtype)
    start = em.initial_params(X, 8, "full", init="kmeans", random_state=0)
    spans = []
    real = blocks.span_stats
    monkeypatch.setattr(blocks, "span_stats", lambda *a, **kw: spans.append(1) or real(*a, **kw))
    with_pruning = em.run_em(X, start, tol=0.0, max_iter=8, block_rows=256)
    assert spans  # the kernel ran
    two = em.run_em(X, start, tol=0.0, max_iter=8, block_rows=256, threads=2)
    monkeypatch.setattr(pruned, "MIN_MOMENTS", 10**9)
    # pruning runs in float64 for float32 rows too: the same as the dense kernels on float64
    without = em.run_em(X.astype(np.float64), start, tol=0.0, max_iter=8, block_rows=256)
    assert with_pruning.lower_bound == pytest.approx(without.lower_bound, rel=1e-13)
    np.testing.assert_allclose(with_pruning.params.means, without.params.means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        with_pruning.params.covariances, without.params.covariances, rtol=1e-10, atol=1e-12
    )
    assert two.lower_bound == with_pruning.lower_bound  # threads change nothing, to the bit
    np.testing.assert_array_equal(two.params.covariances, with_pruning.params.covariances)


def test_pruned_fit_matches_sklearn():
    X, _ = _blobs(n=3000, d=20, k=10, seed=2)
    res = em.fit(X, 10, covariance_type="full", seed=1)
    gm = GaussianMixture(10, covariance_type="full", random_state=1).fit(X)
    assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-8)
    assert res.n_iter == gm.n_iter_
    np.testing.assert_array_equal(density.predict(X, res.params), gm.predict(X))


def test_iterations_that_cannot_prune_pause_the_attempts(monkeypatch):
    X, _ = make_blobs(3000, 20, centers=8, cluster_std=30.0, random_state=0)
    start = em.initial_params(X, 8, "full", init="random", random_state=0)
    tries = []
    real = blocks.span_stats
    monkeypatch.setattr(blocks, "span_stats", lambda *a, **kw: tries.append(1) or real(*a, **kw))
    data = blocks.EMData(X, None, "full", 8, block_rows=256)
    runner = blocks.BlockRunner(data, 1)
    pauses = []
    for _ in range(14):
        runner.stats(start)
        pauses.append(runner.pruned.pause)
    spans = len(runner.spans)
    assert len(tries) == 2 * spans  # at iterations 1 and 6 (the next at 15)
    assert pauses == [4, 3, 2, 1, 0, 8, 7, 6, 5, 4, 3, 2, 1, 0]


def test_spans_are_runs_of_whole_groups():
    groups = [[(a, a + 100)] for a in range(0, 3200, 100)]
    spans = blocks._spans(groups, 64)
    assert [g for span in spans for g in span] == groups
    assert len(spans) == blocks.SPANS
    assert {len(span) for span in spans} == {8}
    small = blocks._spans(groups, blocks.SPAN_BYTES // 300)  # at most 300 rows each
    assert all(span[-1][-1][1] - span[0][0][0] <= 300 for span in small)
    assert [g for span in small for g in span] == groups
    assert len(blocks._spans(groups[:3], 64)) == 3  # never more spans than groups
