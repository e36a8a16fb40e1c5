"""The sorted-blocks E- and M-step (``engine.sorted_blocks``): rows sorted by component, certain
segments from their sums, the other blocks from the components their bounds cannot rule out;
the same statistics as the dense kernel, and the dense kernel wherever sorting does not pay."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from gmmcli.engine import blocks, density, em, emdata, estep
from gmmcli.engine import sorted_blocks as sb
from gmmcli.engine.params import MixtureParams, with_noise


def _fitted(covariance_type, n=6000, d=8, k=5, std=1.0, seed=0, dtype=np.float64, iters=3):
    X, _ = make_blobs(n, d, centers=k, cluster_std=std, random_state=seed)
    X = X.astype(dtype)
    start = em.initial_params(X, k, covariance_type, init="kmeans", random_state=0)
    return X, em.run_em(X, start, tol=0.0, max_iter=iters).params


def _stats(X, params, sorting, w=None, threads=1, block_rows=512):
    data = emdata.EMData(X, w, params.covariance_type, params.n_components, block_rows)
    runner = _runner(data, threads)
    runner.sortable = sorting
    try:
        return runner.stats(params), runner
    finally:
        runner.close()


def _runner(data, threads=1):
    """A runner that may sort from its first iteration (not from its SORT_AFTER-th)."""
    runner = blocks.BlockRunner(data, threads)
    runner.sorting = blocks.Backoff()
    return runner


def _sorted(X, params, w=None, block_rows=512):
    data = emdata.EMData(X, w, params.covariance_type, params.n_components, block_rows)
    dense = estep.prepare_estep(params, data.shift, dtype=data.dtype, radius2=data.radius2)
    dense = sb.prepare_sorted(params, dense, data.shift, data.radius2)
    rows = sb.SortedRows(data, params, dense, map)
    return rows, rows.state(params, dense), dense


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "VVI", "EEV"])
@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_equal_the_dense_kernel(covariance_type, weighted):
    X, params = _fitted(covariance_type)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X)) if weighted else None
    got, runner = _stats(X, params, True, w)
    assert runner.sorted is not None  # the kernel ran, with certain and uncertain blocks
    data = runner.data
    dense = estep.prepare_estep(params, data.shift, radius2=data.radius2)
    certain = runner.sorted.state(params, dense).certain
    assert 0 < certain.sum() < len(certain)
    want, _ = _stats(X, params, False, w)
    assert got.loglik == pytest.approx(want.loglik, rel=1e-13)
    assert got.weight == pytest.approx(want.weight, rel=1e-14)
    np.testing.assert_allclose(got.moments, want.moments, rtol=1e-11, atol=1e-9)
    only, _ = _stats(X, params, True, w)  # the log-likelihood alone
    assert only.loglik == got.loglik


def test_float32_rows():
    X, params = _fitted("diag", dtype=np.float32)
    got, runner = _stats(X, params, True)
    assert runner.sorted is not None
    want, _ = _stats(X, params, False)
    assert got.moments.dtype == np.float64
    assert got.loglik == pytest.approx(want.loglik, rel=1e-12)
    np.testing.assert_allclose(got.moments, want.moments, rtol=1e-10, atol=1e-8)


def test_upper_bounds_hold_and_certain_segments_are_certain():
    X, params = _fitted("diag")
    rows, state, dense = _sorted(X, params)
    log_prob, _ = estep.block_log_prob(rows.data.rows(0, len(X)), dense)  # (k, n), sorted rows
    assert 0 < state.certain.sum() < len(state.certain)  # both kinds, for the test to bite
    for i, (a, _) in enumerate(rows.data.bounds):
        cuts = rows.cuts[i]
        for j, s in enumerate(range(rows.first[i], rows.first[i + 1])):
            seg = log_prob[:, a + cuts[j] : a + cuts[j + 1]]
            assert np.all(seg.max(axis=1) <= state.upper[s] + 1e-9)
            if state.certain[i]:
                others = np.delete(seg, rows.anchors[s], axis=0)
                assert np.all(others < seg[rows.anchors[s]] - sb.SCREEN_NATS)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_lower_bounds_hold_after_the_covariances_change(covariance_type):
    """The anchors' lower bounds (in their own metric, with the factors of the sorting) hold
    under other parameters too: here stretched and turned covariances."""
    X, params = _fitted(covariance_type)
    rows, _, dense = _sorted(X, params)
    cov = params.covariances
    rng = np.random.default_rng(5)
    if cov.ndim == 3:
        turn = np.linalg.qr(np.eye(cov.shape[1]) + 0.3 * rng.standard_normal(cov.shape[1:]))[0]
        cov = turn @ cov @ turn.T * rng.uniform(0.5, 2.0, (len(cov), 1, 1))
    else:
        cov = cov * rng.uniform(0.5, 2.0, cov.shape)
    changed = MixtureParams.from_covariances(covariance_type, params.weights, params.means, cov)
    state = rows.state(changed, estep.prepare_estep(changed, dense.shift, radius2=rows.data.radius2))
    log_prob, _ = estep.block_log_prob(rows.data.rows(0, len(X)), state.dense)
    for i, (a, _) in enumerate(rows.data.bounds):
        cuts = rows.cuts[i]
        for j, s in enumerate(range(rows.first[i], rows.first[i + 1])):
            own = log_prob[rows.anchors[s], a + cuts[j] : a + cuts[j + 1]]
            assert np.all(own >= state.lower[s] - 1e-9)
            assert np.all(log_prob[:, a + cuts[j] : a + cuts[j + 1]].max(axis=1) <= state.upper[s] + 1e-9)


def test_elongated_components_are_certain():
    """Components far apart but stretched (condition number 100): the anchor's bound in its
    own metric certifies them where its largest eigenvalue could not."""
    rng = np.random.default_rng(0)
    d, k, per = 12, 6, 1500
    means = rng.uniform(-30, 30, (k, d))
    scales = np.geomspace(0.3, 3.0, d)
    X = np.vstack([m + rng.standard_normal((per, d)) * scales for m in means])
    y = np.repeat(np.arange(k), per)
    covs = np.array([np.cov(X[y == c].T) + 1e-6 * np.eye(d) for c in range(k)])
    params = MixtureParams.from_covariances("full", np.full(k, 1 / k), means, covs)
    rows, state, dense = _sorted(X, params)
    assert state.certain.all()
    structure = params.structure  # the largest eigenvalue's bound alone certifies none
    largest = structure.precision_scale(params.precisions_cholesky, d)[rows.anchors]
    mu = params.means[rows.anchors] - dense.shift
    reach = np.linalg.norm(rows.centres - mu, axis=1) + rows.radii
    assert np.all(dense.const[rows.anchors] - 0.5 * largest * reach**2 < state.lower - sb.SCREEN_NATS)


def test_uncertain_blocks_keep_every_pair_that_weighs():
    X, params = _fitted("diag")
    rows, state, dense = _sorted(X, params)
    log_prob, _ = estep.block_log_prob(rows.data.rows(0, len(X)), dense)
    kept_somewhere = False
    for i in np.flatnonzero(~state.certain):
        a, b = rows.data.bounds[i]
        lp = log_prob[:, a:b]
        close = np.flatnonzero(np.any(lp >= lp.max(axis=0) - sb.SCREEN_NATS, axis=1))
        upper = state.upper[rows.first[i] : rows.first[i + 1]]
        stats, count = rows.block_stats(i, state, True)
        assert count >= len(close)
        kept_somewhere |= count > len(np.unique(rows.anchors[rows.first[i] : rows.first[i + 1]]))
        assert upper.shape[1] == params.n_components
    assert kept_somewhere  # some block kept a component beyond its anchors


def test_stale_order_after_the_components_move():
    """The order from one set of parameters, statistics under others (a component moved onto
    another's rows): the bounds still hold, only fewer segments are certain."""
    X, params = _fitted("diag")
    data = emdata.EMData(X, None, "diag", 5, 512)
    runner = _runner(data)
    runner.stats(params)
    assert runner.sorted is not None
    means = params.means.copy()
    means[0] = 0.5 * (means[0] + means[1])
    moved = MixtureParams.from_covariances("diag", params.weights, means, params.covariances)
    got = runner.stats(moved)
    want, _ = _stats(X, moved, False)
    assert got.loglik == pytest.approx(want.loglik, rel=1e-13)
    np.testing.assert_allclose(got.moments, want.moments, rtol=1e-11, atol=1e-9)


def test_the_first_iterations_are_not_sorted():
    X, params = _fitted("diag")
    runner = blocks.BlockRunner(emdata.EMData(X, None, "diag", 5, 512), 1)
    for _ in range(blocks.SORT_AFTER):
        runner.stats(params)
        assert runner.sorted is None
    runner.stats(params)
    assert runner.sorted is not None


def test_em_with_sorting_equals_em_without(monkeypatch):
    X, _ = make_blobs(8000, 8, centers=6, random_state=4)
    start = em.initial_params(X, 6, "diag", init="kmeans", random_state=0)
    sorts = []
    real = blocks.SortedRows
    monkeypatch.setattr(blocks, "SortedRows", lambda *a: sorts.append(1) or real(*a))
    one = em.run_em(X, start, tol=0.0, max_iter=10, block_rows=512, threads=1)
    assert sorts == [1]  # sorted once, kept for every iteration
    two = em.run_em(X, start, tol=0.0, max_iter=10, block_rows=512, threads=2)
    monkeypatch.setattr(blocks, "MIN_SORTED_ROWS", 1 << 62)
    dense = em.run_em(X, start, tol=0.0, max_iter=10, block_rows=512)
    assert one.lower_bound == pytest.approx(dense.lower_bound, rel=1e-13)
    np.testing.assert_allclose(one.params.means, dense.params.means, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(one.params.covariances, dense.params.covariances, rtol=1e-10)
    assert two.lower_bound == one.lower_bound  # threads change nothing, to the bit
    np.testing.assert_array_equal(two.params.covariances, one.params.covariances)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full"])
def test_sorted_fit_matches_sklearn(monkeypatch, covariance_type):
    X, _ = make_blobs(6000, 8, centers=5, random_state=0)
    sorts = []
    real = blocks.SortedRows
    monkeypatch.setattr(blocks, "SortedRows", lambda *a: sorts.append(1) or real(*a))
    # tol=0: these blobs converge in two iterations, before SORT_AFTER
    res = em.fit(X, 5, covariance_type=covariance_type, seed=1, tol=0.0, max_iter=8)
    assert sorts
    gm = GaussianMixture(5, covariance_type=covariance_type, random_state=1, tol=0.0, max_iter=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-8)
    assert res.n_iter == gm.n_iter_
    np.testing.assert_array_equal(density.predict(X, res.params), gm.predict(X))


def test_overlapping_components_are_not_sorted():
    X, params = _fitted("diag", std=8.0)
    data = emdata.EMData(X, None, "diag", 5)
    dense = estep.prepare_estep(params, data.shift, radius2=data.radius2)
    assert sb.likely_certain(params, dense) < blocks.MIN_CERTAIN
    _, runner = _stats(X, params, True)
    assert runner.sorted is None


def test_an_order_that_does_not_pay_is_dropped_and_paused():
    X, params = _fitted("diag")
    data = emdata.EMData(X, None, "diag", 5, 512)
    runner = _runner(data)
    runner.stats(params)
    assert runner.sorted is not None
    wide = MixtureParams.from_covariances("diag", params.weights, params.means, params.covariances * 400)
    got = runner.stats(wide)  # every component reaches every row: kept pairs above the share
    assert runner.sorted is None and runner.sorting.pause == blocks.RETRY_AFTER
    want, _ = _stats(X, wide, False)
    assert got.loglik == pytest.approx(want.loglik, rel=1e-13)


def test_where_the_kernel_does_not_apply():
    X, params = _fitted("diag")
    shift = X.mean(axis=0)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))

    def state(p, **kw):
        return sb.prepare_sorted(p, estep.prepare_estep(p, shift, radius2=r2, **kw), shift, r2)

    assert state(params).kernel == "quadratic"
    assert state(with_noise(params, np.array([X.min(axis=0), X.max(axis=0)]), 0.1)) is None
    w = params.weights.copy()
    w[0], w[1] = 0.0, w[0] + w[1]
    assert state(MixtureParams.from_covariances("diag", w, params.means, params.covariances)) is None
    assert state(params, kernel="direct") is None


