"""The covariance part of the M-step for mclust's fourteen constrained models (numpy only).

Every model writes Sigma_k = lambda_k D_k A_k D_k^T: a volume lambda_k, an orientation D_k (orthogonal)
and a shape A_k (diagonal, det 1), and its name says letter by letter whether volume, shape and orientation
are Equal across components, Variable, or the Identity (spherical shape, axis-aligned orientation).
Celeux & Govaert (1995, Pattern Recognition 28:781) give the maximum-likelihood estimates from the
weighted scatter sums W_k about each component's mean and the weights n_k: they minimise

    sum_k  n_k log det Sigma_k + tr(W_k Sigma_k^-1).

All fourteen reduce to one pattern, which is how the code is organised (no estimator is written twice):

1. the orientation: none ("I"), each W_k's own eigenvectors ("V"), or one common D ("E": the
   eigenvectors of sum W_k for EEE, mclust's alternation for VEE, the Browne & McNicholas (2014) MM
   algorithm for EVE and VVE);
2. in that basis the problem is diagonal: omega_kj = (D_k^T W_k D_k)_jj, and the volume and shape letters
   choose a closed form (EE, EV, VV) or the one convex alternation (VE) on omega;
3. Sigma_k = D_k diag(lambda_k a_k) D_k^T.

Where mclust 6 is followed, and where not:

* eigenvalues are paired by rank between components (mclust sorts them decreasingly, eigh increasingly:
  the pairing, hence the estimate, is the same);
* the iterative models start where mclust's ``mstep`` starts them (VEE: lambda = 1; EVE, VVE: D = I and
  A = 1; VEI and VEV: a convex problem, so the start only changes the iteration count), unless
  ``previous`` gives the last EM iteration's estimate, as mclust's own EM loops (meVEE, meEVE, meVVE)
  carry D, A and lambda from one M-step to the next;
* the inner stopping rule is a relative change of the iterate below ``tol`` (of the shape for VEI/VEV,
  the volumes for VEE, D diag(D^T W_k D) D^T for EVE/VVE). mclust's VEI/VEV stop on the same kind of
  change, but its VEE/EVE/VVE stop on the relative change of the objective below emControl()$tol[2]
  = sqrt(eps), which leaves them 1e-6 to 4e-4 (relative) short of their fixed point on the reference
  data; with ``tol`` = 1e-12 the result is that fixed point to ~1e-12;
* the MM iteration of EVE/VVE converges linearly and slowly (rates near 0.99 per step at d = 10: hundreds
  to thousands of steps), so Newton steps on the same objective are tried alongside and kept where the
  Hessian is positive definite and the objective falls. These objectives have several local minima, and
  faster schemes tried (Anderson or SQUAREM extrapolation of the MM, damped Newton from the start) often
  end in a different one from the plain MM. Here the MM steps are mclust's, and the minimum found was
  plain MM's in all 52 cases checked (the reference fits, synthetic and random scatter at d = 10, k = 8);
* warm-started (``previous``), EVE/VVE take saddle-free Newton steps with a line search instead, once
  the MM's contraction shows it would cost more: the basin is then the one EM's path chose, and the last
  orientation, for scatter that has moved, often sits where the Hessian is indefinite and the MM crawls
  (on 200,000 x 10, k = 8 blobs: 100 MM steps a M-step, still 0.1 off the minimum after 10,000, against
  one Newton step once EM has settled); where the orientation is well determined and d large the MM
  contracts fast and stays, a Newton step costing some 64 MM steps at d = 50;
* VVE: mclust updates the common orientation exactly as for EVE, ignoring the per-component volumes,
  which is not the maximum-likelihood estimate (the objective above is lower with the volumes in,
  by 1.3 on banknote with k = 5). The default here is the maximum-likelihood VVE; ``mclust_vve=True``
  reproduces mclust's.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import NamedTuple

import numpy as np

MODEL_NAMES = (
    "EII",
    "VII",
    "EEI",
    "VEI",
    "EVI",
    "VVI",
    "EEE",
    "VEE",
    "EVE",
    "VVE",
    "EEV",
    "VEV",
    "EVV",
    "VVV",
)
_NEWTON_RETRY = 2  # after a failed Newton try, the next waits until the MM step has shrunk this much
_ARMIJO = 1e-4  # a warm orientation step is kept when the objective falls by this share of the
_HALVINGS = 30  # predicted decrease, and is halved at most this many times to get there
_ROUNDING = 64 * np.finfo(float).eps  # relative error of the profiled objective's sum
#: After a whole Newton step that moved by delta, the next moves by about kappa delta^2: over ~13,000
#: steps of `select -k 1-9` on faithful, banknote and iris kappa had medians 1-9 and was below 1.4e4
#: for every delta above 1e-7 (below, the next move was at most 5e-10). So a warm orientation stops
#: once _KAPPA delta^2 <= tol, sparing the step that would confirm it.
_KAPPA = 1e4
#: A warm orientation turns to Newton's steps when the MM, at its last contraction rate, would need more
#: than this many Newton steps' cost (_newton_cost) to get within tol (settled M-steps take one Newton
#: step, the first warm ones up to some thirty).
_NEWTON_STEPS = 4
#: From this many rotation pairs (d >= 24) the orientation's Hessian solves take LAPACK's Cholesky solve
#: and its negative eigenpairs alone, through scipy (imported then, 0.2 s once): _solve_positive.
_LAPACK_PAIRS = 256


def _letters(name: str) -> str:
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown covariance model {name!r}: expected one of {', '.join(MODEL_NAMES)}")
    return name


def n_covariance_parameters(name: str, k: int, d: int) -> int:
    """mclust's nVarParams: 1 or k volumes, 0, d-1 or k(d-1) shape values, 0, 1 or k rotations."""
    count = {"I": 0, "E": 1, "V": k}
    vol, shp, ori = _letters(name)
    return count[vol] + count[shp] * (d - 1) + count[ori] * (d * (d - 1) // 2)


def n_parameters(name: str, k: int, d: int) -> int:
    """mclust's nMclustParams: covariance parameters, k means and k-1 free mixing proportions."""
    return n_covariance_parameters(name, k, d) + k * d + (k - 1)


def structure(name: str) -> str:
    """Layout of scatter and result: "spherical" (k,), "diag" (k, d), "tied" (d, d) or "full" (k, d, d)."""
    _, shp, ori = _letters(name)
    if ori == "I":
        return "spherical" if shp == "I" else "diag"
    return "tied" if name == "EEE" else "full"


def estimate(
    name, scatter, nk, *, d=None, previous=None, tol=1e-12, max_iter=5000, mclust_vve=False
) -> np.ndarray:
    """Maximum-likelihood covariances of model ``name`` from scatter sums and component weights.

    ``scatter`` holds W_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T in the layout of ``structure(name)``
    (full matrices (k, d, d) for "full" and "tied", their diagonals (k, d) for "diag", their traces (k,)
    for "spherical", which then needs the dimension ``d``); ``nk`` the weights sum_n r_nk. The result has
    the same layout, except (d, d) for "tied". ``previous`` (the last estimate of this model, (k, d, d))
    warm-starts VEE, EVE and VVE, as mclust's EM does; the other models ignore it. ``tol`` and
    ``max_iter`` bound the inner iterations (a RuntimeWarning when max_iter ends one); ``mclust_vve``
    selects mclust's VVE instead of the maximum-likelihood one. Raises ValueError when the estimate is not
    finite or not positive definite, or when a component with its own parameters has no weight.
    """
    vol, shp, ori = _letters(name)
    kind = structure(name)
    W = np.asarray(scatter, dtype=float)
    nk = np.asarray(nk, dtype=float)
    k = nk.shape[0] if nk.ndim == 1 else -1
    if nk.ndim != 1 or k == 0 or W.ndim != {"spherical": 1, "diag": 2}.get(kind, 3) or W.shape[0] != k:
        raise ValueError(
            f"{name}: scatter of shape {W.shape} does not fit {kind} covariances for "
            f"weights of shape {nk.shape}"
        )
    if kind == "spherical" and not (isinstance(d, (int, np.integer)) and d >= 1):
        raise ValueError(f"{name}: spherical scatter is traces, so the dimension d must be given")
    d = d if kind == "spherical" else W.shape[1]
    if W.ndim == 3 and W.shape[2] != d:
        raise ValueError(f"{name}: scatter matrices must be square, got shape {W.shape}")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(nk)) and np.all(nk >= 0)):
        raise ValueError(f"{name}: scatter and weights must be finite, weights non-negative")
    if "V" in name and np.any(nk <= 0):
        raise ValueError(
            f"{name}: component {int(np.argmin(nk)) + 1} has no weight, and the model gives "
            "each component its own covariance parameters"
        )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ori == "I":
            basis, omega = None, W
        elif ori == "V":
            omega, basis = np.linalg.eigh(W)
        else:
            basis = _common_orientation(name, W, nk, previous, tol, max_iter, mclust_vve)
            omega = _diagonal_in(W, basis)
        values = _volume_shape(name, vol, shp, omega, nk, d, tol, max_iter)
    _check(name, values)
    if basis is None:
        return values
    sigma = (basis * values[:, None, :]) @ np.swapaxes(basis, -1, -2)
    sigma = (sigma + np.swapaxes(sigma, -1, -2)) / 2
    return sigma[0] if kind == "tied" else sigma


