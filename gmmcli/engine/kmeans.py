"""scikit-learn's k-means (``KMeans(n_init=1)`` and ``kmeans_plusplus``), reproduced in numpy.

Why: ``GaussianMixture``'s default initialisation is a k-means run, and ``import sklearn.cluster``
(which pulls in scipy, scipy.stats and more) costs 2.6-3.3 s of every ``gmmcli fit`` on a small
machine, far more than the fit itself. This module needs numpy only (and joblib's
``cpu_count``, for the default thread count below).

What it reproduces, bit for bit (scikit-learn 1.9, dense input, default settings):

* ``kmeans_plusplus``: greedy k-means++ with ``2 + int(log k)`` local trials, the same
  ``random_state.choice`` / ``uniform`` draws, distances by the same numpy expressions
  (float32 upcast in the same batches), the same cumsum, searchsorted and clipping.
* ``kmeans``: ``KMeans(k, n_init=1, random_state=rs).fit(X, sample_weight=w)``: X copied to C
  order and centred by its mean, tolerance ``mean(var(X)) * 1e-4``, k-means++ on the centred
  data, Lloyd iterations (max 300) with the strict-convergence rule (labels unchanged) and the
  center-shift rule, the final relabelling E-step when not strictly converged, empty clusters
  relocated as ``_relocate_empty_clusters_dense`` does, centres averaged as
  ``_average_centers`` does (a reciprocal multiply, empty clusters copied from the heaviest
  one), in float32 when X is float32.

The Cython Lloyd step computes ``||c||^2 - 2 x.c`` with one GEMM per 256-row chunk and picks the
first minimum; we do the same arithmetic with numpy's GEMM on larger blocks (each entry is the
same dot product, so the same bits). It sums the weighted rows per cluster sequentially, one
partial sum per OpenMP thread (``schedule(static)`` over the 256-row chunks), then adds the
partial sums. We sum sequentially too (``bincount``, or ``add.at`` in float32) over the same row
ranges: ``n_threads`` says which thread count to mimic (default: the count scikit-learn would
use here). With more than two threads scikit-learn adds the partial sums in whatever order the
threads finish; we add them in thread order.
"""

from __future__ import annotations

import math
import os
from typing import NamedTuple

import numpy as np

CHUNK_SIZE = 256  # rows per chunk in scikit-learn's Lloyd step (sets the per-thread row ranges)
# Rows per distance block in the E-step: about 2**17 entries, in cache. Larger blocks are no
# faster, and with two BLAS threads on a busy machine several times slower.
_BLOCK_ENTRIES, _MIN_BLOCK_ROWS, _MAX_BLOCK_ROWS = 1 << 17, 256, 4096


class KMeansResult(NamedTuple):
    centers: np.ndarray  # (k, d), in X's float dtype, in X's coordinates
    labels: np.ndarray  # (n,) int32
    n_iter: int


# --------------------------------------------------------------------------------------------
# public


def kmeans_plusplus(X, n_clusters: int, random_state, sample_weight=None):
    """``sklearn.cluster.kmeans_plusplus(X, n_clusters, random_state=..., sample_weight=...)``.

    Returns (centers, indices); ``random_state`` (a RandomState) is consumed as scikit-learn
    consumes it.
    """
    X = _float_array(X, copy=False)
    w = _sample_weight(sample_weight, X)
    if X.shape[0] < n_clusters:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}.")
    return _kmeans_plusplus(X, n_clusters, _row_norms(X), w, _random_state(random_state))


def kmeans(X, n_clusters: int, random_state, sample_weight=None, *, n_threads=None) -> KMeansResult:
    """``KMeans(n_clusters, n_init=1, random_state=random_state).fit(X, sample_weight)``.

    Returns its ``cluster_centers_``, ``labels_`` and ``n_iter_``. Unlike scikit-learn, no
    warning when fewer than n_clusters distinct labels come out (duplicate points): the labels
    say it. ``n_threads``: the OpenMP thread count whose summation order to reproduce.
    """
    X = _float_array(X, copy=True)  # scikit-learn's validate_data(copy_x=True), C order
    if X.shape[0] < n_clusters:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}.")
    tol = np.mean(np.var(X, axis=0)) * 1e-4  # _tolerance(X, 1e-4), before centring
    w = _sample_weight(sample_weight, X)
    X_mean = X.mean(axis=0)
    X -= X_mean  # "for more accurate distance computations"
    random_state = _random_state(random_state)
    centers_init, _ = _kmeans_plusplus(X, n_clusters, _row_norms(X), w, random_state)
    threads = default_n_threads() if n_threads is None else int(n_threads)
    centers, labels, n_iter = _lloyd(X, w, centers_init, 300, tol, threads, sample_weight is None)
    centers += X_mean
    return KMeansResult(centers, labels, n_iter)


