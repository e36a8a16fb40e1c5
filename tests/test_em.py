"""The EM engine against scikit-learn, and its own promises (weights, float32, jobs, seam)."""

from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest

from gmmcli.engine import blocks, covariance, density, em, emdata, estep, stats
from gmmcli.engine.params import IllDefinedCovariance, MixtureParams

COV_TYPES = ["full", "tied", "diag", "spherical"]
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
INITS = ["kmeans", "k-means++", "random", "random_from_data"]


# --------------------------------------------------------------------------------------------
# data


def _blobs():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=400, centers=4, cluster_std=0.6, random_state=0)
    return X


def _moons():
    from sklearn.datasets import make_moons

    X, _ = make_moons(200, noise=0.05, random_state=0)
    return X


def _aniso():
    return _blobs() @ np.random.RandomState(2018).randn(2, 2)


DATASETS = {"blobs": _blobs, "moons": _moons, "aniso": _aniso}


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """Tiny problems: multi-threaded BLAS only spins (badly, on a busy 2-core machine)."""
    import sklearn.cluster  # noqa: F401  load scipy's and sklearn's BLAS/OpenMP first,
    import sklearn.mixture  # noqa: F401  so that the limit reaches them too
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data():
    return {name: make() for name, make in DATASETS.items()}


def _sklearn_fit(X, k=None, **kw):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    if k is not None:
        kw["n_components"] = k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(**kw).fit(X)


def _sklearn_from(X, start, max_iter):
    """scikit-learn's EM from gmmcli's starting parameters, tol = 0, for max_iter iterations."""
    return _sklearn_fit(X, tol=0.0, max_iter=max_iter, **start.sklearn_start())


def _same_partition(a, b):
    """Labels equal up to a renaming of the components."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


# --------------------------------------------------------------------------------------------
# against scikit-learn


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("init", INITS)
def test_matches_sklearn(data, dataset, covariance_type, init):
    X = data[dataset]
    for seed in (0, 7, 42):
        gm = _sklearn_fit(X, 4, covariance_type=covariance_type, init_params=init, random_state=seed)
        res = em.fit(X, 4, covariance_type=covariance_type, init=init, seed=seed)
        labels = density.predict(X, res.params)
        np.testing.assert_array_equal(labels, gm.predict(X))
        np.testing.assert_array_equal(labels, gm.fit_predict(X))  # sklearn's final E-step
        assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-8, abs=0)
        assert res.n_iter == gm.n_iter_
        assert res.converged == gm.converged_
        p = res.params
        scale = np.abs(X).max()
        np.testing.assert_allclose(p.weights, gm.weights_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(p.means, gm.means_, rtol=1e-8, atol=1e-10 * scale)
        cov_scale = np.abs(gm.covariances_).max()
        np.testing.assert_allclose(p.covariances, gm.covariances_, rtol=1e-7, atol=1e-10 * cov_scale)
        np.testing.assert_allclose(p.precisions_cholesky, gm.precisions_cholesky_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_matches_sklearn_n_init(data, covariance_type):
    """Several restarts: the same best lower bound and partition as scikit-learn.

    (Restarts that reach the same optimum tie to rounding, so which one's label order wins may
    differ; the partition and the lower bound may not.)
    """
    X = data["blobs"]
    for init in ("kmeans", "random"):
        gm = _sklearn_fit(X, 4, covariance_type=covariance_type, init_params=init, random_state=3, n_init=3)
        res = em.fit(X, 4, covariance_type=covariance_type, init=init, seed=3, n_init=3)
        assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-8, abs=0)
        assert _same_partition(density.predict(X, res.params), gm.predict(X))


def test_initial_params_match_sklearn_init(data):
    """max_iter=0: sklearn keeps the last init's parameters, lower bound -inf, n_iter 0."""
    X = data["aniso"]
    for covariance_type in COV_TYPES:
        for init in INITS:
            gm = _sklearn_fit(
                X,
                3,
                covariance_type=covariance_type,
                init_params=init,
                random_state=1,
                max_iter=0,
                n_init=2,
            )
            res = em.fit(X, 3, covariance_type=covariance_type, init=init, seed=1, max_iter=0, n_init=2)
            assert res.n_iter == 0 and res.converged is False
            assert res.lower_bound == -math.inf == gm.lower_bound_
            np.testing.assert_allclose(res.params.means, gm.means_, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(res.params.weights, gm.weights_, rtol=1e-10)
            np.testing.assert_allclose(res.params.covariances, gm.covariances_, rtol=1e-9, atol=1e-12)


def test_tol_and_max_iter_semantics(data):
    X = data["moons"]
    for tol, max_iter in ((0.0, 7), (1e-1, 100), (1e-8, 3)):
        gm = _sklearn_fit(X, 5, tol=tol, max_iter=max_iter, random_state=2)
        res = em.fit(X, 5, tol=tol, max_iter=max_iter, seed=2)
        assert (res.n_iter, res.converged) == (gm.n_iter_, gm.converged_)
        assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-10)


def test_reg_covar_and_more_components(data):
    X = data["aniso"]
    for reg in (0.0, 1e-3, 0.5):
        gm = _sklearn_fit(X, 8, reg_covar=reg, random_state=0)
        res = em.fit(X, 8, reg_covar=reg, seed=0)
        assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-8)
        np.testing.assert_array_equal(density.predict(X, res.params), gm.predict(X))