def test_float32_matrix_covariances_sort_in_float64():
    """float32 full: its own expansion is float32 (too coarse); the sorted kernel runs the
    float64 one over the same rows, as the float64 data would."""
    X, params = _fitted("full", dtype=np.float32)
    got, runner = _stats(X, params, True)
    assert runner.sorted is not None
    want, _ = _stats(X.astype(np.float64), params, False)
    assert got.loglik == pytest.approx(want.loglik, rel=1e-13)
    np.testing.assert_allclose(got.moments, want.moments, rtol=1e-11, atol=1e-9)


def test_sorted_float32_rows_build_only_the_float64_state(monkeypatch):
    """Once float32 rows are sorted, an iteration builds the float64 state the sorted kernel runs on
    and no float32 one it would drop; the statistics are those of a runner building both."""
    X, params = _fitted("full", dtype=np.float32)
    data = emdata.EMData(X, None, "full", params.n_components, 512)
    built = []
    real = blocks.prepare_estep
    spy = lambda *a, **kw: built.append(np.dtype(kw["dtype"])) or real(*a, **kw)  # noqa: E731
    monkeypatch.setattr(blocks, "prepare_estep", spy)
    runner = _runner(data)
    try:
        first = runner.stats(params)
        assert runner.sorted is not None
        built.clear()
        again = runner.stats(params)
    finally:
        runner.close()
    assert built == [np.dtype(np.float64)]
    assert again.loglik == first.loglik
    np.testing.assert_array_equal(again.moments, first.moments)