def kmeans_labels(X, n_clusters: int, random_state, sample_weight=None, *, n_threads=None) -> np.ndarray:
    """``KMeans(n_clusters, n_init=1, random_state=random_state).fit(X, sample_weight).labels_``."""
    return kmeans(X, n_clusters, random_state, sample_weight, n_threads=n_threads).labels


def default_n_threads() -> int:
    """The OpenMP thread count scikit-learn's KMeans uses by default here.

    ``_openmp_effective_n_threads``: OMP_NUM_THREADS when set, else joblib's ``cpu_count``
    (affinity, cgroup quota, LOKY_MAX_CPU_COUNT). A threadpoolctl limit active around a
    scikit-learn call also lowers its count; we cannot see one, pass ``n_threads`` instead.
    """
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    from joblib import cpu_count  # a gmmcli dependency, light (scikit-learn uses the same)

    return cpu_count()


# --------------------------------------------------------------------------------------------
# input checks (what validate_data / _check_sample_weight do for dense float input)


def _random_state(seed) -> np.random.RandomState:
    """A RandomState is used (and consumed) as given; an int or None seeds a new one."""
    if isinstance(seed, np.random.RandomState):
        return seed
    return np.random.RandomState(seed)


def _float_array(X, copy: bool) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    if copy:
        return np.array(X, dtype=dtype, order="C", copy=True)
    return X.astype(dtype, copy=False)