@pytest.mark.parametrize("n_features, k", [(12, 5), (20, 3)])  # (20, 3): moments by GEMM
def test_higher_dimension_matches_sklearn(n_features, k):
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=3000, n_features=n_features, centers=k, random_state=4)
    for covariance_type in COV_TYPES:
        gm = _sklearn_fit(X, k, covariance_type=covariance_type, random_state=4)
        res = em.fit(X, k, covariance_type=covariance_type, seed=4)
        assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-8)
        assert res.n_iter == gm.n_iter_
        np.testing.assert_array_equal(density.predict(X, res.params), gm.predict(X))


# --------------------------------------------------------------------------------------------
# sample weights


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_integer_weights_equal_repeated_rows(data, covariance_type):
    X = data["aniso"]
    w = np.random.RandomState(5).randint(0, 4, size=X.shape[0])  # zeros drop rows
    X_rep = np.repeat(X, w, axis=0)
    start = em.initial_params(X_rep, 4, covariance_type, init="kmeans", random_state=0)
    a = em.fit(X, 4, covariance_type=covariance_type, sample_weight=w, init_params=start)
    b = em.fit(X_rep, 4, covariance_type=covariance_type, init_params=start)
    assert a.n_iter == b.n_iter and a.converged == b.converged
    assert a.lower_bound == pytest.approx(b.lower_bound, rel=1e-8, abs=0)
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        np.testing.assert_allclose(getattr(a.params, name), getattr(b.params, name), rtol=1e-8, atol=1e-12)
    # and with run_em directly, tol=0 so both run the same number of iterations
    a = em.run_em(X, start, tol=0, max_iter=25, sample_weight=w)
    b = em.run_em(X_rep, start, tol=0, max_iter=25)
    assert a.lower_bound == pytest.approx(b.lower_bound, rel=1e-8, abs=0)
    np.testing.assert_allclose(a.params.covariances, b.params.covariances, rtol=1e-8)
    # the weighted log-likelihood and criteria count repeated rows
    assert em.log_likelihood(X, a.params, w) == pytest.approx(em.log_likelihood(X_rep, a.params), rel=1e-10)
    assert em.bic(X, a.params, w) == pytest.approx(em.bic(X_rep, a.params), rel=1e-10)
    assert em.effective_rows(X, w) == X_rep.shape[0]


@pytest.mark.parametrize("init", INITS)
def test_unit_weights_are_unweighted(data, init):
    X = data["blobs"]
    a = em.fit(X, 4, init=init, seed=0)
    b = em.fit(X, 4, init=init, seed=0, sample_weight=np.ones(X.shape[0]))
    assert a.n_iter == b.n_iter
    assert b.lower_bound == pytest.approx(a.lower_bound, rel=1e-12)
    np.testing.assert_allclose(b.params.means, a.params.means, rtol=1e-10)


def test_weighted_initialisation_uses_weights(data):
    X = data["blobs"]
    w = np.zeros(X.shape[0])
    w[:100] = 1.0  # only the first 100 rows count
    for init in INITS:
        p = em.initial_params(X, 3, init=init, random_state=0, sample_weight=w)
        if init in ("kmeans", "random"):
            assert p.weights.sum() == pytest.approx(1.0)
        else:  # one row per component: sklearn's initial weights are 1 / n_rows each
            np.testing.assert_allclose(p.weights, 1 / w.sum())
        if init in ("kmeans", "k-means++", "random_from_data"):
            # every initial mean lies inside the hull of the weighted rows' bounding box
            lo, hi = X[:100].min(axis=0), X[:100].max(axis=0)
            assert np.all(p.means >= lo - 1e-9) and np.all(p.means <= hi + 1e-9)
    res = em.fit(X, 3, sample_weight=w, seed=0, init="random_from_data")
    ref = em.fit(
        X[:100],
        3,
        init_params=em.initial_params(X, 3, init="random_from_data", random_state=0, sample_weight=w),
    )
    assert res.lower_bound == pytest.approx(ref.lower_bound, rel=1e-10)


def test_bad_weights_rejected(data):
    X = data["blobs"]
    for w in (np.ones(3), -np.ones(X.shape[0]), np.zeros(X.shape[0]), np.full(X.shape[0], np.nan)):
        with pytest.raises(ValueError):
            em.fit(X, 2, sample_weight=w)