def _diagonal_in(W: np.ndarray, D: np.ndarray) -> np.ndarray:
    """diag(D^T W_k D) for each k, (k, d): the scatter's diagonal in the basis D (two small products;
    einsum's optimize=True costs more in planning, at every M-step, than the products themselves)."""
    return np.einsum("kij,ij->kj", W @ D, D)


def _geomean(x: np.ndarray) -> np.ndarray:
    """det(diag x)^(1/d) over the last axis: the volume of a diagonal, the normaliser of a shape."""
    return np.exp(np.log(x).mean(axis=-1))


def _unit_det(x: np.ndarray) -> np.ndarray:
    return x / _geomean(x)[..., None]


def _volume_shape(name, vol, shp, omega, nk, d, tol, max_iter) -> np.ndarray:
    """lambda_k a_kj from the diagonal scatter omega (k, d), or (k,) traces for the spherical models.

    With the orientation fixed the objective splits over the axes, and each volume/shape pairing has the
    Celeux-Govaert closed form, except VE (common shape, own volumes), which alternates
    lambda_k = sum_j omega_kj / a_j / (d n_k) and a = unit-det(sum_k omega_k / lambda_k), as mclust's
    msvei/msvev do: a convex problem in (log lambda, log a), so it converges from any start.
    """
    n = nk.sum()
    if shp == "I":
        return np.full(omega.shape, omega.sum() / (n * d)) if vol == "E" else omega / (d * nk)
    if vol + shp == "EE":
        return np.broadcast_to(omega.sum(axis=0) / n, omega.shape).copy()
    if vol + shp == "VV":
        return omega / nk[:, None]
    if vol + shp == "EV":
        g = _geomean(omega)
        return g.sum() / n * omega / g[:, None]
    shape = _unit_det(omega.sum(axis=0))  # the equal-volume estimate: the fixed point when volumes agree
    for _ in range(max_iter):
        volume = (omega / shape).sum(axis=1) / (d * nk)
        new = _unit_det((omega / volume[:, None]).sum(axis=0))
        done = _converged(new, shape, tol)
        shape = new
        if done is not False:
            break
    else:
        _not_converged(name, max_iter, tol)
    volume = (omega / shape).sum(axis=1) / (d * nk)
    return volume[:, None] * shape


