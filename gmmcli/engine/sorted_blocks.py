"""The sorted-blocks E- and M-step: rows sorted by component, and each run of rows of one
component computing only what a bound cannot rule out.

On well-separated data a row belongs to one component (the other responsibilities are below
e^-50 and vanish beside 1 in every sum), yet the dense quadratic kernel computes all k of them
in both GEMMs over phi (the log-probabilities and the moments). Here the rows are sorted once
by the component they most likely belong to (their anchor), then within an anchor
from its most likely rows out, and cut into blocks of whole runs of one anchor (or pieces of
a long run). Each run (a segment) fits in a ball, centre z and radius rho, and keeps the sums
of its phi (its rows' moments under responsibility one), all fixed at sorting. Per iteration:

* for every segment and component j, an upper bound on log pi_j + log N(x | j) over the
  ball, const_j - lambda_j max(0, |z - mu_j| - rho)^2 / 2 with lambda_j at most P_j's least
  eigenvalue, and a lower bound for its anchor c, the larger of
  const_c - Lambda_c (|z - mu_c| + rho)^2 / 2 with Lambda_c at least P_c's largest, and the
  same in c's own metric, const_c - (g_c r + |(z - mu_c)^T U_c|)^2 / 2, with r the run's
  largest Mahalanobis distance from z at sorting (factor U0_c) and g_c >= ||U0_c^-1 U_c||
  (the second holds for elongated components, where the first is far too low);
* a segment where every other component's upper bound is SCREEN_NATS (plus a margin for
  rounding) below its anchor's lower bound is certain: each of its rows has responsibility
  one for c (the others weigh less than e^-50 of it and count as zero, as in ``pruned``), so
  its statistics are its sums: moments S and log-likelihood coef_c . S, phi never read;
* a block with a segment that is not certain computes its anchors' log-probabilities (their
  rows of coef only), keeps the components whose bound comes within SCREEN_NATS of a
  segment's least anchor log-probability, and runs the dense kernels' arithmetic on those
  alone (``estep.log_prob_stats``).

The bounds hold whatever the rows do after the sorting: a row that moves towards another
component only makes its segment uncertain, and keeps that component in its block. Where too
many pairs are kept (components overlap) the runner drops the order and goes back to the
dense kernel (``blocks``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .emdata import EMData
from .estep import SCREEN_NATS, EStepState, expanded_log_prob, log_prob_stats, prepare_estep
from .params import MixtureParams
from .pruned import EIGEN_SLACK, MARGIN_NATS, isotropic, isotropic_rows
from .stats import SuffStats, sum_stats
from .stats import features as phi_features

#: Least number of components worth sorting for.
MIN_COMPONENTS = 2

#: ``likely_certain``'s balls: this many times a typical row's distance from its mean (the
#: runs' balls reach their farthest rows; make_blobs, d=10 to 50: 1.2 to 1.9 times).
TYPICAL_REACH = 1.25

#: Nats by which a pair must fall below its row's best to count as zero.
SCREEN = SCREEN_NATS + MARGIN_NATS


@dataclass(frozen=True)
class SortedState:
    """The iteration's dense state (its coef, const, origin) and the bounds of each segment."""

    dense: EStepState
    upper: np.ndarray  # (segments, k): every component's upper bound over each ball
    lower: np.ndarray  # (segments,): a lower bound on the anchor's over each ball
    certain: np.ndarray  # (blocks,) bool: every segment of the block is certain


def applies(params: MixtureParams, dense: EStepState) -> bool:
    """The cheap part of ``prepare_sorted``'s conditions: an expanding structure (not a shared
    whitening), no noise component, no zero weight, more than one component."""
    if not params.structure.expands or dense.noise_log is not None:
        return False
    return params.n_components >= MIN_COMPONENTS and bool(np.all(np.isfinite(dense.const)))


def prepare_sorted(params: MixtureParams, dense: EStepState, shift, radius2: float) -> EStepState | None:
    """The dense state the sorted kernel runs on: the quadratic expansion's (for float32
    matrix covariances, whose expansion is float32 and too coarse for it, the float64 one when
    that is exact enough: phi is then float64 for float32 rows too), or None where the kernel
    does not apply (no such state, a noise component, a zero weight, one component)."""
    if not applies(params, dense):
        return None
    if dense.dtype == np.float32:
        dense = prepare_estep(params, shift, dtype=np.float64, radius2=radius2)
    return dense if dense.kernel == "quadratic" else None