# --------------------------------------------------------------------------------------------
# float32


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_close_to_float64(data, covariance_type):
    X = data["aniso"]
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)  # the same numbers
    start = em.initial_params(X64, 4, covariance_type, init="kmeans", random_state=0)
    a = em.run_em(X32, start, tol=0, max_iter=30)
    b = em.run_em(X64, start, tol=0, max_iter=30)
    assert a.lower_bound == pytest.approx(b.lower_bound, rel=1e-4)
    for name in ("weights", "means", "covariances"):
        x, y = getattr(a.params, name), getattr(b.params, name)
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-4 * np.abs(y).max())
    # and a whole fit from the same seed
    a = em.fit(X32, 4, covariance_type=covariance_type, seed=0)
    b = em.fit(X64, 4, covariance_type=covariance_type, seed=0)
    assert a.lower_bound == pytest.approx(b.lower_bound, rel=1e-4)
    np.testing.assert_allclose(a.params.means, b.params.means, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("k, d", [(3, 6), (2, 8)])  # (2, 8): full's moments by scatter GEMM
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_matches_sklearn_float64(covariance_type, k, d):
    """float32 data (phi and the moments' GEMM in float32, block sums in float64) against
    scikit-learn's float64 EM on the same numbers from the same start: the lower bound within
    1e-6 (issue 17's float32 target), the parameters to float32's precision."""
    from sklearn.datasets import make_blobs

    X32 = make_blobs(n_samples=3000, n_features=d, centers=k, random_state=5)[0].astype(np.float32)
    X64 = X32.astype(np.float64)  # the same numbers
    start = em.initial_params(X64, k, covariance_type, init="kmeans", random_state=0)
    gm = _sklearn_from(X64, start, max_iter=10)
    res = em.run_em(X32, start, tol=0.0, max_iter=10, block_rows=512)  # six blocks
    assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-6, abs=0)
    np.testing.assert_allclose(res.params.weights, gm.weights_, rtol=1e-5)
    np.testing.assert_allclose(res.params.means, gm.means_, rtol=0, atol=1e-5 * np.abs(X64).max())
    scale = np.abs(gm.covariances_).max()
    np.testing.assert_allclose(res.params.covariances, gm.covariances_, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("gap, kernel", [(3.0, "quadratic"), (300.0, "direct")])
def test_float32_estep_stays_float32(monkeypatch, gap, kernel):
    """The E-step sees float32 blocks and computes in float32, by the float32 expansion where
    its bound admits it (overlapping components) and else by the direct kernel (two tight
    components far apart: the expansion cancels); X is never copied whole."""
    rng = np.random.RandomState(0)
    n = 400_000  # 16 MB: two threads' blocks of the expansion's phi reach 9 MB
    X = (rng.randn(n, 10) + gap * (rng.rand(n, 1) > 0.5)).astype(np.float32)
    start = em.initial_params(X[:5000], 2, "full", init="kmeans", random_state=0)
    seen, phis = [], []
    original = blocks.block_stats
    features = estep.phi_features

    def spy(Xb, state, *args, **kw):
        seen.append((Xb.dtype, state.dtype, state.kernel, Xb.base is X or Xb.base is None))
        return original(Xb, state, *args, **kw)

    def spy_features(*args):
        phis.append(features(*args)[0].dtype)
        return features(*args)

    monkeypatch.setattr(blocks, "block_stats", spy)
    monkeypatch.setattr(estep, "phi_features", spy_features)
    tracemalloc.start()
    try:
        em.run_em(X, start, tol=0, max_iter=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen and all(s[:3] == (np.float32, np.float32, kernel) for s in seen)
    assert phis and set(phis) == {np.dtype(np.float32)}  # the moments' features too
    # a copy alone would reach X.nbytes; the blocks' temporaries (two threads) stay well below
    assert peak < X.nbytes, f"peak {peak} bytes: a copy of X ({X.nbytes} bytes) was made"


def _spy_states(monkeypatch):
    """The (block dtype, state dtype, kernel) of every block the EM loop runs."""
    seen = []
    original = blocks.block_stats

    def spy(Xb, state, *args, **kw):
        seen.append((Xb.dtype, state.dtype, state.kernel))
        return original(Xb, state, *args, **kw)

    monkeypatch.setattr(blocks, "block_stats", spy)
    return seen


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_float32_variances_take_the_float64_expansion(monkeypatch, covariance_type):
    """float32 variances: float32 blocks, phi and the one small GEMM in float64 (the direct
    form's elementwise passes were 2-4x slower), so the same numbers as float64 data give
    float64's lower bound and parameters to rounding; X is never copied whole."""
    from sklearn.datasets import make_blobs

    X32 = make_blobs(300_000, 8, centers=5, random_state=2)[0].astype(np.float32)
    X64 = X32.astype(np.float64)
    start = em.initial_params(X64[:3000], 5, covariance_type, random_state=0)
    b = em.run_em(X64, start, tol=0, max_iter=5)
    seen = _spy_states(monkeypatch)
    monkeypatch.setattr(emdata, "FEATURE_CACHE_BYTES", 0)  # (the cache of phi is memory by design)
    tracemalloc.start()
    try:
        a = em.run_em(X32, start, tol=0, max_iter=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen and set(seen) == {(F32, F64, "quadratic")}
    assert a.lower_bound == pytest.approx(b.lower_bound, rel=1e-12)
    np.testing.assert_allclose(a.params.covariances, b.params.covariances, rtol=1e-10)
    assert peak < X32.nbytes, f"peak {peak} bytes: a copy of X ({X32.nbytes} bytes) was made"


@pytest.mark.parametrize("covariance_type", ["full"])
def test_float32_screened_kernel_for_many_components(monkeypatch, covariance_type):
    """float32 matrix covariances with many components: the expansion's GEMM in float32,
    screened (the pairs near each row's best recomputed by the float32 direct arithmetic):
    scikit-learn's float64 lower bound from the same start within issue 17's 1e-6."""
    from sklearn.datasets import make_blobs

    k = estep.SCREEN_MIN_COMPONENTS + 8  # tight components far apart: the expansion cancels
    X32 = make_blobs(6000, 6, centers=k, center_box=(-60, 60), random_state=3)[0].astype(np.float32)
    X64 = X32.astype(np.float64)
    start = em.initial_params(X64, k, covariance_type, init="kmeans", random_state=0)
    _float32_kernel_against_sklearn(monkeypatch, X32, start, "screened", max_iter=5)


def _float32_kernel_against_sklearn(monkeypatch, X32, start, kernel, max_iter):
    """EM on float32 X32 takes ``kernel`` (float32 blocks and state) in every block, and gives
    scikit-learn's float64 lower bound from the same start within issue 17's 1e-6 and its means to
    float32's precision; returns (ours, scikit-learn's)."""
    X64 = X32.astype(np.float64)
    gm = _sklearn_from(X64, start, max_iter=max_iter)
    seen = _spy_states(monkeypatch)
    res = em.run_em(X32, start, tol=0, max_iter=max_iter)
    assert seen and set(seen) == {(F32, F32, kernel)}
    assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-6, abs=0)
    np.testing.assert_allclose(res.params.means, gm.means_, rtol=0, atol=1e-5 * np.abs(X64).max())
    return res, gm


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shared_precision_takes_the_whitened_kernel(monkeypatch, dtype):
    """tied: one precision factor for every component, so y = W (x - shift) is one (d, d) GEMM
    and |y - nu_k|^2 one (k, d) GEMM, in float64 for float32 data too: scikit-learn's float64
    lower bound, means and covariance from the same start (the same values) to rounding."""
    from sklearn.datasets import make_blobs

    X = make_blobs(5000, 12, centers=5, random_state=5)[0].astype(dtype)
    X64 = X.astype(np.float64)
    start = em.initial_params(X64, 5, "tied", init="kmeans", random_state=0)
    gm = _sklearn_from(X64, start, max_iter=8)
    seen = _spy_states(monkeypatch)
    res = em.run_em(X, start, tol=0, max_iter=8)
    assert seen and set(seen) == {(np.dtype(dtype), F64, "whitened")}
    assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-11, abs=0)
    np.testing.assert_allclose(res.params.means, gm.means_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(res.params.covariances, gm.covariances_, rtol=1e-9, atol=1e-12)


def test_whitened_kernel_equals_direct_and_serves_only_a_shared_precision():
    """Row by row the whitened kernel's log-densities are the direct kernel's to within the
    expansion's bound; where that bound fails tied takes the direct kernel, never the
    expansion; a model with a precision per component cannot take the whitened one."""
    from sklearn.datasets import make_blobs

    X = make_blobs(3000, 9, centers=4, random_state=6)[0]
    start = em.initial_params(X, 4, "tied", random_state=0)
    shift = X.mean(axis=0)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))
    state = estep.prepare_estep(start, shift, radius2=r2)
    assert state.kernel == "whitened"
    phi, q = stats.features(X, shift, start.structure, False, np.float64)
    got = estep._whitened_log_prob(phi, q, state)
    want = estep._direct_log_prob(X, phi, q, estep.prepare_estep(start, shift, kernel="direct"))
    assert np.max(np.abs(got - want)) <= estep.quadratic_error_bound(start, shift, r2)
    full = em.initial_params(X, 4, "full", random_state=0)
    with pytest.raises(ValueError, match="whitened E-step kernel does not serve the full"):
        estep.prepare_estep(full, shift, kernel="whitened")
    with pytest.raises(ValueError, match="quadratic E-step kernel does not serve the tied"):
        estep.prepare_estep(start, shift, kernel="quadratic")
    far = em.initial_params(X + 1e6, 4, "tied", random_state=0)  # the bound fails: exact form
    assert estep.prepare_estep(far, X.mean(axis=0) + 1e6, radius2=1e14).kernel == "direct"