def _converged(new, old, tol):
    """True below tol, False above it, None when the iterate is no longer finite (the caller stops)."""
    change = np.abs(new - old) / np.abs(new)
    if not np.all(np.isfinite(change)):
        return None
    return bool(change.max() <= tol)


def _not_converged(name, max_iter, tol):
    warnings.warn(
        f"{name}: the inner iteration reached max_iter={max_iter} before its relative change fell "
        f"below tol={tol:g}",
        RuntimeWarning,
        stacklevel=4,
    )


def _check(name, values):
    """values are the eigenvalues of each Sigma_k: finite and clear of zero means positive definite."""
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name}: covariance estimate is not finite (singular or empty component)")
    if values.ndim == 2 and values.shape[1] > 1:
        tiny = values.min(axis=1) <= values.shape[1] * np.finfo(float).eps * values.max(axis=1)
    else:
        tiny = values.ravel() <= 0
    if np.any(tiny):
        raise ValueError(
            f"{name}: covariance estimate of component {int(np.argmax(tiny)) + 1} is not "
            "positive definite (singular scatter)"
        )


def _common_orientation(name, W, nk, previous, tol, max_iter, mclust_vve) -> np.ndarray:
    """The common orientation D (d, d) of the E-orientation models EEE, VEE, EVE, VVE."""
    if name == "EEE":
        return np.linalg.eigh(W.sum(axis=0))[1]
    k, d, _ = W.shape
    if name == "VEE":
        volume = np.ones(k) if previous is None else np.exp(np.linalg.slogdet(previous)[1] / d)
        return _vee_orientation(W, nk, volume, tol, max_iter)
    if previous is None:
        start = np.eye(d)
    else:  # any generic combination of matrices sharing eigenvectors has those eigenvectors
        start = np.linalg.eigh(np.einsum("kij,k->ij", previous, 1 + np.arange(k) / (np.pi * k)))[1]
    eigen = np.linalg.eigvalsh(W)
    if np.any(eigen[:, 0] <= d * np.finfo(float).eps * eigen[:, -1]):
        raise ValueError(f"{name}: scatter of component {int(np.argmin(eigen[:, 0])) + 1} is singular")
    weighted = name == "VVE" and not mclust_vve
    return _mm_orientation(name, W, nk, eigen[:, -1], start, weighted, tol, max_iter, previous is not None)


