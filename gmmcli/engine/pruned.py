"""The pruned E- and M-step: only the (row, component) pairs that weigh anything, for
well-separated matrix-covariance components.

At convergence on well-separated data nearly every row belongs to one component: the other
responsibilities are below e^-50 and vanish beside 1 in every sum, yet the dense kernels pay
for all k of them (the quadratic GEMM over phi's d(d+1)/2 rows, then the moments' GEMM). Here
a cheap bound finds the pairs that can matter, and only those are computed, exactly:

* an upper bound on each log pi_k + log N(x | k): const_k - lambda_k |x - mu_k|^2 / 2, with
  lambda_k at most P_k's least eigenvalue 1 / lambda_max(Sigma_k) (lambda_max is at most
  Sigma_k's largest absolute row sum, Gershgorin, and its trace), expanded so that it is one
  (k, d + 2) GEMM and nothing else per pair;
* the exact value of each row's most likely component by a guess (the same form with P_k's
  mean eigenvalue, by a second such GEMM), by the direct form U_k^T (x - mu_k), one GEMM per
  component over its rows gathered;
* every other pair whose bound is within SCREEN_NATS (plus a margin for rounding) of that
  exact value, the same way; all others weigh less than e^-50 of the row's best, and count
  as zero;
* the moments of each component over its pairs, [x; 1][x; 1]^T r by one (d+1, d+1) GEMM.

So an iteration costs about k d + (pairs per row) 2 d^2 products per row instead of some
k d^2 (half for the log-probabilities, half for the moments). A span where the bound leaves
more than one pair in ``SCREEN_MAX_SHARE`` returns None, and its blocks take the dense kernels.
It runs in float64, for float32 data too (the rows are gathered and cast a span at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .covariance.structures import packed_pairs
from .estep import EXP_FLOOR, SCREEN_MAX_SHARE, SCREEN_NATS, EStepState
from .params import MixtureParams
from .stats import SuffStats

#: Nats added to SCREEN_NATS against rounding in the bound and in the exact values (both are
#: off by some eps * |x - shift|^2 * |P|, far below one nat wherever the bound prunes at all).
MARGIN_NATS = 1.0

#: The bound's eigenvalue, shrunk by this factor for the precision factors' rounding.
EIGEN_SLACK = 0.99

#: Least number of components worth pruning: every row keeps one pair at least, and a span
#: prunes only while it keeps at most one pair in SCREEN_MAX_SHARE.
MIN_COMPONENTS = 2 * SCREEN_MAX_SHARE

#: Least length of phi (d(d+1)/2 + d + 1) worth pruning: below it the dense kernels' two GEMMs
#: cost less than the bound's passes over (components, rows) and the pairs' gathers (two
#: threads, make_blobs, 5 iterations, interleaved: d=10, k=8 24.7 against 20.6 ms dense;
#: d=12, k=16 21.9 against 18.3; d=16, k=8 19.6 against 24.9; d=16, k=32 14.4 against 22.2).
MIN_MOMENTS = 150

#: After an iteration whose spans all fell back to the dense kernels, this many iterations go
#: without trying, twice as many after each further such iteration (the bound and the
#: anchors cost some k d + 2 d^2 products per row for nothing while components overlap; they
#: may separate as EM goes on).
RETRY_AFTER = 4


@dataclass(frozen=True)
class PrunedState:
    """What a span needs, from the parameters, once per iteration."""

    covariance_type: str
    shift: np.ndarray  # (d,) float64, the origin of the moments (dense.shift)
    factors: np.ndarray  # (k, d, d + 1) float64: [U_k^T | -(mu_k U_k)]
    const: np.ndarray  # (k,) log pi + log det - d/2 log 2 pi
    coef: np.ndarray  # (2k, d + 2): [the bound; a guess] = coef @ [x - shift; 1; |x - shift|^2]


def applies(params: MixtureParams, dense: EStepState) -> bool:
    """Whether the kernel applies to these parameters (``prepare_pruned``'s conditions)."""
    structure = params.structure
    k, d = params.n_components, params.n_features
    if not structure.matrix or structure.shared or params.has_noise or k < MIN_COMPONENTS:
        return False
    return structure.n_quadratic(d) + d + 1 >= MIN_MOMENTS and bool(np.all(np.isfinite(dense.const)))


def prepare_pruned(params: MixtureParams, dense: EStepState) -> PrunedState | None:
    """The pruned state for these parameters (``dense``: the iteration's dense state, for its
    origin and constants), or None where the kernel does not apply: shared or variance
    structures, a noise component, a zero weight, few components or features."""
    if not applies(params, dense):
        return None
    structure = params.structure
    k, d = params.n_components, params.n_features
    shift = dense.shift  # float64 (for float32 data, the rounded shift: ``frame_shift``)
    pc = np.asarray(params.precisions_cholesky, dtype=np.float64)
    mu = np.asarray(params.means, dtype=np.float64) - shift
    factors = structure.direct_terms(pc, mu, np.float64)["factors"].reshape(k, d, d + 1)
    cov = np.asarray(params.covariances, dtype=np.float64)
    least = EIGEN_SLACK * structure.least_precision(pc, cov)  # at most P_k's least eigenvalue
    mean = structure.mean_precision(pc, d)
    coef = np.vstack([isotropic(least, mu, dense.const), isotropic(mean, mu, dense.const)])
    return PrunedState(params.covariance_type, shift, factors, dense.const, coef)


def isotropic(c: np.ndarray, mu: np.ndarray, const: np.ndarray) -> np.ndarray:
    """(k, d + 2): const_k - c_k |x - mu_k|^2 / 2 as coefficients of [x; 1; |x|^2], i.e.
    c mu . x + (const - c |mu|^2 / 2) - c |x|^2 / 2."""
    mu2 = np.einsum("kd,kd->k", mu, mu)
    return np.column_stack([c[:, None] * mu, const - 0.5 * c * mu2, -0.5 * c])


def isotropic_rows(X: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """(d + 2, n) float64: the rows [x - shift; 1; |x - shift|^2], for ``isotropic`` coefficients."""
    n, d = X.shape
    xt1 = np.empty((d + 2, n))
    np.subtract(X.T, shift[:, None], out=xt1[:d])
    xt1[d] = 1.0
    np.einsum("dn,dn->n", xt1[:d], xt1[:d], out=xt1[d + 1])
    return xt1


def span_row_bytes(n_components: int, n_features: int) -> int:
    """Bytes of a span's temporaries per row: the bound and the guess (k each), the rows
    [x; 1; |x|^2] and their gathered copy (d + 2 and d + 1), in float64."""
    return 8 * (2 * n_components + 2 * n_features + 4)


def span_stats(X: np.ndarray, state: PrunedState, sample_weight=None, moments: bool = True):
    """The statistics of rows X (n, d) by the pruned kernel, or None where too many pairs are
    close (the caller then runs the dense kernel)."""
    n, d = X.shape
    k = state.const.shape[0]
    xt1 = isotropic_rows(X, state.shift)  # so that the bound and the guess are a GEMM each
    bound = state.coef[:k] @ xt1
    guess = xt1.T @ state.coef[k:].T  # (n, k): argmax along rows is 10x faster than down columns
    xt1 = xt1[: d + 1]
    screen = SCREEN_NATS + MARGIN_NATS
    limit = bound.size // SCREEN_MAX_SHARE
    best_bound = bound.max(axis=0)
    if np.count_nonzero(bound >= best_bound - screen) > limit:  # at most the close pairs
        return None
    # each row's most likely component by the guess, exactly (any component would do: its
    # value is at most the row's best; the closer to it, the fewer pairs the bound leaves)
    anchor = np.argmax(guess, axis=1).astype(np.int16 if k < 1 << 15 else np.int64)  # radix sort
    order = np.argsort(anchor, kind="stable")
    xa = xt1[:, order]
    per_anchor = np.bincount(anchor, minlength=k)
    la = _exact(xa, per_anchor, state)
    best = np.empty(n)
    best[order] = la
    # the other pairs the bound cannot rule out
    close = bound >= best - screen
    close[anchor, np.arange(n)] = False
    comps, rows = np.divmod(np.flatnonzero(close), n)
    if n + len(comps) > limit:
        return None
    xe = xt1[:, rows]
    per_comp = np.bincount(comps, minlength=k)
    le = _exact(xe, per_comp, state)
    top = best.copy()
    np.maximum.at(top, rows, le)
    pa = _shifted_exp(la, top[order])
    pe = _shifted_exp(le, top[rows])
    total = np.empty(n)
    total[order] = pa
    if len(rows):
        total += np.bincount(rows, pe, minlength=n)
    lse = np.log(total)
    lse += top
    w = sample_weight
    loglik = float(lse.sum()) if w is None else float(np.dot(w, lse))
    weight = float(n) if w is None else float(np.sum(w))
    if not moments:
        return SuffStats(state.covariance_type, state.shift, None, loglik, weight)
    ra = pa / total[order]
    re = pe / total[rows]
    if w is not None:
        ra *= w[order]
        re *= w[rows]
    scatter = np.zeros((k, d + 1, d + 1))
    _add_scatter(scatter, xa, ra, per_anchor)
    _add_scatter(scatter, xe, re, per_comp)
    iu = packed_pairs(d)
    q = len(iu[0])
    out = np.empty((k, q + d + 1))
    out[:, :q] = scatter[:, iu[0], iu[1]]
    out[:, q:] = scatter[:, d, :]  # S1 and N: the row of ones against [x; 1]
    return SuffStats(state.covariance_type, state.shift, out, loglik, weight)


def _segments(counts: np.ndarray):
    """(component, slice) of each run of pairs sorted by component."""
    ends = np.cumsum(counts)
    for c in np.flatnonzero(counts):
        yield c, slice(int(ends[c] - counts[c]), int(ends[c]))


def _exact(x1: np.ndarray, counts: np.ndarray, state: PrunedState) -> np.ndarray:
    """log pi_c + log N(x | c) for columns of x1 ([x - shift; 1], sorted by component c with
    ``counts`` each), by the direct kernel's arithmetic (``estep``), one GEMM per component."""
    out = np.empty(x1.shape[1])
    for c, seg in _segments(counts):
        y = state.factors[c] @ x1[:, seg]
        out[seg] = np.einsum("dn,dn->n", y, y)
    out *= -0.5
    out += np.repeat(state.const, counts)
    return out


def _shifted_exp(values: np.ndarray, top: np.ndarray) -> np.ndarray:
    """exp(values - top), floored as the dense kernels are (``estep.EXP_FLOOR``)."""
    z = values - top
    np.maximum(z, EXP_FLOOR, out=z)
    return np.exp(z, out=z)


def _add_scatter(scatter: np.ndarray, x1: np.ndarray, r: np.ndarray, counts: np.ndarray) -> None:
    """scatter[c] += sum over c's columns of r [x; 1][x; 1]^T (columns sorted by component)."""
    for c, seg in _segments(counts):
        xs = x1[:, seg]
        scatter[c] += (xs * r[seg]) @ xs.T