def test_blocks_are_whole_runs_or_pieces_of_one():
    runs = np.array([0, 100, 130, 700, 705, 1000, 2600])
    bounds, cuts = sb._blocks(runs, 500)
    assert bounds[0][0] == 0 and bounds[-1][1] == 2600
    assert all(a == b for (_, a), (b, _) in zip(bounds[:-1], bounds[1:]))  # contiguous
    assert all(b - a <= 500 for a, b in bounds)
    edges = set(runs.tolist())
    for (a, b), c in zip(bounds, cuts):
        assert c[0] == 0 and c[-1] == b - a
        if len(c) > 2 or {a, b} <= edges:  # whole runs: every cut is a run's edge
            assert {a + int(x) for x in c} <= edges
        else:  # one piece of a run longer than block_rows
            assert any(s <= a and b <= e and e - s > 500 for s, e in zip(runs, runs[1:]))
    assert [b - a for a, b in bounds] == [130, 285, 285, 300, 400, 400, 400, 400]


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_structure_trace_is_the_matrices_trace(covariance_type):
    _, params = _fitted(covariance_type)
    structure, k, d = params.structure, params.n_components, params.n_features
    want = np.einsum("kii->k", structure.matrices(params.covariances, k, d))
    np.testing.assert_allclose(structure.trace(params.covariances, d), want, rtol=1e-14)