def _vee_orientation(W, nk, volume, tol, max_iter):
    """mclust's msvee: C = unit-det(sum_k W_k / lambda_k), lambda_k = tr(W_k C^-1) / (d n_k), repeated."""
    d = W.shape[1]
    for _ in range(max_iter):
        C = np.einsum("kij,k->ij", W, 1 / volume)
        C /= np.exp(np.linalg.slogdet(C)[1] / d)
        new = np.einsum("kij,ji->k", W, np.linalg.inv(C)) / (d * nk)
        done = _converged(new, volume, tol)
        if done is None:
            raise ValueError("VEE: volume iteration broke down (singular scatter)")
        volume = new
        if done:
            break
    else:
        _not_converged("VEE", max_iter, tol)
    return np.linalg.eigh(np.einsum("kij,k->ij", W, 1 / volume))[1]


def _polar(F: np.ndarray) -> np.ndarray:
    """The orthogonal matrix nearest F (Frobenius): the maximiser of tr(F^T Q) over orthogonal Q."""
    P, _, Rt = np.linalg.svd(F)
    return P @ Rt


def _mm_orientation(name, W, nk, omega, D, weighted, tol, max_iter, warm=False):
    """Common orientation of EVE/VVE by Browne & McNicholas' MM steps, as mclust's mseve/msvve take them.

    Given D, each component's shape (and for VVE volume) is the diagonal of B_k = D^T W_k D, so D
    minimises sum_k tr(c_k D^T W_k D) with c_k = diag(lambda_k a_k)^-1 at the current B (profiled:
    sum_k det(B_k)^(1/d) for EVE, sum_k n_k log det B_k for VVE). One step majorises it twice: in W_k
    (by its largest eigenvalue omega_k: F = sum_k c_k D^T (W_k - omega_k I)) and in c_k (by its largest
    entry: F = sum_k W_k D (c_k - max c_k)), each time taking the polar factor of F. mclust's VVE (the
    ``weighted=False`` path) uses EVE's c_k = g_k / B_k, without the volumes; maximum likelihood has
    c_k = n_k / B_k.

    The MM converges linearly, at rates near 0.99 per step for d = 10. From any point where the Hessian
    of the profiled objective is positive definite, a Newton step (_newton_trial) is tried instead and
    kept if the objective falls; once one fails, the next try waits until the MM step has halved. This
    keeps the MM's path to its basin (on the reference data and on random scatter it lands on plain MM's
    fixed point) and makes the end quadratic. ``warm``: D is EM's last orientation, whose basin is kept
    anyway: MM steps while they contract fast enough that finishing by them costs less than Newton's
    (_newton_pays; they stop once the geometric tail of their moves is within ``tol``), then saddle-free
    Newton steps (_saddle_free_step) with Armijo backtracking, and an MM step only where that finds no
    decrease; these stop once a whole Newton step was small enough that the next would be within
    ``tol`` (_KAPPA).
    """

    def diagonal(D):
        WD = W @ D
        return WD, np.einsum("kij,ij->kj", WD, D)  # _diagonal_in, keeping W D for the MM step

    def objective(B):
        return (nk * np.log(B).sum(axis=1)).sum() if weighted else _geomean(B).sum()

    def mm_step(D, WD, B):
        c = (nk[:, None] if weighted else _geomean(B)[:, None]) / B
        D = _polar(np.einsum("ki,kli->il", c, WD - omega[:, None, None] * D)).T
        D = _polar(np.einsum("kij,kj->ij", W @ D, c - c.max(axis=1, keepdims=True)))
        return (D, *diagonal(D))

    def change(D, B, G, BG):
        # The largest move of D diag(B_k) D^T relative to the component's scale, to first order: B's own
        # change, and the turn D^T G - I weighted by the gaps b_i - b_j (B alone moves only to second order
        # where the objective is flat in a rotation, as for k = 1). Sign flips of D's columns do not count.
        turn = np.abs(D.T @ G)
        np.fill_diagonal(turn, 0)
        turn = (turn * np.abs(BG[:, :, None] - BG[:, None, :])).max(axis=(1, 2))
        return (np.maximum(np.abs(BG - B).max(axis=1), turn) / BG.max(axis=1)).max()

    def descend(D, WD, B):
        # A saddle-free Newton step, halved until the objective falls by an Armijo fraction of the
        # decrease it predicts; None when no step does (rounding near the minimum): the MM step then.
        # Also whether it was a whole Newton step (the next one moves at most _KAPPA moved^2).
        step, decrease, newton = _saddle_free_step(D, WD, B, nk, weighted)
        before = objective(B)
        rounding = _ROUNDING * abs(before)  # so that steps within rounding of the minimum are kept
        size = 1.0
        for _ in range(_HALVINGS if decrease > 0 else 0):
            trial = _rotated(D, size * step)
            WT, BT = diagonal(trial)
            if np.all(BT > 0) and objective(BT) <= before - _ARMIJO * size * decrease + rounding:
                return trial, WT, BT, newton and size == 1
            size /= 2
        return None

    WD, B = diagonal(D)
    moved = newton_below = np.inf
    rate, newton_mode = None, False  # warm: the MM's last contraction; Newton's steps from here on
    for _ in range(max_iter):
        if newton_mode and (found := descend(D, WD, B)) is not None:
            *found, whole_newton = found
            moved = change(D, B, found[0], found[2])
            D, WD, B = found
            if moved <= tol or (whole_newton and _KAPPA * moved**2 <= tol):
                return D
            continue
        if not warm and moved < newton_below:
            trial = _newton_trial(D, WD, B, nk, weighted)
            WT, BT = diagonal(trial) if trial is not None else (None, None)
            before = objective(B)
            if trial is not None and np.all(BT > 0) and objective(BT) <= before + _ROUNDING * abs(before):
                moved = change(D, B, trial, BT)
                D, WD, B = trial, WT, BT
                if moved <= tol:
                    return D
                continue
            newton_below = moved / _NEWTON_RETRY  # not in a minimum's quadratic basin: let the MM move on
        G, WG, BG = mm_step(D, WD, B)
        if not np.all(BG > 0):  # also catches NaN
            raise ValueError(f"{name}: orientation iteration broke down (singular scatter)")
        step = change(D, B, G, BG)
        rate = step / moved if 0 < moved < np.inf else None
        moved = step
        D, WD, B = G, WG, BG
        # warm: within tol once the geometric tail of the MM's moves is (never less than the move)
        tail = moved * max(1.0, rate / (1 - rate)) if warm and rate is not None and rate < 1 else moved
        if tail <= tol:
            return D
        if warm and not newton_mode:
            newton_mode = _newton_pays(rate, moved, tol, *B.shape)
    _not_converged(name, max_iter, tol)
    return D