class SortedRows:
    """The rows sorted by anchor: an EMData taking X's rows in that order (the same shift and
    radius; X is not copied), blocks of whole runs of one anchor, and each run's ball and sums."""

    def __init__(self, data: EMData, params: MixtureParams, dense: EStepState, mapper):
        guess = _guess(params, dense)
        found = list(mapper(lambda ab: block_anchors(data.rows(*ab), guess, dense.shift), data.bounds))
        anchors = np.concatenate([a for a, _ in found])
        order = np.lexsort((-np.concatenate([v for _, v in found]), anchors))
        anchors = anchors[order]
        runs = np.concatenate([[0], np.flatnonzero(np.diff(anchors)) + 1, [len(anchors)]])
        bounds, cuts = _blocks(runs, data.block_rows)
        order = order.astype(np.int32 if len(order) < 1 << 31 else np.int64)
        w = None if data.w is None else data.w[order]
        self.data = EMData(
            data.X, w, data.covariance_type, data.n_components, data.block_rows,
            frame=(data.shift, data.radius2), bounds=bounds, order=order,
        )  # fmt: skip
        self.cuts = cuts  # per block, its segments' bounds (within the block)
        self.first = np.cumsum([0] + [len(c) - 1 for c in cuts])  # each block's first segment
        self.factors = np.array(params.precisions_cholesky, dtype=np.float64)  # U0, of the sorting
        self.inverses = params.structure.factor_inverse(self.factors)
        parts = list(mapper(lambda i: self._balls(i, anchors, dense), range(len(bounds))))
        self.anchors = np.concatenate([p[0] for p in parts])
        self.centres = np.concatenate([p[1] for p in parts])
        self.radii = np.concatenate([p[2] for p in parts])
        self.sums = np.concatenate([p[3] for p in parts])
        self.weights = np.concatenate([p[4] for p in parts])
        self.reach = np.concatenate([p[5] for p in parts])
        # phi of the centres, for their anchors' Mahalanobis distances from the expansion
        origin = np.zeros(self.centres.shape[1])
        self.centre_phi, _ = phi_features(self.centres, origin, dense.structure, True)

    def _balls(self, i, anchors, dense):
        """Block i's segments: anchors, centres and radii (from the shift), phi's sums, weights,
        and each one's reach: its rows' largest Mahalanobis distance from the centre under its
        anchor's precision factor U0 of the sorting."""
        data = self.data
        a, b = data.bounds[i]
        cuts = self.cuts[i]
        starts = cuts[:-1]
        rows = data.rows(a, b)  # gathered: the features are made here, kept only where used later
        phi, _ = phi_features(rows, dense.shift, dense.structure, True, dense.dtype)
        w = data.block_weights(a, b)
        xc = np.subtract(rows, data.shift, dtype=np.float64)
        counts = np.diff(cuts)
        centres = np.add.reduceat(xc, starts, axis=0) / counts[:, None]
        xc -= np.repeat(centres, counts, axis=0)
        radii = np.sqrt(np.maximum.reduceat(np.einsum("ij,ij->i", xc, xc), starts)) * (1.0 + 1e-9)
        wphi = phi.astype(np.float64, copy=False) if w is None else phi * w
        sums = np.add.reduceat(wphi, starts, axis=1).T
        weights = counts.astype(np.float64) if w is None else np.add.reduceat(w.astype(np.float64), starts)
        runs = anchors[a + starts]
        rows_of = zip(runs, starts, cuts[1:])
        projected = (dense.structure.factor_rows(xc[s:e], self.factors, c) for c, s, e in rows_of)
        reach = np.array([np.sqrt(np.max(np.einsum("ij,ij->i", y, y))) for y in projected])
        return runs, centres, radii, sums, weights, reach * (1.0 + 1e-9)

    def state(self, params: MixtureParams, dense: EStepState) -> SortedState:
        """The iteration's bounds for every segment. Besides ``_bounds``' own lower bound on
        its anchor c, one in c's metric: |(x - mu_c)^T U_c| <= |(x - z)^T U0_c| ||U0_c^-1 U_c||
        + |(z - mu_c)^T U_c| (the triangle inequality), the first factor at most the reach."""
        pc = np.asarray(params.precisions_cholesky, dtype=np.float64)
        growth = params.structure.factor_growth(self.inverses, pc)[self.anchors]
        const = dense.const[self.anchors]
        centre_lp = np.einsum("sm,ms->s", dense.coef[self.anchors], self.centre_phi)
        own = np.sqrt(np.maximum(2.0 * (const - centre_lp), 0.0))  # |(z - mu_c)^T U_c|
        lower = const - 0.5 * (growth * self.reach + own) ** 2
        upper, lower, certain = _bounds(params, dense, self.centres, self.radii, self.anchors, lower)
        return SortedState(dense, upper, lower, np.logical_and.reduceat(certain, self.first[:-1]))

    def certain_stats(self, state: SortedState, moments: bool) -> SuffStats | None:
        """The statistics of all certain blocks from their segments' sums (None if none)."""
        blocks = np.flatnonzero(state.certain)
        if len(blocks) == 0:
            return None
        segs = np.concatenate([np.arange(self.first[i], self.first[i + 1]) for i in blocks])
        dense = state.dense
        anchors = self.anchors[segs]  # ascending, as the blocks are
        runs = np.flatnonzero(np.diff(anchors, prepend=-1))
        mom = np.zeros((dense.n_components, self.sums.shape[1]))
        mom[anchors[runs]] = np.add.reduceat(self.sums[segs], runs, axis=0)
        loglik = float(np.einsum("km,km->", dense.coef, mom))
        weight = float(self.weights[segs].sum())
        return SuffStats(dense.covariance_type, dense.shift, mom if moments else None, loglik, weight)

    def block_stats(self, i: int, state: SortedState, moments: bool) -> tuple[SuffStats, int]:
        """Block i's statistics by its kept components, and how many it kept."""
        data, dense = self.data, state.dense
        a, b = data.bounds[i]
        phi, q = _features(data, i, dense)
        cuts = self.cuts[i]
        runs = self.anchors[self.first[i] : self.first[i + 1]]
        anchors = np.unique(runs)
        anchor_lp = expanded_log_prob(phi, dense.coef[anchors])
        places = np.searchsorted(anchors, runs)
        floor = np.array([anchor_lp[p, s:e].min() for p, s, e in zip(places, cuts[:-1], cuts[1:])])
        upper = state.upper[self.first[i] : self.first[i + 1]]
        keep = np.any(upper >= floor[:, None] - SCREEN, axis=0)
        keep[anchors] = True
        comps = np.flatnonzero(keep)
        if len(comps) == len(anchors):
            log_prob = anchor_lp
        else:
            others = np.setdiff1d(comps, anchors, assume_unique=True)
            log_prob = np.empty((len(comps), phi.shape[1]))
            log_prob[np.searchsorted(comps, anchors)] = anchor_lp
            log_prob[np.searchsorted(comps, others)] = expanded_log_prob(phi, dense.coef[others])
        w = data.block_weights(a, b)
        stats = log_prob_stats(log_prob, phi, q, dense, w, moments=moments, components=comps)
        return stats, len(comps)

    def group_stats(self, group, state: SortedState, moments: bool) -> tuple[SuffStats, int]:
        """The statistics of blocks ``group`` (numbers, none certain) summed in order, and how
        many (row, component) pairs they computed."""
        parts = [self.block_stats(i, state, moments) for i in group]
        rows = [self.data.bounds[i][1] - self.data.bounds[i][0] for i in group]
        return sum_stats(part for part, _ in parts), sum(r * kept for r, (_, kept) in zip(rows, parts))

    def certain_rows(self, state: SortedState) -> int:
        return int(sum(b - a for (a, b), sure in zip(self.data.bounds, state.certain) if sure))


