"""Model-based hierarchical agglomeration, mclust's ``hc`` (model "VVV"), as an EM start.

What it reproduces: R mclust 6's ``hclass(hc(X, use = "SVD"), G)``, the start ``Mclust`` computes
(``mclust.options("hcUse") == "SVD"``, ``hcModelName == "VVV"``), merge for merge. Each merge joins
the two clusters whose union least increases the VVV classification criterion of Fortran ``hcvvv``
(``alpha = traceW(Z / sqrt(n p))``, ``beta = 1``): a cluster of ``m`` points with scatter ``W``
scores ``m log(beta (tr W + alpha) / m)`` while ``m <= p`` and
``m log(det(W / m) + beta (tr W + alpha) / m)`` beyond; a merge costs the union's score minus its
parts' scores. ``use="SVD"`` first standardises the columns (R's ``scale``), drops non-finite
(constant) columns and maps onto the singular vectors, ``Z = Y V diag(1 / sqrt(d))`` for
``Y = U D V'``, with LAPACK's signs as R has them; directions with a zero singular value are dropped
(mclust would divide by zero). ``use="VARS"`` agglomerates the data as given (``hc()``'s own default
argument; also the way to run the agglomeration on mclust's transformed data, as the tests do).

Why exact rather than in spirit: the start decides which EM optimum is reached, and users compare
with mclust. So this follows ``hcvvv`` where the textbook criterion and it part:

* Its stored factors. ``hcvvv`` keeps each cluster's triangular factor of ``W`` but writes the
  factor's first row into every stored row; clusters other than the one just formed are then used
  with that factor (see ``_stored``). With true factors, 5 of the 12 reference trees differ from
  mclust's (1 of the 6 SVD ones: wreath, at 2 and 3 clusters).
* Its bookkeeping and tie-break: the union stays in the lower slot, the last slot moves into the
  freed one, and among equal costs the last pair in the packed order ``(1,2), (1,3), (2,3), ...``
  of the slots wins. Exact ties are common with repeated rows and integer data.
* Its arithmetic where ties hinge on it: ``sqrt(m) * mean`` per cluster, the same combinations and
  left-to-right sums as its reference-BLAS build, the score of a union rebuilt from its cost when
  ``hcvvv`` rebuilds it. Given the same transformed data, the merge sequences are mclust's on
  every data set tried (with heavy ties too) and the costs agree to ~1e-12 (determinants here come
  from LU, there from Givens rotations). From raw rows, near-ties left by the SVD (rows whose
  differences repeat exactly, e.g. a small-integer grid) are broken by the SVD's last bits, which
  numpy's LAPACK and R's do not share; on the reference data sets all trees are still mclust's.

Merges are named as ``hc`` names them: each cluster by its lowest row (0-based here), (lower, higher).

Cost: O(n^2) memory (the n x n merge costs: 32 MB at 2,000 rows) and, per merge, one vectorised row of
new costs (O(n p^3)) plus refreshing the cached column minima that pointed at the two changed slots:
about O(n^2 p^3) in all, O(n^3) at worst. On 5 columns (2 shared cores): n = 200 in 0.05 s,
1,000 in 0.4 s, 2,000 in 1.5 s, 3,000 in 3.7 s (mclust's Fortran: 0.03, 0.3, 1.6, 6.2 s). Above
``MAX_ROWS`` rows, ``hc_start`` agglomerates a seeded random subset, as ``Mclust`` does; the caller
runs one M-step on the subset's partition and E-steps on all rows.

numpy only: the fit path must not import scipy or scikit-learn.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["MAX_ROWS", "HcStart", "hc_partitions", "hc_start", "hc_transform", "hc_tree"]

#: Rows agglomerated at most by ``hc_start``: mclust's default ``subset`` (so that up to there the
#: start is Mclust's own), where the agglomeration takes ~1.5 s on 5 columns and 32 MB, and beyond
#: which its O(n^2) memory and time grow past what one start is worth (3.7 s at 3,000 rows).
MAX_ROWS = 2000

_RTHALF = 0.7071067811865476  # hcvvv's sqrt(1/2), used for pairs of single rows
_EPS = 2.220446049250313e-16  # .Machine$double.eps, hcVVV's floor for alpha


class HcStart(NamedTuple):
    """``rows``: the (sorted) rows agglomerated; ``labels[k]``: their partition into k clusters."""

    rows: np.ndarray
    labels: dict[int, np.ndarray]


def hc_transform(X, use: str = "SVD") -> np.ndarray:
    """The data ``hc`` agglomerates: mclust's ``use="SVD"`` transformation, or ``"VARS"`` (as given)."""
    X = _matrix(X)
    use = use.upper()
    if use == "VARS":
        return X.copy()
    if use != "SVD":
        raise ValueError(f"use must be 'SVD' or 'VARS', not {use!r}")
    Y = X - X.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        Y = Y / np.sqrt((Y * Y).sum(axis=0) / (len(Y) - 1))
    Y = Y[:, np.isfinite(Y).all(axis=0)]  # dropCols: a constant column scales to NaN
    if Y.shape[1] == 0:
        raise ValueError("no column varies: nothing to agglomerate on")
    _, d, vt = np.linalg.svd(Y, full_matrices=False)  # LAPACK dgesdd, as R's svd(): the same signs
    keep = d > d[0] * len(Y) * _EPS
    return (Y @ vt[keep].T) * (1.0 / np.sqrt(d[keep]))