def _newton_cost(k, d):
    """A Newton step's cost in MM steps (measured at k = 8, one thread, d = 6, 10, 20, 30, 40, 50: 1.8,
    1.8, 4.9, 13.7, 25, 64; this model 1.6, 1.9, 5.1, 14.2, 32, 63): the Hessian's Cholesky factor,
    m^3 / 3 for m = d(d-1)/2 pairs, against the MM's products with the k scatter matrices."""
    m = d * (d - 1) // 2
    return 1.5 + m**3 / (30 * k * d**3)


def _newton_pays(rate, moved, tol, k, d):
    """Whether a warm orientation should leave the MM for Newton's steps: the MM does not contract, or at
    its last rate would need more steps to move within tol than _NEWTON_STEPS Newton steps cost (at
    d = 10 a crawl at rates near 0.99 turns at once; at d = 50 a well-determined orientation contracting
    fast stays with the MM, 64 times cheaper a step). None: no rate yet (one MM step first)."""
    if rate is None or moved <= tol:
        return False
    if rate >= 1:
        return True
    return math.log(tol / moved) / math.log(rate) > _NEWTON_STEPS * _newton_cost(k, d)


class _Tables(NamedTuple):
    """Index tables of the rotation derivatives at dimension d, with m = d(d-1)/2 pairs p < q
    (np.triu_indices order): where each Hessian term picks its values up (rotations s_pq and s_rs
    couple only through a shared axis, so every term is sparse in the pairs)."""

    p: np.ndarray  # (m,) the pairs' first axes
    q: np.ndarray  # (m,) and second
    around: np.ndarray  # (d, d-1) the pairs holding axis j, with each other axis i in turn
    side: np.ndarray  # (d, d-1) d b_j / d s_pair = side * 2 M_pair: -1 where j is the pair's p, +1 its q
    at: np.ndarray  # flat (m x m) positions: the curvature term's, then the pairs around each axis
    sign: np.ndarray  # the curvature term's signs,
    idx: np.ndarray  # and indices into N (d, d) and G (d, d, d) as one value vector
    eye: np.ndarray  # the identity, which every rotation needs