def test_float32_expansion_bound_is_honoured():
    """The float32 expansion's error bound (float32's eps): each row's log-density from the
    float32 GEMM is the float64 direct kernel's to within it, so the screen's margin (twice the
    bound) keeps every pair that matters."""
    from sklearn.datasets import make_blobs

    X32 = make_blobs(4000, 7, centers=40, center_box=(-60, 60), random_state=4)[0].astype(np.float32)
    X64 = X32.astype(np.float64)
    start = em.initial_params(X64, 40, "full", init="kmeans", random_state=0)
    shift = stats.frame_shift(X64.mean(axis=0), np.float32)
    r2 = float(np.max(np.sum((X64 - shift) ** 2, axis=1)))
    state = estep.prepare_estep(start, shift, dtype=np.float32, radius2=r2)
    assert state.kernel == "screened" and state.coef.dtype == np.float32
    bound = estep.quadratic_error_bound(start, shift, r2, np.float32)
    assert bound > estep.FLOAT32_MAX_ERROR  # too coarse to serve alone
    assert state.screen == pytest.approx(estep.SCREEN_NATS + 2 * bound)
    phi, q = stats.features(X32, shift, start.structure, True, np.float32)
    approx = (state.coef @ phi).astype(np.float64)
    direct = estep.prepare_estep(start, shift, kernel="direct")
    phi64, _ = stats.features(X64, shift, start.structure, True, np.float64)
    exact = estep._direct_log_prob(X64, phi64, q, direct)
    err = np.max(np.abs(approx - exact))
    assert 0 < err <= bound


