"""Initial parameters, drawn exactly as scikit-learn's ``GaussianMixture`` draws them.

``BaseMixture._initialize_parameters`` turns a random state into responsibilities (one-hot
k-means labels, one-hot k-means++ seeds, uniform random, or one-hot random rows) and then runs
one M-step on them with the weights divided by the number of rows. We do the same, consuming
the random state in the same calls and the same order, so ``fit(seed=s)`` starts where
``GaussianMixture(random_state=s)`` starts, init after init. The two k-means methods use
``gmmcli.kmeans``, scikit-learn's KMeans and kmeans_plusplus reproduced in numpy (importing
``sklearn.cluster`` cost seconds per run); nothing here imports scikit-learn or scipy.

With sample weights (scikit-learn's GaussianMixture has none):

* ``kmeans``: as ``KMeans(...).fit(X, sample_weight=w)``; ``k-means++``: as
  ``kmeans_plusplus(X, k, sample_weight=w)``; both weight the seeding and the centroids.
* ``random``: the same uniform responsibilities, then the weighted M-step (r scaled by w).
* ``hc``: mclust's model-based hierarchical agglomeration (``hc``), deterministic; weights do not
  enter the tree, only the M-step on its partition.
* ``random_from_data``: rows drawn without replacement with probability proportional to w
  (so zero-weight rows are never chosen). When all weights are equal the unweighted draw is
  used, so ``sample_weight=ones`` gives exactly the unweighted fit.

In every case the initial M-step is weighted by w, and the initial mixing weights are N_k / sum(w).
"""

from __future__ import annotations

import numbers
import threading

import numpy as np

from .kmeans import kmeans_labels, kmeans_plusplus
from .mstep import m_step
from .params import MixtureParams
from .stats import resp_stats, sum_stats

INIT_METHODS = ("kmeans", "k-means++", "random", "random_from_data", "hc")

#: Starts that draw nothing from the random state: one restart is all they can give.
DETERMINISTIC = ("hc",)


def check_random_state(seed) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``, in numpy alone (same semantics)."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"{seed!r} cannot be used to seed a numpy.random.RandomState instance")


def _uniform_weights(sample_weight) -> bool:
    return sample_weight is None or bool(np.all(sample_weight == sample_weight[0]))


def initial_params(data, n_components: int, init: str, random_state, reg_covar: float) -> MixtureParams:
    """One initialisation, as ``GaussianMixture._initialize_parameters`` does it, on rows that
    ``em`` has prepared (its ``blocks.EMData``): ``data.X``, its weights ``data.w`` (or None), its
    ``covariance_type``, the ``shift`` its statistics are taken about and its block ``bounds``.

    ``random_state`` is consumed in place when it is a RandomState (call this n_init times with
    the same RandomState to reproduce scikit-learn's n_init loop).
    """
    if init not in INIT_METHODS:
        raise ValueError(f"init must be one of {INIT_METHODS}, not {init!r}")
    random_state = check_random_state(random_state)
    X, w, covariance_type, shift = data.X, data.w, data.covariance_type, data.shift
    n = X.shape[0]
    k = n_components

    labels = None  # one label per row
    indices = None  # one row per component
    if init == "kmeans":
        # fewer distinct clusters than k (duplicate points) is fine: scikit-learn warns, we don't.
        # One thread's summation order, whatever the machine and --jobs: a fit's bits must not
        # depend on where it runs (scikit-learn's do, on its OpenMP thread count, in the last bits
        # of the centres; the labels agree).
        labels = _remembered_kmeans(X, k, random_state, w)
    elif init == "k-means++":
        _, indices = kmeans_plusplus(X, k, random_state, sample_weight=w)
    elif init == "hc":
        labels = hc_labels(X, k)  # -1 for rows outside the agglomerated subset
    elif init == "random_from_data":
        if _uniform_weights(w):
            indices = random_state.choice(n, size=k, replace=False)
        else:
            if np.count_nonzero(w) < k:
                raise ValueError(f"random_from_data needs at least {k} rows with positive weight")
            indices = random_state.choice(n, size=k, replace=False, p=w / w.sum())

    parts = []
    for a, b in data.bounds:
        if init == "random":
            # drawn block by block: the same stream, in the same order, as one (n, k) draw
            resp = np.asarray(random_state.uniform(size=(b - a, k)), dtype=X.dtype)
            resp /= np.sum(resp, axis=1)[:, None]
        else:
            resp = np.zeros((b - a, k), dtype=X.dtype)
            if labels is not None:
                rows = np.flatnonzero(labels[a:b] >= 0)
                resp[rows, labels[a:b][rows]] = 1
            else:
                inside = (indices >= a) & (indices < b)
                resp[indices[inside] - a, np.flatnonzero(inside)] = 1
        parts.append(resp_stats(X[a:b], resp, shift, covariance_type, None if w is None else w[a:b]))
    # scikit-learn divides the initial weights by the rows; hc's partition may cover a subset only
    return m_step(sum_stats(parts), reg_covar, initial=init != "hc")