@functools.lru_cache(maxsize=8)
def _tables(d) -> _Tables:
    """The index tables at dimension d (see _Tables), built once per dimension."""
    p, q = np.triu_indices(d, 1)
    m = p.size
    pair = np.zeros((d, d), dtype=np.intp)
    pair[p, q] = pair[q, p] = np.arange(m)
    others = np.array([[i for i in range(d) if i != j] for j in range(d)], dtype=np.intp).reshape(d, d - 1)
    around = pair[np.arange(d)[:, None], others]
    side = np.where(others > np.arange(d)[:, None], -1.0, 1.0)
    a, b, r, s = (np.broadcast_to(x, (m, m)) for x in (p[:, None], q[:, None], p[None, :], q[None, :]))
    first = [(b == r, 1, s * d + a), (b == s, -1, r * d + a), (a == r, -1, s * d + b), (a == s, 1, r * d + b)]
    second = [
        (s == a, -1, (a * d + b) * d + r),
        (r == a, 1, (a * d + b) * d + s),
        (s == b, 1, (b * d + a) * d + r),
        (r == b, -1, (b * d + a) * d + s),
    ]
    at, sign, idx = [], [], []
    for offset, terms in ((0, first), (d * d, second)):  # G's entries follow N's in one value vector
        for mask, sg, index in terms:
            rows, cols = np.nonzero(mask)
            at.append(rows * m + cols)
            sign.append(np.full(rows.size, float(sg)))
            idx.append(offset + index[rows, cols])
    at.append((around[:, :, None] * m + around[:, None, :]).ravel())  # the blocks, after the curvature
    cat = np.concatenate
    return _Tables(p, q, around, side, cat(at), cat(sign), cat(idx), np.eye(d))