def test_float32_expansion_serves_overlapping_components(monkeypatch):
    """Overlapping components (std 5, d=40) hardly cancel: the float32 expansion's bound is
    below FLOAT32_MAX_ERROR, so it serves alone, one float32 GEMM (half the direct kernel's
    flops). Row by row it is the float64 direct kernel's to within the bound, and ten EM
    iterations from the same start give scikit-learn's float64 lower bound within issue 17's
    1e-6 (the parameters to float32's precision)."""
    from sklearn.datasets import make_blobs

    X32 = make_blobs(6000, 40, centers=6, cluster_std=5.0, random_state=4)[0].astype(np.float32)
    X64 = X32.astype(np.float64)
    start = em.initial_params(X64, 6, "full", init="kmeans", random_state=0)
    shift = stats.frame_shift(X64.mean(axis=0), np.float32)
    r2 = float(np.max(np.sum((X64 - shift) ** 2, axis=1)))
    state = estep.prepare_estep(start, shift, dtype=np.float32, radius2=r2)
    bound = estep.quadratic_error_bound(start, shift, r2, np.float32)
    assert state.kernel == "quadratic" and state.coef.dtype == np.float32
    assert 1e-9 < bound <= estep.FLOAT32_MAX_ERROR
    phi, q = stats.features(X32, shift, start.structure, True, np.float32)
    approx = estep.expanded_log_prob(phi, state.coef)
    phi64, _ = stats.features(X64, shift, start.structure, True, np.float64)
    exact = estep._direct_log_prob(X64, phi64, q, estep.prepare_estep(start, shift, kernel="direct"))
    assert 0 < np.max(np.abs(approx - exact)) <= bound
    res, gm = _float32_kernel_against_sklearn(monkeypatch, X32, start, "quadratic", max_iter=10)
    scale = np.abs(gm.covariances_).max()
    np.testing.assert_allclose(res.params.covariances, gm.covariances_, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize(
    "covariance_type, d, k, doubled",
    [("full", 50, 16, True), ("full", 41, 150, True), ("full", 10, 8, False), ("diag", 50, 16, False)],
)
def test_float32_phi_blocks_hold_the_bytes_of_float64s(covariance_type, d, k, doubled):
    """A block of float32 phi (float32 matrix covariances) has twice the rows where the floor
    sets them (wide phi), so that its bytes and its share of fixed costs are float64's; where
    the work or the bytes set them, or phi is float64 (variances), the rows are float64's."""
    X = np.zeros((10, d))
    rows = {dt: emdata.EMData(X.astype(dt), None, covariance_type, k).block_rows for dt in (F64, F32)}
    assert rows[F32] == (2 if doubled else 1) * rows[F64]


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_no_negative_variances(covariance_type):
    """scikit-learn issue #30382: float32 data far from the origin gave negative variances."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(300, 2) * 0.01, rng.randn(300, 2) * 0.01 + 0.1]) + 1000
    X32 = X.astype(np.float32)
    a = em.fit(X32, 2, covariance_type=covariance_type, seed=0)
    b = em.fit(X32.astype(np.float64), 2, covariance_type=covariance_type, seed=0)
    cov = a.params.covariances
    if covariance_type in ("full", "tied"):
        assert np.all(np.linalg.eigvalsh(cov) > 0)
    else:
        assert np.all(cov > 0)
    # float32 moments (float64 block sums): variances to 1e-4, tiny covariances to 1e-5 of them
    scale = np.abs(b.params.covariances).max()
    np.testing.assert_allclose(cov, b.params.covariances, rtol=1e-4, atol=1e-5 * scale)
    assert a.lower_bound == pytest.approx(b.lower_bound, rel=1e-4)


# --------------------------------------------------------------------------------------------
# parallel restarts


def test_jobs_do_not_change_the_result(data):
    X = np.vstack([data["aniso"]] * 5)
    a = em.fit(X, 5, n_init=4, seed=11, jobs=1, init="random")
    b = em.fit(X, 5, n_init=4, seed=11, jobs=2, init="random")
    assert (a.n_iter, a.converged, a.lower_bound) == (b.n_iter, b.converged, b.lower_bound)
    for name in ("weights", "means", "covariances", "precisions_cholesky"):
        np.testing.assert_array_equal(getattr(a.params, name), getattr(b.params, name))
    gm = _sklearn_fit(X, 5, n_init=4, random_state=11, init_params="random")
    assert a.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-8)


def test_threads_do_not_change_the_result(data):
    X = np.vstack([data["blobs"]] * 20)
    start = em.initial_params(X, 4, "full", random_state=0)
    # 63 blocks, summed in 32 fixed groups
    a = em.run_em(X, start, tol=0, max_iter=5, threads=1, block_rows=128)
    b = em.run_em(X, start, tol=0, max_iter=5, threads=2, block_rows=128)
    assert a.lower_bound == b.lower_bound
    np.testing.assert_array_equal(a.params.covariances, b.params.covariances)


# --------------------------------------------------------------------------------------------
# failures


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_ill_defined_covariance(covariance_type):
    # sklearn's test_regularisation: two collapsed points, no regularisation
    X = np.vstack((np.ones((10, 5)), np.zeros((10, 5))))
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        _sklearn_fit(X, 5, covariance_type=covariance_type, reg_covar=0, random_state=0)
    with pytest.raises(IllDefinedCovariance):
        em.fit(X, 5, covariance_type=covariance_type, reg_covar=0, seed=0)
    em.fit(X, 5, covariance_type=covariance_type, reg_covar=1e-6, seed=0)  # regularised: fine


def test_bad_input_rejected():
    with pytest.raises(ValueError):
        em.fit(np.zeros((3, 2)), 4)
    with pytest.raises(ValueError):
        em.fit(np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), 2)
    with pytest.raises(ValueError):
        em.fit(np.zeros(5), 1)
    with pytest.raises(ValueError):
        em.fit(np.random.rand(10, 2), 2, covariance_type="banana")
    with pytest.raises(ValueError):
        em.fit(np.random.rand(10, 2), 2, init="banana")


# --------------------------------------------------------------------------------------------
# the seam and the scoring helpers


def _random_params(rng, k, d, covariance_type):
    means = rng.randn(k, d) * 3
    w = rng.rand(k) + 0.2
    A = rng.randn(k, d, d) * 0.3
    full = A @ np.swapaxes(A, 1, 2) + np.eye(d)
    cov = {
        "full": full,
        "tied": full[0],
        "diag": rng.rand(k, d) + 0.5,
        "spherical": rng.rand(k) + 0.5,
    }[covariance_type]
    return MixtureParams.from_covariances(covariance_type, w / w.sum(), means, cov)


@pytest.mark.parametrize("k, d", [(3, 4), (2, 8)])  # (2, 8): full's moments by GEMM
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_block_statistics_are_additive(covariance_type, k, d):
    rng = np.random.RandomState(1)
    X = rng.randn(1000, d) * 2 + 1
    w = rng.rand(1000)
    params = _random_params(rng, k, d, covariance_type)
    shift = X.mean(axis=0)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))
    state = estep.prepare_estep(params, shift, radius2=r2)
    whole = estep.block_stats(X, state, w)
    parts = stats.sum_stats(
        estep.block_stats(X[a:b], state, w[a:b]) for a, b in [(0, 7), (7, 500), (500, 1000)]
    )
    np.testing.assert_allclose(parts.moments, whole.moments, rtol=1e-12, atol=1e-12)
    assert parts.loglik == pytest.approx(whole.loglik, rel=1e-13)
    assert parts.weight == pytest.approx(w.sum())
    # the statistics are what they claim to be
    resp = density.predict_proba(X, params) * w[:, None]
    xc = X - shift
    np.testing.assert_allclose(whole.nk, resp.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(whole.s1, resp.T @ xc, rtol=1e-11, atol=1e-11)
    full_s2 = np.einsum("nk,ni,nj->kij", resp, xc, xc)
    expect = {
        "full": full_s2,
        "tied": np.einsum("n,ni,nj->ij", w, xc, xc),
        "diag": np.einsum("kii->ki", full_s2),
        "spherical": np.einsum("kii->k", full_s2),
    }[covariance_type]
    np.testing.assert_allclose(whole.s2, expect, rtol=1e-11, atol=1e-10)
    loglik = np.sum(w * density.score_samples(X, params))
    assert whole.loglik == pytest.approx(loglik, rel=1e-12)
    assert em.log_likelihood(X, params, w) == pytest.approx(loglik, rel=1e-12)
    # both E-step kernels agree (the expansion, or for tied the whitening)
    fast = "quadratic" if params.structure.expands else "whitened"
    direct = estep.block_stats(X, estep.prepare_estep(params, shift, kernel="direct"), w)
    quad = estep.block_stats(X, estep.prepare_estep(params, shift, kernel=fast), w)
    np.testing.assert_allclose(direct.moments, quad.moments, rtol=1e-10, atol=1e-10)
    assert direct.loglik == pytest.approx(quad.loglik, rel=1e-12)


def test_kernel_choice_guards_precision():
    """Tight components far from the centre: the quadratic expansion is not used."""
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(200, 3) * 1e-3 + 1e3, rng.randn(200, 3) * 1e-3 - 1e3])
    params = MixtureParams.from_covariances(
        "full",
        np.array([0.5, 0.5]),
        np.array([[1e3] * 3, [-1e3] * 3]),
        np.stack([np.eye(3) * 1e-6] * 2),
    )
    shift = X.mean(axis=0)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))
    assert estep.prepare_estep(params, shift, radius2=r2).kernel == "direct"
    assert em.log_likelihood(X, params) == pytest.approx(np.sum(density.score_samples(X, params)), rel=1e-12)


def test_scoring_helpers_match_sklearn(data):
    X = data["aniso"]
    for covariance_type in COV_TYPES:
        gm = _sklearn_fit(X, 3, covariance_type=covariance_type, random_state=0)
        params = MixtureParams(
            covariance_type, gm.weights_, gm.means_, gm.covariances_, gm.precisions_cholesky_
        )
        assert em.log_likelihood(X, params) == pytest.approx(gm.score(X) * len(X), rel=1e-12)
        assert em.aic(X, params) == pytest.approx(gm.aic(X), rel=1e-12)
        assert em.bic(X, params) == pytest.approx(gm.bic(X), rel=1e-12)


@pytest.fixture(scope="module")
def digits_pca():
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    return PCA(0.99, whiten=True).fit_transform(load_digits().data)


@pytest.mark.parametrize("k", [32, 101, 191])
def test_screened_kernel_equals_direct(digits_pca, k):
    """Many tight components (the notebook's digits): the screened kernel is chosen, and its
    statistics equal the direct kernel's to rounding, with and without weights."""
    X = digits_pca
    params = em.run_em(X, em.initial_params(X, k, "full", random_state=0), max_iter=1).params
    shift = X.mean(axis=0)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))
    screened = estep.prepare_estep(params, shift, radius2=r2)
    assert screened.kernel == "screened"
    direct = estep.prepare_estep(params, shift, kernel="direct")
    w = np.random.RandomState(k).uniform(0.5, 2.0, len(X))
    for weights in (None, w):
        a = estep.block_stats(X, direct, weights)
        b = estep.block_stats(X, screened, weights)
        np.testing.assert_allclose(b.moments, a.moments, rtol=1e-12, atol=1e-12 * np.abs(a.moments).max())
        assert b.loglik == pytest.approx(a.loglik, rel=1e-13)
        assert estep.block_stats(X, screened, weights, moments=False).loglik == pytest.approx(
            a.loglik, rel=1e-13
        )