def hc_tree(X, *, use: str = "SVD", costs: bool = False):
    """The n - 1 merges of mclust's ``hc(X, "VVV", use)``: an (n - 1, 2) int array, 0-based.

    Row s joins the clusters named ``merges[s, 0] < merges[s, 1]`` (each by its lowest row).
    ``costs=True`` also returns each merge's criterion increase (what ``hcvvv`` computes).
    """
    X = _matrix(X)
    if len(X) < 2:
        raise ValueError("hierarchical agglomeration needs at least 2 rows")
    merges, cost = _agglomerate(hc_transform(X, use))
    return (merges, cost) if costs else merges


def hc_partitions(merges, n: int, ks) -> dict[int, np.ndarray]:
    """``hclass``: the partition into k clusters (labels 0..k-1 in order of first appearance) per k."""
    merges = np.asarray(merges, dtype=np.intp)
    ks = sorted({int(k) for k in ks}, reverse=True)
    if merges.shape != (n - 1, 2) or (ks and not 1 <= ks[-1] <= ks[0] <= n):
        raise ValueError(f"need n - 1 merges and 1 <= k <= n (n = {n}, ks = {ks})")
    # follow each cluster name to the name it merges into: labels stay "lowest row of the cluster"
    name = np.arange(n)
    out: dict[int, np.ndarray] = {}
    done = 0
    for k in ks:
        for i, j in merges[done : n - k]:
            name[name == j] = i
        done = n - k
        _, first, inverse = np.unique(name, return_index=True, return_inverse=True)
        rank = np.empty(len(first), dtype=np.intp)
        rank[np.argsort(first)] = np.arange(len(first))
        out[k] = rank[inverse]
    return out


def hc_start(X, ks, *, max_rows: int = MAX_ROWS, seed=0, use: str = "SVD") -> HcStart:
    """Partitions into each k in ``ks`` for an EM start, on at most ``max_rows`` rows.

    Up to ``max_rows`` rows, all rows are agglomerated; beyond, a random subset of ``max_rows``
    rows drawn with ``numpy.random.default_rng(seed)`` (an int or a Generator), kept in the data's
    order; the subset is transformed on its own (``Mclust`` calls ``hc(data[subset, ])``).
    Compute it once for all k: the tree is shared.
    The other rows get no label: the caller fits one M-step on ``rows`` and E-steps on all rows.
    """
    X = _matrix(X)
    n = len(X)
    if max_rows < 2:
        raise ValueError("max_rows must be at least 2")
    rows = np.arange(n)
    if n > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
    merges = hc_tree(X[rows], use=use)
    return HcStart(rows, hc_partitions(merges, len(rows), ks))


# ------------------------------------------------------------------------------------------------