def _derivatives(D, WD, B, nk, weighted):
    """Gradient (m,) and Hessian (m, m) of the profiled objective f(D) = sum_k phi_k(diag(D^T W_k D))
    in the rotation D cayley(S), at S = 0, S skew with entries s_pq (p < q, np.triu_indices order).

    With M_k = D^T W_k D the diagonal moves as b_kj(S) = M_kjj + 2 (M_k S)_jj + (M_k S^2 - S M_k S)_jj
    + O(S^3): its gradient in s_pq is -2 M_kpq for j = p, 2 M_kpq for j = q, zero otherwise. phi is
    sum_j n_k log b_j (VVE) or (prod_j b_j)^(1/d) (EVE), with gradient c_kj and Hessian
    alpha_k / (b_i b_j) + beta_kj [i = j] in b.
    """
    k, d = B.shape
    t = _tables(d)
    m = t.p.size
    M = D.T @ WD
    if weighted:
        c, alpha, beta = nk[:, None] / B, None, -nk[:, None] / B**2
    else:
        g = _geomean(B)
        c, alpha, beta = g[:, None] / (d * B), g / d**2, -g[:, None] / (d * B**2)
    Mpq = 2 * M[:, t.p, t.q]
    grad = ((c[:, t.q] - c[:, t.p]) * Mpq).sum(axis=0)
    Y = Mpq[:, t.around] * t.side  # (k, d, d-1): d b_kj / d s over the pairs around axis j
    blocks = np.einsum("kj,kja,kjb->jab", beta, Y, Y)  # sum_k beta_kj (d b_kj)(d b_kj)^T, pairs around j
    G = c.T @ M.reshape(k, d * d)  # G[x, y * d + z] = sum_k c_kx M_kyz, and N[j, l] = G[j, j, l]
    N = G.reshape(d, d, d)[np.arange(d), np.arange(d)]
    curvature = t.sign * np.concatenate([N.ravel(), G.ravel()])[t.idx]
    half = np.bincount(t.at, np.concatenate([curvature, blocks.ravel() / 2]), m * m).reshape(m, m)
    hess = half + half.T
    if alpha is not None:  # EVE's rank-k term: sum_k alpha_k u_k u_k^T, u_k = d log prod_j b_kj
        u = (1 / B[:, t.q] - 1 / B[:, t.p]) * Mpq
        hess += (alpha[:, None] * u).T @ u
    return grad, hess


