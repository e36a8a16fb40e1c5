"""gmmcli.engine.kmeans against scikit-learn's KMeans(n_init=1) and kmeans_plusplus, the reference.

Every comparison checks the labels (identical), the centres (1e-10 relative), the iteration
count, and that the RandomState is left where scikit-learn leaves it (the next draw is equal).
scikit-learn runs under a threadpoolctl limit (one thread unless a test says otherwise) and we
mimic the thread count it reports, because its Lloyd step sums per OpenMP thread.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from threadpoolctl import threadpool_limits

from gmmcli.engine import kmeans as km

# --------------------------------------------------------------------------------------------
# helpers


def _reference(X, k, seed, w=None, threads=1):
    """scikit-learn's fit under a thread limit (None: default threads), and its thread count."""
    rs = np.random.RandomState(seed)
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # duplicate points
        fitted = KMeans(n_clusters=k, n_init=1, random_state=rs).fit(X, sample_weight=w)
        n_threads = _openmp_effective_n_threads()
    return fitted, rs, n_threads


def _assert_same_fit(X, k, seed, w=None, threads=1):
    """Our k-means equals scikit-learn's on X; returns (ours, reference) for further checks."""
    ref, ref_rs, n_threads = _reference(X, k, seed, w, threads)
    rs = np.random.RandomState(seed)
    ours = km.kmeans(X, k, rs, w, n_threads=n_threads)
    assert_array_equal(ours.labels, ref.labels_)
    scale = np.abs(ref.cluster_centers_).max()
    assert_allclose(ours.centers, ref.cluster_centers_, rtol=1e-10, atol=1e-10 * scale)
    assert ours.centers.dtype == ref.cluster_centers_.dtype
    assert ours.n_iter == ref.n_iter_
    assert rs.uniform() == ref_rs.uniform()
    return ours, ref


def _numeric(path):
    """A sample CSV's numeric columns, without its id column (what gmmcli fits)."""
    frame = pd.read_csv(path).select_dtypes("number")
    return frame.drop(columns=["id"], errors="ignore").to_numpy(dtype=float)