def _bounds(params: MixtureParams, dense: EStepState, centres, radii, anchors, lower):
    """For balls (centres from the shift, radii) of rows of these anchors: every component's
    upper bound over each ball (balls, k), a lower bound on each anchor's (the larger of
    ``lower``, given, and Lambda's), and whether each ball is certain."""
    pc = np.asarray(params.precisions_cholesky, dtype=np.float64)
    cov = np.asarray(params.covariances, dtype=np.float64)
    structure = params.structure
    least = EIGEN_SLACK * structure.least_precision(pc, cov)
    largest = structure.precision_scale(pc, params.n_features) / EIGEN_SLACK  # >= P's largest eigenvalue
    mu = np.asarray(params.means, dtype=np.float64) - dense.shift
    z = centres
    dist2 = np.einsum("sd,sd->s", z, z)[:, None] - 2.0 * (z @ mu.T) + np.einsum("kd,kd->k", mu, mu)
    dist = np.sqrt(np.maximum(dist2, 0.0))
    gap = np.maximum(dist - radii[:, None], 0.0)
    upper = dense.const - 0.5 * least * gap * gap
    balls = np.arange(len(z))
    reach = dist[balls, anchors] + radii
    lower = np.maximum(lower, dense.const[anchors] - 0.5 * largest[anchors] * reach * reach)
    others = upper.copy()
    others[balls, anchors] = -np.inf
    return upper, lower, others.max(axis=1) < lower - SCREEN