def _rotated(D, s):
    """D cayley(S) = D (I - S/2)^-1 (I + S/2): D turned by the skew S with upper entries ``s``."""
    t = _tables(D.shape[0])
    S = np.zeros_like(D)
    S[t.p, t.q] = s
    S -= S.T
    return D @ np.linalg.solve(t.eye - S / 2, t.eye + S / 2)


def _newton_trial(D, WD, B, nk, weighted):
    """D rotated by a Newton step on the profiled objective (_derivatives), or None where the Hessian
    is not positive definite (not yet in a minimum's basin)."""
    grad, hess = _derivatives(D, WD, B, nk, weighted)
    try:
        return _rotated(D, _solve_positive(hess, -grad))
    except np.linalg.LinAlgError:
        return None


def _solve_positive(hess, rhs):
    """hess^-1 rhs for a positive definite hess, by its Cholesky factor; LinAlgError where it is not.

    From _LAPACK_PAIRS pairs the factor's own triangular solves (scipy's cho_solve: at d = 50, m = 1225,
    0.1 ms against np.linalg.solve's LU, some 25 ms); below, numpy's solve (no scipy import)."""
    factor = np.linalg.cholesky(hess)
    if len(rhs) < _LAPACK_PAIRS:
        return np.linalg.solve(hess, rhs)
    from scipy.linalg import cho_solve

    return cho_solve((factor, True), rhs, check_finite=False)


def _saddle_free_direction(grad, hess):
    """-|hess|^-1 grad, |hess| with each eigenvalue of hess replaced by its absolute value, floored at
    1e-12 of a bound on the largest (|hess|'s largest row sum), for an indefinite hess.

    From _LAPACK_PAIRS pairs only the eigenpairs at or below the floor are computed (LAPACK's dsyevr
    over that range: a few, as a warm start has them; at d = 50 0.085 s against the whole eigh's 0.25):
    grad's part along them is divided by their floored absolute values, and the rest solved by the
    Cholesky factor of hess with them moved up to the bound (the same values on the rest). The same step
    as the whole spectrum's to 1e-10 (tested). Where that factor fails, and below _LAPACK_PAIRS, the
    whole eigh."""
    bound = np.abs(hess).sum(axis=1).max()
    floor = 1e-12 * bound
    if len(grad) >= _LAPACK_PAIRS:
        from scipy.linalg import eigh

        lam, V = eigh(hess, subset_by_value=(-np.inf, floor), driver="evr", check_finite=False)
        along = V.T @ grad
        try:
            rest = _solve_positive(hess + (V * (bound - lam)) @ V.T, grad - V @ along)
            return -(rest + V @ (along / np.maximum(np.abs(lam), floor)))
        except np.linalg.LinAlgError:
            pass
    lam, V = np.linalg.eigh(hess)
    return -V @ ((V.T @ grad) / np.maximum(np.abs(lam), floor))


def _saddle_free_step(D, WD, B, nk, weighted):
    """The saddle-free Newton step (Dauphin et al. 2014) on the profiled objective, as skew entries, and
    the decrease it predicts, -grad . step (> 0 unless at a stationary point), and whether it is plain
    Newton's (the Hessian positive definite).

    Newton's step with each Hessian eigenvalue replaced by its absolute value: Newton's own where the
    Hessian is positive definite, and elsewhere a descent direction that moves away from a saddle along
    its negative curvature, where the MM crawls (a warm start sits in such regions: the last EM step's
    orientation, for scatter that has since moved).
    """
    grad, hess = _derivatives(D, WD, B, nk, weighted)
    try:  # positive definite (the common case once EM has settled): Newton's step, by one Cholesky factor
        step, newton = _solve_positive(hess, -grad), True
    except np.linalg.LinAlgError:
        step, newton = _saddle_free_direction(grad, hess), False
    return step, -grad @ step, newton