def test_screened_kernel_falls_back_when_many_pairs_are_close(monkeypatch):
    """Broad overlapping components: every pair is close, the block is computed directly."""
    X = np.random.RandomState(1).randn(300, 3)
    params = MixtureParams.from_covariances(
        "full", np.full(40, 1 / 40), np.random.RandomState(2).randn(40, 3) * 0.1, np.stack([np.eye(3)] * 40)
    )
    calls = []
    monkeypatch.setattr(estep, "_direct_log_prob", lambda *a: calls.append(1) or direct_log_prob(*a))
    state = estep.prepare_estep(
        params, X.mean(axis=0), radius2=float(np.max(np.sum(X**2, axis=1))) * 4, kernel="screened"
    )
    got = estep.block_stats(X, state)
    assert calls  # the fallback ran
    assert got.loglik == pytest.approx(np.sum(density.score_samples(X, params)), rel=1e-12)


direct_log_prob = estep._direct_log_prob


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_screened_kernel_for_variances(covariance_type):
    """Tight components far apart: the expansion's bound is too large, variances take the
    screened kernel (equal to the direct one to rounding), and EM keeps scikit-learn's numbers
    (most pairs' log-probabilities underflow exp here: EXP_FLOOR's case)."""
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(3000, 12, centers=6, cluster_std=0.05, center_box=(-500, 500), random_state=1)
    start = em.initial_params(X, 6, covariance_type, random_state=0)
    shift = X.mean(axis=0)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))
    screened = estep.prepare_estep(start, shift, radius2=r2)
    assert screened.kernel == "screened" and screened.floor == estep.EXP_FLOOR
    a = estep.block_stats(X, estep.prepare_estep(start, shift, kernel="direct"))
    b = estep.block_stats(X, screened)
    np.testing.assert_allclose(b.moments, a.moments, rtol=1e-12, atol=1e-12 * np.abs(a.moments).max())
    assert b.loglik == pytest.approx(a.loglik, rel=1e-13)
    gm = _sklearn_fit(X, 6, covariance_type=covariance_type, random_state=0)
    res = em.fit(X, 6, covariance_type=covariance_type, seed=0)
    assert res.lower_bound == pytest.approx(gm.lower_bound_, rel=1e-8, abs=0)
    assert res.n_iter == gm.n_iter_
    # scikit-learn's variances are E[x^2] - mean^2 about the origin: with |x| ~ 500 and
    # variances ~ 0.0025 they carry ~eps * x^2 of rounding per step (2.5e-7 relative seen on
    # AVX-512 kernels), which is what this tolerance allows and no more
    atol = 100 * np.finfo(np.float64).eps * float(np.max(X**2))
    np.testing.assert_allclose(res.params.covariances, gm.covariances_, rtol=1e-7, atol=atol)