#: A grid asks for the same hc tree at every k, and for the same k-means partition under every
#: covariance model (14 times over): both are remembered, k-means on data up to this many values.
MEMO_MAX_VALUES = 1 << 20
#: What the remembered starts may hold in all (labels, trees), oldest forgotten first.
MEMO_MAX_BYTES = 64 << 20
_MEMO: dict = {}  # (kind, data digest, ...) -> (value, bytes)
_MEMO_LOCK = threading.Lock()  # select's thread backend starts fits concurrently


def _digest(X: np.ndarray, w: np.ndarray | None) -> tuple:
    import hashlib

    h = hashlib.sha1(np.ascontiguousarray(X).data)
    if w is not None:
        h.update(np.ascontiguousarray(w, dtype=np.float64).data)
    return (X.shape, str(X.dtype), h.hexdigest())


def _remember(key: tuple, compute):
    """compute(), kept under ``key`` while the memo stays within ``MEMO_MAX_BYTES``."""
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key][0]
    value = compute()  # outside the lock: two threads may both compute it, with the same result
    size = sum(a.nbytes for a in _arrays(value))
    with _MEMO_LOCK:
        while _MEMO and sum(b for _, b in _MEMO.values()) + size > MEMO_MAX_BYTES:
            del _MEMO[next(iter(_MEMO))]
        if size <= MEMO_MAX_BYTES:
            _MEMO[key] = (value, size)
    return value


def _arrays(value):
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _arrays(item)


def _remembered_kmeans(X, k, random_state: np.random.RandomState, w) -> np.ndarray:
    """``kmeans_labels`` on one thread, remembered by data, k and the random state's position (which
    it then advances exactly as the run itself would), so that the same start under another
    covariance model costs nothing."""
    if X.size > MEMO_MAX_VALUES:
        return kmeans_labels(X, k, random_state, sample_weight=w, n_threads=1)
    state = random_state.get_state()
    position = (state[1].tobytes(), *state[2:])

    def run():
        labels = kmeans_labels(X, k, random_state, sample_weight=w, n_threads=1)
        return labels, random_state.get_state()

    labels, after = _remember(("kmeans", _digest(X, w), k, position), run)
    random_state.set_state(after)
    return labels.copy()


def hc_labels(X: np.ndarray, k: int) -> np.ndarray:
    """mclust's hierarchical partition of X into k clusters (``hc.hc_start``), -1 off its subset.

    The tree is computed once per data set and kept (a grid asks for every k of the same rows);
    above ``hc.MAX_ROWS`` rows it is built on a fixed random subset (seed 0), as mclust does.
    Sample weights do not enter it (nor mclust's).
    """
    from . import hc

    digest = _digest(X, None)  # on any size: a tree costs far more than hashing its data

    def tree():
        rows = np.arange(len(X))
        if len(X) > hc.MAX_ROWS:
            rows = np.sort(np.random.default_rng(0).choice(len(X), size=hc.MAX_ROWS, replace=False))
        return rows, hc.hc_tree(X[rows])

    rows, merges = _remember(("hc", digest), tree)
    if k > len(rows):
        raise ValueError(f"hc cannot start {k} components on {len(rows)} rows")

    def partition():
        labels = np.full(len(X), -1, dtype=np.intp)
        labels[rows] = hc.hc_partitions(merges, len(rows), [k])[k]
        return labels

    return _remember(("hc", digest, k), partition).copy()