def _matrix(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or not np.isfinite(X).all():
        raise ValueError("need a 2-D array of finite numbers")
    return X


def _seqsum(a: np.ndarray) -> np.ndarray:
    """Sum over the last axis left to right, as reference BLAS ``ddot`` does (numpy sums pairwise)."""
    acc = a[..., 0].copy()
    for c in range(1, a.shape[-1]):
        acc += a[..., c]
    return acc


def _alpha(Z: np.ndarray) -> float:
    """hcVVV's ``alpha = traceW(Z / sqrt(n p))``, floored at eps, in mclust's order (``mcltrw``)."""
    n, p = Z.shape
    x = Z / np.sqrt(float(n * p))
    fac = 1.0 / np.sqrt(float(n))
    u = np.cumsum(fac * x, axis=0)[-1]
    x = x + (-fac * u)
    ss = 0.0
    for c in range(p):
        ss += np.cumsum(x[:, c] * x[:, c])[-1]
    return max(float(ss), _EPS)


def _terms(crit, m: np.ndarray, tr: np.ndarray, scatter) -> np.ndarray:
    """Scores of candidate unions (``vvvtij``): sizes ``m``, traces ``tr``; ``scatter(idx)`` gives W."""
    p, alpha, beta = crit
    with np.errstate(divide="ignore"):
        base = np.log(beta * (tr + alpha) / m)
    big = m > p
    if not big.any():
        return m * base
    t = np.where(big & (tr == 0.0), np.log(alpha * beta / m), base)
    idx = np.flatnonzero(big & (tr != 0.0))
    if len(idx):
        sign, logdet = np.linalg.slogdet(scatter(idx) * (1.0 / m[idx])[:, None, None])  # log det(W / m)
        logdet[sign == 0] = -np.inf  # hcvvv: a zero on the factor's diagonal, the trace alone
        b = beta * (tr[idx] + alpha) / m[idx]
        with np.errstate(over="ignore", divide="ignore"):
            low = np.log(np.exp(logdet) + b)
            high = np.log(1.0 + np.exp(-np.maximum(logdet, 0.0)) * b) + logdet
        t[idx] = np.where(np.isneginf(logdet), base[idx], np.where(logdet <= 0.0, low, high))
    return m * t


def _stored(r1: np.ndarray, cnt: np.ndarray, p: int) -> np.ndarray:
    """The scatter matrices hcvvv reads back for clusters it stored (a stack, one per row of r1).

    hcvvv keeps a merged cluster's triangular factor in ``min(size - 1, p)`` rows of its work
    array, but writes the factor's first row into each of them (``dcopy(p, r(1,1), p, x(l,1), n)``)
    and reads row t back from column t on. So a cluster is seen as having the factor whose row t
    is ``r1`` with its first t - 1 entries zeroed, until it is merged again (the cluster just
    formed is used with its true factor). Singletons and pairs (at most one row) are exact.
    """
    rows = np.minimum(cnt - 1, p)
    t = np.arange(p)
    times = np.minimum(np.minimum.outer(t, t)[None] + 1, rows[:, None, None])
    return r1[:, :, None] * r1[:, None, :] * times


def _first_row(W: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Row 1 of the triangular factor hcvvv's Givens updates give for scatter W (up to its sign).

    It is W's first row over the root of W[0, 0]; where the first column is all zero, the
    rotations leave in place the first row the update started from (``fallback``).
    """
    return W[0] / np.sqrt(W[0, 0]) if W[0, 0] > 0.0 else fallback


def _lastmin_cols(D: np.ndarray, cols: np.ndarray, lg: int):
    """Per column j: min over rows i < j of D[i, j], and the last such i (hcvvv's ``.le.``)."""
    sub = D[:lg, cols]
    sub = np.where(np.arange(lg)[:, None] < cols[None, :], sub, np.inf)
    last = lg - 1 - np.argmin(sub[::-1], axis=0)
    return sub[last, np.arange(len(cols))], last


def _agglomerate(Z: np.ndarray):
    """hcvvv on the rows of Z, all singletons at the start: (merges (n-1, 2), costs (n-1,)).

    Clusters live in slots 0..lg-1 as in hcvvv; D[a, b] is the cost of merging slots a and b,
    and colmin/colarg cache each column's minimum over rows above the diagonal, so that finding
    the next merge does not scan all of D.
    """
    n, p = Z.shape
    alpha, beta = _alpha(Z), 1.0
    crit = (p, alpha, beta)
    ablog = np.log(beta * alpha)

    # per slot: size, sqrt(size) * mean, trace of the scatter, score, first row of the factor, name
    cnt = np.ones(n)
    S = Z.copy()
    tr = np.zeros(n)
    term = np.full(n, ablog)
    R1 = np.zeros((n, p))
    name = np.arange(n)

    # all pairs of single rows: v = (x_i - x_j) / sqrt(2), score 2 log(beta (v'v + alpha) / 2)
    D = np.empty((n, n))
    block = max(1, 4_000_000 // max(1, n * p))
    for a in range(0, n, block):
        v = (Z[a : a + block, None, :] - Z[None, :, :]) * _RTHALF
        D[a : a + block] = 2.0 * np.log(beta * (_seqsum(v * v) + alpha) / 2.0) - (ablog + ablog)
    np.fill_diagonal(D, np.inf)
    D[np.isnan(D)] = np.inf

    lg = n
    colmin, colarg = _lastmin_cols(D, np.arange(n), lg)
    merges = np.empty((n - 1, 2), dtype=np.intp)
    cost = np.empty(n - 1)
    iold, Wr = -1, None  # the slot merged last, and its true scatter (hcvvv's r)
    for step in range(n - 1):
        # the last minimum in packed order: the highest column holding the minimum, its last row
        gm = colmin[1:lg].min()
        j = int(np.flatnonzero(colmin[1:lg] == gm)[-1]) + 1
        i = int(colarg[j])
        cost[step] = D[i, j]
        merges[step] = (min(name[i], name[j]), max(name[i], name[j]))
        if lg == 2:
            break

        # the union, into slot i: the scatter and score hcvvv carries forward for it
        ni, nj = cnt[i], cnt[j]
        m = ni + nj
        if ni == 1 and nj == 1:
            si = sj = _RTHALF
            v = (S[i] - S[j]) * _RTHALF
        else:
            si, sj = np.sqrt(ni * (1.0 / m)), np.sqrt(nj * (1.0 / m))
            v = sj * S[i] - si * S[j]
        t_ij = (tr[i] + tr[j]) + _seqsum(v * v)
        if step == 0:
            W_ij, row1 = np.outer(v, v), v
            s_ij = 2.0 * np.log(beta * (t_ij + alpha) / 2.0)
        elif iold in (i, j):  # the candidate computed from the last union's true factor
            o = j if i == iold else i
            W_ij = Wr + _stored(R1[o : o + 1], cnt[o : o + 1], p)[0] + np.outer(v, v)
            row1 = R1[iold]
            s_ij = _terms(crit, np.array([m]), np.array([t_ij]), lambda idx, W=W_ij: W[None])[0]
        else:  # both parts as stored; hcvvv rebuilds the score from the cost
            W_ij = _stored(R1[[i, j]], cnt[[i, j]], p).sum(axis=0) + np.outer(v, v)
            row1 = R1[j] if nj > 1 else (R1[i] if ni > 1 else v)
            s_ij = D[i, j] + (term[i] + term[j])
        Wr = W_ij
        S[i] = si * S[i] + sj * S[j]
        cnt[i], tr[i], term[i], R1[i] = m, t_ij, s_ij, _first_row(W_ij, row1)
        name[i] = min(name[i], name[j])

        # the last slot moves into slot j (hcvvv's wardsw)
        last = lg - 1
        if j != last:
            for a in (cnt, S, tr, term, R1, name):
                a[j] = a[last]
            D[j, :lg] = D[last, :lg]
            D[:lg, j] = D[:lg, last]
            D[j, j] = np.inf
        lg -= 1
        iold = i

        # new costs of the union against every other cluster
        k = np.delete(np.arange(lg), i)
        mk = cnt[i] + cnt[k]
        qk = 1.0 / mk
        v = np.sqrt(cnt[k] * qk)[:, None] * S[i] - np.sqrt(cnt[i] * qk)[:, None] * S[k]
        tk = (tr[i] + tr[k]) + _seqsum(v * v)

        def scatter(idx, k=k, v=v, Wr=Wr):
            return Wr + _stored(R1[k[idx]], cnt[k[idx]], p) + v[idx, :, None] * v[idx, None, :]

        dk = _terms(crit, mk, tk, scatter) - (term[i] + term[k])
        dk[np.isnan(dk)] = np.inf
        D[i, k] = dk
        D[k, i] = dk

        # refresh the column minima: recompute those whose minimum may have risen, compare the rest
        moved = j < lg
        stale = (colarg[:lg] == i) | (moved & (colarg[:lg] == j))
        stale[[i, j] if moved else [i]] = True
        stale[0] = False
        for r in (i, j) if moved else (i,):
            c = np.flatnonzero(~stale & (np.arange(lg) > r))
            val = D[r, c]
            better = (val < colmin[c]) | ((val == colmin[c]) & (r > colarg[c]))
            colmin[c[better]] = val[better]
            colarg[c[better]] = r
        c = np.flatnonzero(stale)
        if len(c):
            colmin[c], colarg[c] = _lastmin_cols(D, c, lg)
    return merges, cost