def likely_certain(params: MixtureParams, dense: EStepState) -> float:
    """A guess, from the parameters alone, of the share of rows in certain segments: the
    weight of the components that the bounds would certify over a ball about their mean of
    TYPICAL_REACH times a typical row's distance, sqrt(trace Sigma), holding rows up to
    Mahalanobis distance TYPICAL_REACH sqrt(d). Sorting costs a pass and a gather: not where
    components overlap."""
    k, d = params.n_components, params.n_features
    cov = np.asarray(params.covariances, dtype=np.float64)
    radii = TYPICAL_REACH * np.sqrt(params.structure.trace(cov, d))  # no (k, d, d) for variances
    centres = np.asarray(params.means, dtype=np.float64) - dense.shift
    typical = dense.const - 0.5 * TYPICAL_REACH**2 * d
    _, _, certain = _bounds(params, dense, centres, radii, np.arange(k), typical)
    return float(np.sum(np.asarray(params.weights)[certain]))


def _guess(params: MixtureParams, dense: EStepState) -> np.ndarray:
    """(k, d + 2): const_k - c_k |x - mu_k|^2 / 2 with c_k P_k's mean eigenvalue, as coefficients of
    ``pruned.isotropic_rows``: a row's most likely component nearly always, for a d + 2 GEMM."""
    pc = np.asarray(params.precisions_cholesky, dtype=np.float64)
    mean = params.structure.mean_precision(pc, params.n_features)
    mu = np.asarray(params.means, dtype=np.float64) - dense.shift
    return isotropic(mean, mu, dense.const)


def block_anchors(X: np.ndarray, guess: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's most likely component by the guess (any component would do: the bounds
    hold for every order; the better the guess, the more segments are certain), and its value."""
    values = isotropic_rows(X, shift).T @ guess.T  # (n, k): argmax along rows is faster
    anchors = np.argmax(values, axis=1)
    return anchors, values[np.arange(len(anchors)), anchors]


def _blocks(runs: np.ndarray, block_rows: int):
    """Blocks of whole runs (each run a segment) up to block_rows rows, a longer run cut into
    even pieces of at most block_rows (each its own block and segment): the bounds of each
    block and its segments' cuts within it."""
    bounds, cuts = [], []
    start, inner = int(runs[0]), [0]
    for a, b in zip(runs[:-1].tolist(), runs[1:].tolist()):
        if b - start > block_rows and inner[-1] > 0:  # close the open block
            bounds.append((start, start + inner[-1]))
            cuts.append(np.array(inner))
            start, inner = a, [0]
        if b - a > block_rows:
            pieces = -(-(b - a) // block_rows)
            edges = [a + round(j * (b - a) / pieces) for j in range(pieces + 1)]
            bounds += list(zip(edges[:-1], edges[1:]))
            cuts += [np.array([0, e - s]) for s, e in zip(edges[:-1], edges[1:])]
            start, inner = b, [0]
        else:
            inner.append(b - start)
    if inner[-1] > 0:
        bounds.append((start, start + inner[-1]))
        cuts.append(np.array(inner))
    return bounds, cuts


def _features(data: EMData, i: int, dense: EStepState):
    """Block i's (phi, q) with the quadratic rows, cached where the data caches them."""
    a, b = data.bounds[i]
    features = data.block_features(a, b, dense)
    if features is None:
        features = phi_features(data.rows(a, b), dense.shift, dense.structure, True, dense.dtype)
    return features