@pytest.mark.parametrize("covariance_type", ["diag", "spherical", "full"])
def test_expansion_bound_is_honoured(covariance_type):
    """The expansion's bound uses the largest precision (variances) or |P|'s largest row sum
    (matrices), not the trace (d times larger for round components): where it admits the
    quadratic kernel, each row's log-density is the direct kernel's to within the bound (the
    row farthest out sets the radius)."""
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(3000, 12, centers=6, cluster_std=0.3, center_box=(-15, 15), random_state=1)
    X[0] += 12.0  # a row off its cluster: the radius is its distance
    start = em.initial_params(X, 6, covariance_type, random_state=0)
    shift = X.mean(axis=0)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))
    bound = estep.quadratic_error_bound(start, shift, r2)
    quadratic = estep.prepare_estep(start, shift, radius2=r2)
    assert quadratic.kernel == "quadratic" and bound <= estep.QUADRATIC_MAX_ERROR
    direct = estep.prepare_estep(start, shift, kernel="direct")
    phi, q = stats.features(X, shift, start.structure, True, np.float64)
    approx = quadratic.coef @ phi
    exact = estep._direct_log_prob(X, phi, q, direct)
    assert np.max(np.abs(approx - exact)) <= bound


def test_matrix_precision_scale_is_the_smaller_of_row_sum_and_trace():
    """|P|'s largest row sum bounds x^T|P|x / |x|^2 (its spectral radius); so does the trace.
    Round components get the row sum (d times below the trace), correlated ones the trace."""
    full = covariance.get("full").structure
    d = 6
    correlated = np.linalg.inv(np.full((d, d), 0.99) + 0.01 * np.eye(d))
    pc = np.stack([np.eye(d) * 2.0, np.linalg.cholesky(correlated)])
    prec = pc @ np.swapaxes(pc, 1, 2)
    scale = full.precision_scale(pc, d)
    np.testing.assert_allclose(scale[0], 4.0)  # trace 24
    rows, trace = np.abs(prec[1]).sum(axis=1).max(), np.trace(prec[1])
    assert scale[1] == pytest.approx(min(rows, trace))
    rng = np.random.RandomState(0)
    for p, bound in zip(prec, scale):  # the bound holds for any x
        x = np.abs(rng.randn(1000, d))
        terms = np.einsum("ni,ij,nj->n", x, np.abs(p), x)
        assert np.all(terms <= bound * (x * x).sum(axis=1) * (1 + 1e-12))
    tied = covariance.get("tied").structure
    np.testing.assert_allclose(tied.precision_scale(pc[0], d), [4.0])