@pytest.fixture(scope="module")
def digits():
    """The digits, PCA-whitened to 99% of the variance (1797 x 41): many clusters, real data."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    return PCA(0.99, whiten=True).fit_transform(load_digits().data)


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=20_000, n_features=10, centers=8, random_state=0)
    return X


# --------------------------------------------------------------------------------------------
# KMeans


@pytest.mark.parametrize("path", sorted(SAMPLE.glob("*.csv")), ids=lambda p: p.stem)
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_sample_data_sets(path, k):
    X = _numeric(path)
    for seed in (0, 1, 2):
        _assert_same_fit(X, k, seed)


@pytest.mark.parametrize("k", [1, 11, 51, 101, 191])
def test_digits_pca_whitened(digits, k):
    _assert_same_fit(digits, k, seed=k)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blobs_20000_by_10(blobs, seed):
    _assert_same_fit(blobs, 8, seed)


def test_float32_stays_float32(digits, blobs):
    _assert_same_fit(digits.astype(np.float32), 51, seed=3)
    _assert_same_fit(blobs.astype(np.float32), 8, seed=3)


def test_integer_and_real_weights_with_zeros(digits):
    rng = np.random.RandomState(0)
    integer_w = rng.randint(0, 4, len(digits)).astype(float)  # about a quarter zero
    real_w = rng.uniform(0, 3, len(digits))
    real_w[::5] = 0
    for seed in (0, 1):
        _assert_same_fit(digits, 31, seed, integer_w)
        _assert_same_fit(digits, 31, seed, real_w)
    _assert_same_fit(digits.astype(np.float32), 31, 0, real_w)  # weights cast to float32


def test_input_layout_does_not_matter(digits):
    _assert_same_fit(np.asfortranarray(digits), 21, seed=4)
    _assert_same_fit(digits[::2, ::2], 21, seed=4)


def _duplicates():
    """Two distinct 1-D values, 13 and 16 times: three or four clusters cannot all keep points."""
    return np.random.RandomState(0).permutation(np.repeat([0.0, 5.0], [13, 16]))[:, None]


def _zero_weight_first_row():
    """Three distinct weighted points and a zero-weight row 0: k-means++ runs out of weighted
    points and takes row 0 (the first index of an all-zero cumsum), a centre of zero weight."""
    X = np.array([-5.0] + [0.0] * 10 + [1.0] * 10 + [0.4, 2.5, 6.0])[:, None]
    w = np.array([0.0] + [1.0] * 20 + [0.0, 0.0, 2.0])
    return X, w


@pytest.fixture
def relocations(monkeypatch):
    """The largest point-to-centre distance of every relocation call that had empty clusters
    (0: scikit-learn returns early, every point sits on its centre; > 0: points are moved)."""
    real = km._relocate_empty_clusters
    seen = []

    def spy(X, w, centers_old, centers_new, weight_in_clusters, labels):
        if np.any(weight_in_clusters == 0):
            seen.append(float(((X - centers_old[labels]) ** 2).sum(axis=1).max()))
        return real(X, w, centers_old, centers_new, weight_in_clusters, labels)

    monkeypatch.setattr(km, "_relocate_empty_clusters", spy)
    return seen


def test_empty_clusters_of_duplicate_points_relocated_like_sklearn(relocations):
    """Duplicates: k-means++ seeds a value twice, a cluster stays empty. After centring, the
    averaged centres sit an ulp off the points, so the far point scikit-learn moves into the
    empty cluster (which decides that cluster's final centre) is chosen by rounding alone:
    only exact arithmetic matches it."""
    X = _duplicates()
    for k in (3, 4):
        for seed in range(3):
            ours, _ = _assert_same_fit(X, k, seed)
            assert len(np.unique(ours.labels)) == 2
    assert 0 in relocations  # the early return
    assert any(d > 0 for d in relocations), "no run moved a point: the branch went untested"


def test_empty_zero_weight_cluster_relocated_like_sklearn(relocations):
    """A cluster holding only zero-weight rows is empty too; points far from their centres
    (1.5 and 5 away) are moved into it."""
    X, w = _zero_weight_first_row()
    for seed in range(3):
        _assert_same_fit(X, 4, seed, w)
    assert max(relocations) >= 1


def test_relocation_can_empty_a_cluster_below_the_heaviest(monkeypatch):
    """Relocating three points takes all three of cluster 0's: it ends empty, below the
    heaviest cluster, and scikit-learn's in-order loop copies that cluster's sum before
    averaging it (an empty cluster above it gets the averaged centre)."""
    X = np.array([[6, 5], [1, 6], [8, 1], [0, 1], [0, 1], [0, 1],
                  [1, 6], [6, 5], [1, 6], [8, 1], [8, 1], [0, 1]], dtype=float)  # fmt: skip
    real = km._average_centers
    below_heaviest = []

    def spy(centers, weight_in_clusters):
        empty = np.flatnonzero(weight_in_clusters <= 0)
        below_heaviest.extend(empty[empty < np.argmax(weight_in_clusters)])
        return real(centers, weight_in_clusters)

    monkeypatch.setattr(km, "_average_centers", spy)
    _assert_same_fit(X, 7, seed=1428)
    assert below_heaviest


def test_far_points_picked_among_ties_like_sklearn(relocations):
    """Rounding-level distances tie; which points get moved is argpartition's choice."""
    rng = np.random.RandomState(9)
    X = rng.permutation(np.repeat([1.0, 4.0, 7.0, 8.0], [11, 18, 9, 11]))[:, None]
    for seed in range(4):
        _assert_same_fit(X, 7, seed)
    assert any(d > 0 for d in relocations)


def test_k_equal_to_n_samples():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    ours, _ = _assert_same_fit(X, 40, seed=0)
    assert sorted(ours.labels) == list(range(40))
    _assert_same_fit(_duplicates(), 29, seed=0)  # two distinct points, 29 centres


def test_calls_in_a_row_consume_the_random_state_like_sklearn(digits):
    """GaussianMixture's n_init loop hands the same RandomState to KMeans again and again."""
    ours_rs, ref_rs = np.random.RandomState(5), np.random.RandomState(5)
    for _ in range(3):
        with threadpool_limits(limits=1):
            ref = KMeans(n_clusters=7, n_init=1, random_state=ref_rs).fit(digits)
        assert_array_equal(km.kmeans(digits, 7, ours_rs, n_threads=1).labels, ref.labels_)
    assert ours_rs.uniform() == ref_rs.uniform()


def test_too_many_clusters_is_an_error():
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=4"):
        km.kmeans(np.zeros((3, 2)), 4, np.random.RandomState(0))


# --------------------------------------------------------------------------------------------
# threads: scikit-learn sums per OpenMP thread; we reproduce its order, bit for bit


@pytest.mark.parametrize("threads", [1, 2])
def test_bit_for_bit_at_one_and_two_threads(digits, threads):
    rng = np.random.RandomState(1)
    w = rng.uniform(0, 2, len(digits))
    for X, k, weights in [(digits, 51, None), (digits, 51, w), (digits.astype(np.float32), 51, w)]:
        ours, ref = _assert_same_fit(X, k, 2, weights, threads=threads)
        assert_array_equal(ours.centers, ref.cluster_centers_)


def test_the_thread_count_changes_the_last_bits(digits):
    """Without this, the tests above could not tell one summation order from the other."""
    one = km.kmeans(digits, 51, np.random.RandomState(2), n_threads=1)
    two = km.kmeans(digits, 51, np.random.RandomState(2), n_threads=2)
    assert_array_equal(one.labels, two.labels)
    assert not np.array_equal(one.centers, two.centers)
    assert_allclose(one.centers, two.centers, rtol=0, atol=1e-13)


def test_default_thread_count_is_sklearns(digits, monkeypatch):
    # a Dask LocalCluster started earlier in this process sets OMP_NUM_THREADS=1 after OpenMP
    # has read it: scikit-learn then still counts what OpenMP read, so leave the variable out
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert km.default_n_threads() == _openmp_effective_n_threads()
    ref, ref_rs, _ = _reference(digits, 21, 6, threads=None)
    rs = np.random.RandomState(6)
    ours = km.kmeans(digits, 21, rs)  # no n_threads: what gmmcli's initialisation calls
    assert_array_equal(ours.labels, ref.labels_)
    assert_array_equal(ours.centers, ref.cluster_centers_)
    assert rs.uniform() == ref_rs.uniform()


# --------------------------------------------------------------------------------------------
# kmeans_plusplus


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_seeding_distances_bit_for_bit(digits, dtype):
    """k-means++'s distances, float32 ones upcast in batches as scikit-learn does."""
    from sklearn.metrics.pairwise import euclidean_distances

    X = digits.astype(dtype)
    norms = km._row_norms(X)
    for rows in ([5], [0, 7, 300, 1796]):
        ref = euclidean_distances(X[rows], X, Y_norm_squared=norms, squared=True)
        assert_array_equal(km._squared_distances(X[rows], X, norms), ref)


def _assert_same_seeds(X, k, seed, w=None):
    ref_rs, rs = np.random.RandomState(seed), np.random.RandomState(seed)
    ref_centers, ref_indices = sk_kmeans_plusplus(X, k, random_state=ref_rs, sample_weight=w)
    centers, indices = km.kmeans_plusplus(X, k, rs, sample_weight=w)
    assert_array_equal(indices, ref_indices)
    assert_array_equal(centers, ref_centers)
    assert centers.dtype == ref_centers.dtype
    assert rs.uniform() == ref_rs.uniform()


def test_kmeans_plusplus(digits, blobs):
    w = np.random.RandomState(0).uniform(0, 1, len(digits))
    w[::3] = 0
    for seed in (0, 1):
        _assert_same_seeds(digits, 101, seed)
        _assert_same_seeds(digits, 101, seed, w)
        _assert_same_seeds(digits.astype(np.float32), 101, seed, w)
        _assert_same_seeds(digits[:, ::3], 30, seed)  # not C-contiguous
    _assert_same_seeds(blobs, 8, 0)
    _assert_same_seeds(blobs.astype(np.float32), 8, 0)
    zero_w_rows = np.flatnonzero(w == 0)
    _, indices = km.kmeans_plusplus(digits, 101, np.random.RandomState(0), sample_weight=w)
    assert not np.isin(indices, zero_w_rows).any()