def _sample_weight(sample_weight, X) -> np.ndarray:
    """Weights in X's dtype (scikit-learn casts float64 weights to float32 for float32 X)."""
    n = X.shape[0]
    if sample_weight is None:
        return np.ones(n, dtype=X.dtype)
    w = np.array(sample_weight, dtype=X.dtype, order="C", copy=True)
    if w.shape != (n,):
        raise ValueError(f"sample_weight.shape == {w.shape}, expected {(n,)}!")
    if np.all(w == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return w


def _row_norms(X) -> np.ndarray:
    """``row_norms(X, squared=True)`` (the same einsum, so the same bits)."""
    return np.einsum("ij,ij->i", X, X)


# --------------------------------------------------------------------------------------------
# k-means++ (sklearn/cluster/_kmeans.py: _kmeans_plusplus)


def _kmeans_plusplus(X, n_clusters, x_squared_norms, sample_weight, random_state):
    """Greedy k-means++: each new centre is the best of 2 + log(k) candidates drawn by D^2."""
    n_samples, n_features = X.shape
    centers = np.empty((n_clusters, n_features), dtype=X.dtype)
    n_local_trials = 2 + int(np.log(n_clusters))

    center_id = random_state.choice(n_samples, p=sample_weight / sample_weight.sum())
    indices = np.full(n_clusters, -1, dtype=int)
    centers[0] = X[center_id]
    indices[0] = center_id

    closest_dist_sq = _squared_distances(centers[0, np.newaxis], X, x_squared_norms)
    current_pot = closest_dist_sq @ sample_weight

    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        candidate_ids = np.searchsorted(np.cumsum(sample_weight * closest_dist_sq), rand_vals)
        # numerical imprecision can put a candidate past the end
        np.clip(candidate_ids, None, closest_dist_sq.size - 1, out=candidate_ids)

        distance_to_candidates = _squared_distances(X[candidate_ids], X, x_squared_norms)
        np.minimum(closest_dist_sq, distance_to_candidates, out=distance_to_candidates)
        candidates_pot = distance_to_candidates @ sample_weight.reshape(-1, 1)

        best = np.argmin(candidates_pot)
        current_pot = candidates_pot[best]
        closest_dist_sq = distance_to_candidates[best]
        centers[c] = X[candidate_ids[best]]
        indices[c] = candidate_ids[best]
    return centers, indices


def _squared_distances(A, Y, y_squared_norms):
    """``_euclidean_distances(A, Y, Y_norm_squared=..., squared=True)`` for dense A, Y."""
    if A.dtype == np.float32 or Y.dtype == np.float32:
        distances = _squared_distances_upcast(A, Y)  # float32 norms are not used
    else:
        distances = (-2 * A) @ Y.T  # -2 (A @ Y.T) bit for bit (a power of two), one pass less
        distances += _row_norms(A)[:, None]
        distances += y_squared_norms.reshape(1, -1)
    np.maximum(distances, np.asarray(0, dtype=distances.dtype), out=distances)
    return distances


def _squared_distances_upcast(A, Y):
    """``_euclidean_distances_upcast``: float32 data, float64 arithmetic, in the same batches."""
    n_a, n_y, n_features = A.shape[0], Y.shape[0], A.shape[1]
    distances = np.empty((n_a, n_y), dtype=np.float32)
    maxmem = max(((n_a + n_y) * n_features + n_a * n_y) / 10, 10 * 2**17)
    tmp = 2 * n_features
    batch_size = max(int((-tmp + math.sqrt(tmp**2 + 4 * maxmem)) / 2), 1)
    for a in _batches(n_a, batch_size):
        A_chunk = A[a, :].astype(np.float64)
        AA_chunk = _row_norms(A_chunk)[:, None]
        for y in _batches(n_y, batch_size):
            Y_chunk = Y[y, :].astype(np.float64)
            d = (-2 * A_chunk) @ Y_chunk.T
            d += AA_chunk
            d += _row_norms(Y_chunk)[None, :]
            distances[a, y] = d.astype(np.float32, copy=False)
    return distances


def _batches(n, batch_size):
    """``gen_batches(n, batch_size)``."""
    return [slice(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]


# --------------------------------------------------------------------------------------------
# Lloyd (sklearn/cluster/_kmeans.py: _kmeans_single_lloyd; _k_means_lloyd.pyx; _k_means_common.pyx)


def _lloyd(X, w, centers, max_iter, tol, n_threads, unweighted=False):
    """Lloyd iterations until the labels stop changing or the centres move less than tol.

    ``unweighted``: w is all ones, so the weighted sums need no multiplication.
    """
    ranges = _thread_row_ranges(X.shape[0], n_threads)
    labels_old = np.full(X.shape[0], -1, dtype=np.int32)
    strict_convergence = False
    for i in range(max_iter):  # noqa: B007 - i counts the iterations returned
        labels = _assign(X, centers)
        centers_new, weight_in_clusters = _cluster_sums(
            X, None if unweighted else w, labels, centers.shape[0], ranges
        )
        _relocate_empty_clusters(X, w, centers, centers_new, weight_in_clusters, labels)
        _average_centers(centers_new, weight_in_clusters)
        center_shift = _center_shift(centers, centers_new)
        centers = centers_new
        if np.array_equal(labels, labels_old):
            strict_convergence = True
            break
        if (center_shift**2).sum() <= tol:
            break
        labels_old = labels
    if not strict_convergence:
        labels = _assign(X, centers)  # so that the labels match the returned centres
    return centers, labels, i + 1


def _assign(X, centers) -> np.ndarray:
    """Index of the nearest centre by ``||c||^2 - 2 x.c`` (first one on ties), int32."""
    n, k = X.shape[0], centers.shape[0]
    centers_squared_norms = _row_norms(centers)
    minus_2c = -2 * centers  # exact; X @ (-2c).T is -2 (X @ c.T) bit for bit, like GEMM's alpha
    labels = np.empty(n, dtype=np.int32)
    block = min(max(_BLOCK_ENTRIES // k, _MIN_BLOCK_ROWS), _MAX_BLOCK_ROWS)
    for a in range(0, n, block):
        distances = X[a : a + block] @ minus_2c.T
        distances += centers_squared_norms
        labels[a : a + block] = distances.argmin(axis=1)
    return labels


def _thread_row_ranges(n_samples, n_threads):
    """Rows each OpenMP thread sums: ``prange(n_chunks, schedule='static')`` over 256-row chunks.

    libgomp's static schedule gives thread t a contiguous run of chunks, the first
    ``n_chunks % n_threads`` threads one chunk more.
    """
    n_chunks = -(-n_samples // CHUNK_SIZE)
    n_threads = max(1, min(n_threads, n_chunks))
    q, r = divmod(n_chunks, n_threads)
    ranges, start = [], 0
    for t in range(n_threads):
        stop = start + q + (t < r)
        ranges.append((start * CHUNK_SIZE, min(stop * CHUNK_SIZE, n_samples)))
        start = stop
    return ranges


def _cluster_sums(X, w, labels, n_clusters, ranges):
    """Per-cluster sums of w*x and of w (w None: all ones), as the Lloyd step's threads add them.

    Each thread's rows are summed in row order from zero, then the threads' sums are added.
    """
    n_features = X.shape[1]
    sums = np.zeros(n_clusters * n_features, dtype=X.dtype)
    weights = np.zeros(n_clusters, dtype=X.dtype)
    feature = np.arange(n_features)
    for a, b in ranges:
        lab = labels[a:b]
        if w is None and X.dtype == np.float64:  # adding ones in float64 counts exactly
            weights += np.bincount(lab, minlength=n_clusters)
        else:  # (in float32 a sum of ones stops counting at 2**24, scikit-learn's too)
            ones_or_w = np.ones(b - a, dtype=X.dtype) if w is None else w[a:b]
            weights += _sequential_sums(lab, ones_or_w, n_clusters)
        values = X[a:b] if w is None else X[a:b] * w[a:b, None]  # x * 1.0 == x
        # entry (row i, feature f) goes to bin label_i * d + f; bins fill in row order
        bins = lab[:, None] * n_features + feature
        sums += _sequential_sums(bins.ravel(), values.ravel(), n_clusters * n_features)
    return sums.reshape(n_clusters, n_features), weights


def _sequential_sums(bins, values, n_bins):
    """sum(values[bins == j]) for every j, added one by one in order, in values' dtype."""
    if values.dtype == np.float64:
        return np.bincount(bins, weights=values, minlength=n_bins)
    out = np.zeros(n_bins, dtype=values.dtype)  # bincount would add in float64
    np.add.at(out, bins, values)
    return out


def _relocate_empty_clusters(X, w, centers_old, centers_new, weight_in_clusters, labels):
    """``_relocate_empty_clusters_dense``: each cluster with zero weight takes over one of the
    points farthest from their centres (its weighted sum moves from the old cluster to it)."""
    empty_clusters = np.where(np.equal(weight_in_clusters, 0))[0].astype(np.int32)
    n_empty = empty_clusters.shape[0]
    if n_empty == 0:
        return
    distances = ((X - centers_old[labels]) ** 2).sum(axis=1)
    far_from_centers = np.argpartition(distances, -n_empty)[: -n_empty - 1 : -1].astype(np.int32)
    if np.max(distances) == 0:
        return  # more clusters than distinct points: nothing to move
    for new_cluster_id, far_idx in zip(empty_clusters, far_from_centers):
        weight = w[far_idx]
        old_cluster_id = labels[far_idx]
        moved = X[far_idx] * weight
        centers_new[old_cluster_id] -= moved
        centers_new[new_cluster_id] = moved
        weight_in_clusters[new_cluster_id] = weight
        weight_in_clusters[old_cluster_id] -= weight


def _average_centers(centers, weight_in_clusters):
    """``_average_centers``: sums times 1/weight; a still-empty cluster copies the heaviest row.

    The Cython loop runs over the clusters in order, so an empty cluster before the heaviest
    one copies its not-yet-averaged sum, one after it the averaged centre; kept as is.
    """
    argmax_weight = np.argmax(weight_in_clusters)
    positive = weight_in_clusters > 0
    # alpha = 1.0 / w: a C double division, stored in the floating type
    alpha = (1.0 / weight_in_clusters[positive].astype(np.float64)).astype(centers.dtype)
    raw_heaviest = centers[argmax_weight].copy()
    centers[positive] *= alpha[:, None]
    empty = np.flatnonzero(~positive)
    if empty.size:
        centers[empty] = np.where((empty < argmax_weight)[:, None], raw_heaviest, centers[argmax_weight])


def _center_shift(centers_old, centers_new):
    """``_center_shift``: Euclidean norms summed as ``_euclidean_dense_dense`` unrolls them
    (groups of four squares added left to right, then the remainder)."""
    sq = centers_new - centers_old
    sq *= sq
    n_features = sq.shape[1]
    result = np.zeros(sq.shape[0], dtype=sq.dtype)
    n4 = n_features // 4 * 4
    for f in range(0, n4, 4):
        result += ((sq[:, f] + sq[:, f + 1]) + sq[:, f + 2]) + sq[:, f + 3]
    for f in range(n4, n_features):
        result += sq[:, f]
    return np.sqrt(result)