@pytest.mark.parametrize("covariance_type, dtype", [("diag", F64), ("full", F64), ("full", F32)])
def test_gemms_in_column_chunks_equal_one_gemm(monkeypatch, covariance_type, dtype):
    """A block wider than GEMM_COLUMNS runs its GEMMs over phi a piece at a time: the same
    statistics as one GEMM over the whole block (float32: its sums of 4,096 rows in float32)."""
    rng = np.random.RandomState(7)
    X = (
        rng.randn(3 * stats.GEMM_COLUMNS + 5, 6) * 2 + rng.randint(0, 3, (3 * stats.GEMM_COLUMNS + 5, 1))
    ).astype(dtype)
    params = _random_params(rng, 3, 6, covariance_type)
    shift = X.mean(axis=0, dtype=np.float64)
    r2 = float(np.max(np.sum((X - shift) ** 2, axis=1)))
    state = estep.prepare_estep(params, shift, dtype=dtype, radius2=r2)
    chunked = estep.block_stats(X, state)
    monkeypatch.setattr(stats, "GEMM_COLUMNS", 10**9)
    monkeypatch.setattr(stats, "SMALL_GEMM", 0)
    whole = estep.block_stats(X, state)
    rtol = 1e-12 if dtype == F64 else 1e-5
    np.testing.assert_allclose(
        chunked.moments, whole.moments, rtol=rtol, atol=rtol * np.abs(whole.moments).max()
    )
    assert chunked.loglik == pytest.approx(whole.loglik, rel=rtol)


def test_column_chunks_keep_small_gemms_unpacked():
    """Chunks cover the block in order; with the GEMM's other sizes given, each chunk keeps
    m * n * k within SMALL_GEMM unless that would take fewer than MIN_COLUMNS columns."""
    for n, other, step in [
        (10_000, None, 4096),
        (10_000, 66 * 8, 1024),
        (10_000, 1326 * 16, 4096),
        (300, 66 * 8, 300),
    ]:
        chunks = stats.column_chunks(n, other)
        assert np.array_equal(np.concatenate([np.arange(n)[c] for c in chunks]), np.arange(n))
        assert chunks[0].stop - chunks[0].start == step
        if other is not None and step >= stats.MIN_COLUMNS and step < stats.GEMM_COLUMNS:
            assert step * other <= stats.SMALL_GEMM < 2 * step * other


def test_zero_weight_keeps_exact_zeros():
    """A component of weight zero: no floor under its log-probabilities, its N_k stays 0."""
    rng = np.random.RandomState(0)
    X = rng.randn(500, 3)
    params = _random_params(rng, 3, 3, "full")
    params = MixtureParams.from_covariances(
        "full", np.array([0.5, 0.5, 0.0]), params.means, params.covariances
    )
    state = estep.prepare_estep(params, X.mean(axis=0), kernel="direct")
    assert state.floor == -math.inf
    assert estep.block_stats(X, state).nk[2] == 0.0


@pytest.mark.parametrize("d", [1, 2, 3, 6, 7, 50])
def test_quadratic_features_are_each_pair_once(d):
    """The full structure's quadratic rows of phi are x_i x_j over packed_pairs: every pair
    i <= j exactly once (odd and even d: at distance d/2 each pair comes up twice), and a
    packed matrix unpacks to itself."""
    from gmmcli.engine.covariance.structures import packed_pairs, unpack_symmetric

    i, j = packed_pairs(d)
    assert len(i) == d * (d + 1) // 2
    assert {tuple(sorted(p)) for p in zip(i.tolist(), j.tolist())} == set(zip(*np.triu_indices(d)))
    xt = np.random.RandomState(d).randn(d, 9)
    out = np.full((len(i), 9), np.nan)
    covariance.get("full").structure.square_features(xt, out)
    np.testing.assert_array_equal(out, xt[i] * xt[j])
    sym = np.random.RandomState(1).randn(d, d)
    sym = sym + sym.T
    np.testing.assert_array_equal(unpack_symmetric(sym[None, i, j], d)[0], sym)
