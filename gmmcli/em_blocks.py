"""EM as sufficient statistics: one block's E-step, the sum, and the M-step.

This is the seam of the engine (see design.md, "EM as sufficient statistics")::

    state = prepare_estep(params, shift, dtype=X.dtype, radius2=r2)   # driver, tiny
    parts = [block_stats(X[a:b], state, w[a:b]) for a, b in blocks]   # map over blocks
    total = sum_stats(parts)                                           # reduce (ordered)
    params = m_step(total, reg_covar)                                  # driver, tiny

``block_stats`` sees only its rows, so the same functions serve in-memory blocks, streaming,
and a distributed engine (map the block function over partitions, sum, M-step on the driver).

Statistics are moments about a fixed ``shift`` (a centre of the data chosen once per fit, e.g.
its weighted mean), which keeps ``S2/N - m m^T`` free of cancellation for data far from the
origin. For each component k, over the rows n of a block with weight w_n and responsibility
r_nk, and x_n measured from the shift::

    N_k  = sum_n w_n r_nk
    S1_k = sum_n w_n r_nk x_n
    S2_k = sum_n w_n r_nk x_n x_n^T      full: packed upper triangle (d(d+1)/2 values)
                                         diag: its diagonal (d values); spherical: its trace
                                         tied: the data scatter sum_n w_n x_n x_n^T (one more
                                         row of moments, with responsibility 1)
    loglik = sum_n w_n log p(x_n),  weight = sum_n w_n

All of them come out of one matrix product: with the row's feature vector
``phi(x) = [quadratic terms, x, 1]`` (length m), ``moments = (w r)^T phi`` is (k, m).

The E-step has three kernels, chosen per iteration by ``prepare_estep``:

* ``quadratic`` (float64): log pi_k + log N(x | k) is linear in the same features phi(x), so the
  whole weighted log-probability of a block is one GEMM ``coef (k, m) @ phi (m, rows)``. That is
  half the flops of the direct form and no (rows, k*d) temporary. The expansion
  x^T P x - 2 x^T P mu + mu^T P mu loses about eps * |x - shift|^2 * trace(P) to cancellation,
  so it is used only when that bound is below 1e-9 (absolute, in log-density).
* ``direct`` (float32 input, or float64 data where the bound above is too large): sklearn's
  form, y = (x - mu_k) U_k, one GEMM against all components' precision factors stacked as
  (k*d, d+1) (the offset folded in through a row of ones), squared and summed per component.
  For float32 input this runs in float32; everything after the Mahalanobis distances
  (log-sum-exp, responsibilities, moments) is float64. Components go a few at a time, so that
  the (chunk*d, rows) product stays in cache.
* ``screened`` (float64, full or tied, many components, the bound too large): the quadratic
  GEMM for all components, then the direct form only for the pairs within 50 nats (plus twice
  the bound) of their row's best; the others weigh less than e^-50 in every sum, where the
  expansion's error cannot show. With many small components (the digits sweep: about one pair
  per row at k=191) that is the quadratic kernel's cost with the direct kernel's precision.

Everything is laid out transposed, (features, rows), so that every numpy pass has the row
count as its contiguous inner loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .gaussian import (
    COVARIANCE_TYPES,
    ILL_DEFINED_COVARIANCE,
    IllDefinedCovariance,
    MixtureParams,
    log_det_cholesky,
    precision_cholesky,
)

LOG_2PI = math.log(2.0 * math.pi)

#: Bytes aimed at for one block's largest temporary (fits in L2 next to its neighbours).
BLOCK_BYTES = 1 << 21

#: Bytes of the direct kernel's per-chunk distance temporary (stays in L2 between passes).
CHUNK_BYTES = 1 << 20

#: The screened kernel (full and tied, when the quadratic expansion is not exact enough): rows'
#: components within SCREEN_NATS (plus twice the expansion's error bound) of the row's best are
#: recomputed exactly; used from this many components (below, the direct kernel is as fast:
#: measured on digits, d=41: 3x slower at k=11, 2x faster at k=191), and per block only while
#: at most one pair in SCREEN_MAX_SHARE is that close.
SCREEN_NATS = 50.0
SCREEN_MIN_COMPONENTS = 32
SCREEN_MAX_SHARE = 4

#: Largest absolute error in log-density tolerated from the quadratic expansion.
QUADRATIC_MAX_ERROR = 1e-9

_EPS64 = float(np.finfo(np.float64).eps)


def n_quadratic_features(covariance_type: str, n_features: int) -> int:
    """Number of second-moment values per component kept for this covariance type."""
    d = n_features
    if covariance_type in ("full", "tied"):
        return d * (d + 1) // 2
    if covariance_type == "diag":
        return d
    if covariance_type == "spherical":
        return 1
    raise ValueError(f"unknown covariance type {covariance_type!r}")


def n_moment_features(covariance_type: str, n_features: int) -> int:
    """Length m of the feature vector phi(x) = [quadratic terms, x, 1]."""
    return n_quadratic_features(covariance_type, n_features) + n_features + 1


def default_block_rows(covariance_type: str, n_features: int, n_components: int) -> int:
    """Rows per block: keeps the widest per-block temporary near ``BLOCK_BYTES``.

    Depends only on the model's shape (never on threads, jobs or dtype), so that the order in
    which statistics are summed, and hence the result, is the same however the blocks are run.
    """
    width = max(
        n_moment_features(covariance_type, n_features), n_components * n_features, n_components
    )
    rows = BLOCK_BYTES // (8 * width)
    rows = 1 << max(0, int(rows).bit_length() - 1)  # a power of two, rounded down
    return int(min(max(rows, 256), 16384))


def block_bounds(n_rows: int, block_rows: int) -> list[tuple[int, int]]:
    """[(start, stop), ...] covering range(n_rows) in blocks of block_rows."""
    return [(a, min(a + block_rows, n_rows)) for a in range(0, n_rows, block_rows)]


# --------------------------------------------------------------------------------------------
# Statistics


@dataclass
class SuffStats:
    """Additive EM statistics of some rows (see the module docstring for the layout).

    ``moments`` is (k, m) float64: columns [0, q) are the packed second moments, [q, q+d) the
    first moments S1 and the last column N; all about ``shift``. For tied it has one more row,
    the same moments of the data itself (responsibility one), whose second moment is the
    scatter scikit-learn's tied M-step uses. ``moments`` is None for
    statistics computed for the log-likelihood only.
    """

    covariance_type: str
    shift: np.ndarray
    moments: np.ndarray | None
    loglik: float
    weight: float

    @property
    def n_features(self) -> int:
        return int(self.shift.shape[0])

    @property
    def n_quadratic(self) -> int:
        return n_quadratic_features(self.covariance_type, self.n_features)

    @property
    def n_components(self) -> int:
        return int(self.moments.shape[0]) - (self.covariance_type == "tied")

    @property
    def nk(self) -> np.ndarray:
        """N_k, sum of (weighted) responsibilities, shape (k,)."""
        return self.moments[: self.n_components, -1]

    @property
    def s1(self) -> np.ndarray:
        """S1_k = sum w r (x - shift), shape (k, d)."""
        q = self.n_quadratic
        return self.moments[: self.n_components, q : q + self.n_features]

    @property
    def s2(self) -> np.ndarray:
        """Second moments about the shift.

        full (k, d, d): S2_k = sum w r x x^T; diag (k, d) its diagonal; spherical (k,) its
        trace; tied (d, d): the data scatter sum_n w_n x_n x_n^T (what scikit-learn uses).
        """
        q, d = self.n_quadratic, self.n_features
        if self.covariance_type == "tied":
            return _unpack_symmetric(self.moments[-1:, :q], d)[0]
        packed = self.moments[:, :q]
        if self.covariance_type == "full":
            return _unpack_symmetric(packed, d)
        if self.covariance_type == "diag":
            return packed.copy()
        return packed[:, 0].copy()

    @property
    def data_s1(self) -> np.ndarray:
        """tied only: sum_n w_n (x_n - shift), shape (d,)."""
        q = self.n_quadratic
        return self.moments[-1, q : q + self.n_features]

    def __add__(self, other: "SuffStats") -> "SuffStats":
        if other.covariance_type != self.covariance_type or not (
            other.shift is self.shift or np.array_equal(other.shift, self.shift)
        ):
            raise ValueError("statistics about different shifts or models cannot be added")
        if self.moments is None or other.moments is None:
            moments = None
        else:
            moments = self.moments + other.moments
        return SuffStats(
            self.covariance_type,
            self.shift,
            moments,
            self.loglik + other.loglik,
            self.weight + other.weight,
        )


def _unpack_symmetric(packed: np.ndarray, d: int) -> np.ndarray:
    iu = _triu(d)
    out = np.empty((packed.shape[0], d, d))
    out[:, iu[0], iu[1]] = packed
    out[:, iu[1], iu[0]] = packed
    return out


def sum_stats(parts) -> SuffStats:
    """Sum statistics in the order given (so a fixed block order gives a fixed result)."""
    it = iter(parts)
    try:
        total = next(it)
    except StopIteration:
        raise ValueError("no statistics to sum") from None
    moments = None if total.moments is None else total.moments.copy()
    loglik, weight = total.loglik, total.weight
    for part in it:
        if part.covariance_type != total.covariance_type:
            raise ValueError("statistics of different covariance types cannot be added")
        if moments is not None:
            if part.moments is None:
                moments = None
            else:
                moments += part.moments
        loglik += part.loglik
        weight += part.weight
    return SuffStats(total.covariance_type, total.shift, moments, loglik, weight)


# --------------------------------------------------------------------------------------------
# E-step


@dataclass(frozen=True)
class EStepState:
    """Everything a block needs to run the E-step: built once per iteration from the params."""

    covariance_type: str
    n_components: int
    n_features: int
    shift: np.ndarray  # float64 (d,)
    dtype: np.dtype  # dtype the Mahalanobis distances are computed in
    kernel: str  # "quadratic", "direct" or "screened"
    coef: np.ndarray | None = None  # quadratic, screened: (k, m) float64, log pi + log N = coef @ phi
    factors: np.ndarray | None = None  # direct full/tied: (k*d, d+1) in dtype
    scale: np.ndarray | None = None  # direct diag/spherical: (k, d, 1) in dtype
    offset: np.ndarray | None = None  # direct diag/spherical: (k, d, 1) in dtype
    const: np.ndarray | None = None  # direct: (k,) float64, log pi + log det - d/2 log 2 pi
    shift_c: np.ndarray | None = None  # the shift in dtype, (d, 1)
    screen: float = math.inf  # screened: components this far (nats) below a row's best are not recomputed


def quadratic_error_bound(params: MixtureParams, shift: np.ndarray, radius2: float) -> float:
    """Bound on the absolute error of the quadratic expansion of log N in float64.

    radius2 is max_n |x_n - shift|^2 over the data.
    """
    cov_type, pc = params.covariance_type, params.precisions_cholesky
    d = params.n_features
    if cov_type == "full":
        trace = np.einsum("kij,kij->k", pc, pc)
    elif cov_type == "tied":
        trace = np.array([np.sum(pc * pc)])
    elif cov_type == "diag":
        trace = np.sum(pc * pc, axis=1)
    else:
        trace = d * pc * pc
    mu2 = np.max(np.sum((params.means - shift) ** 2, axis=1))
    m = n_moment_features(cov_type, d)
    return float(4.0 * math.sqrt(m) * _EPS64 * max(radius2, mu2) * np.max(trace))


def prepare_estep(
    params: MixtureParams,
    shift: np.ndarray,
    *,
    dtype=np.float64,
    radius2: float | None = None,
    kernel: str = "auto",
) -> EStepState:
    """Precompute the per-iteration E-step coefficients.

    kernel "auto" picks "quadratic" for float64 when ``quadratic_error_bound`` is below
    ``QUADRATIC_MAX_ERROR`` (needs radius2), else "screened" for full and tied covariances with
    many components, else "direct". float32 always uses "direct" unless asked otherwise.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"E-step dtype must be float32 or float64, not {dtype}")
    cov_type = params.covariance_type
    k, d = params.n_components, params.n_features
    shift = np.asarray(shift, dtype=np.float64)
    if kernel not in ("auto", "quadratic", "direct", "screened"):
        raise ValueError(f"unknown E-step kernel {kernel!r}")
    bound = math.inf
    if kernel in ("auto", "screened") and dtype == np.float64 and radius2 is not None:
        bound = quadratic_error_bound(params, shift, radius2)
    if kernel == "auto":
        if bound <= QUADRATIC_MAX_ERROR:
            kernel = "quadratic"
        elif cov_type in ("full", "tied") and k >= SCREEN_MIN_COMPONENTS and math.isfinite(bound):
            kernel = "screened"
        else:
            kernel = "direct"

    means = np.asarray(params.means, dtype=np.float64)
    pc = np.asarray(params.precisions_cholesky, dtype=np.float64)
    mu = means - shift  # component means measured from the shift
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(params.weights, dtype=np.float64))
    log_det = np.broadcast_to(log_det_cholesky(pc, cov_type, d), (k,))
    const = log_w + log_det - 0.5 * d * LOG_2PI
    common = dict(
        covariance_type=cov_type,
        n_components=k,
        n_features=d,
        shift=shift,
        dtype=dtype,
        kernel=kernel,
        shift_c=shift.astype(dtype)[:, None],
        const=const,
    )
    if kernel == "quadratic":
        return EStepState(coef=_quadratic_coef(cov_type, pc, mu, const), **common)
    direct = _direct_terms(cov_type, pc, mu, dtype)
    if kernel == "screened":
        return EStepState(coef=_quadratic_coef(cov_type, pc, mu, const), screen=SCREEN_NATS + 2.0 * bound,
                          **direct, **common)
    return EStepState(**direct, **common)


def _quadratic_coef(cov_type: str, pc: np.ndarray, mu: np.ndarray, const: np.ndarray) -> np.ndarray:
    """(k, m): log pi_k + log N(x | k) = coef_k . phi(x), phi = [quadratic terms, x - shift, 1]."""
    k, d = mu.shape
    q = n_quadratic_features(cov_type, d)
    coef = np.empty((k, q + d + 1))
    if cov_type in ("full", "tied"):
        if cov_type == "full":
            prec = np.matmul(pc, np.swapaxes(pc, 1, 2))
        else:
            prec = np.broadcast_to(pc @ pc.T, (k, d, d))
        iu = _triu(d)
        quad = -prec[:, iu[0], iu[1]]
        quad[:, iu[0] == iu[1]] *= 0.5
        lin = np.einsum("kij,kj->ki", prec, mu)
        if cov_type == "full":
            y = np.einsum("ki,kij->kj", mu, pc)
        else:
            y = mu @ pc
        mpm = np.sum(y * y, axis=1)
    elif cov_type == "diag":
        prec = pc * pc
        quad = -0.5 * prec
        lin = prec * mu
        mpm = np.sum(prec * mu * mu, axis=1)
    else:
        prec = pc * pc
        quad = (-0.5 * prec)[:, None]
        lin = prec[:, None] * mu
        mpm = prec * np.sum(mu * mu, axis=1)
    coef[:, :q] = quad
    coef[:, q : q + d] = lin
    coef[:, -1] = const - 0.5 * mpm
    return coef


def _direct_terms(cov_type: str, pc: np.ndarray, mu: np.ndarray, dtype) -> dict:
    """The direct kernel's factors (full, tied) or scale and offset (diag, spherical)."""
    k, d = mu.shape
    if cov_type in ("full", "tied"):
        factors = np.empty((k, d, d + 1))
        if cov_type == "full":
            factors[:, :, :d] = np.swapaxes(pc, 1, 2)  # U_k^T
            factors[:, :, d] = -np.einsum("ki,kij->kj", mu, pc)  # -(mu_k U_k)
        else:
            factors[:, :, :d] = pc.T
            factors[:, :, d] = -(mu @ pc)
        return dict(factors=factors.reshape(k * d, d + 1).astype(dtype))
    scale = pc if cov_type == "diag" else np.repeat(pc[:, None], d, axis=1)
    return dict(scale=scale[:, :, None].astype(dtype), offset=(scale * mu)[:, :, None].astype(dtype))


@lru_cache(maxsize=64)
def _triu(d: int):
    return np.triu_indices(d)


def _use_scatter_gemm(covariance_type: str, n_features: int, n_components: int) -> bool:
    """Whether second moments come from per-component GEMMs rather than the features phi.

    phi's d(d+1)/2 products per row are memory traffic; the GEMM form (x r_k)^T x does twice
    the flops of phi's but touches k*d values per row. With few components in many dimensions
    (4k <= d) the GEMM form wins; otherwise phi does (measured: d=64, k=10 2x faster by GEMM;
    d=41, k=110 4x faster by phi; d=10, k=8 1.5x faster by phi). tied needs only the data
    scatter, always cheaper as one GEMM.
    """
    if covariance_type == "tied":
        return True
    return covariance_type == "full" and 4 * n_components <= n_features


def _features(X: np.ndarray, shift: np.ndarray, covariance_type: str, quadratic: bool):
    """phi(x)^T for a block, (rows of phi, n) float64, and the number of quadratic rows q.

    Layout: [quadratic terms (q rows, or none when ``quadratic`` is false), x - shift (d), 1].
    """
    n, d = X.shape
    q = n_quadratic_features(covariance_type, d) if quadratic else 0
    phi = np.empty((q + d + 1, n))
    xt = phi[q : q + d]
    np.subtract(X.T, shift[:, None], out=xt)
    phi[q + d] = 1.0
    if quadratic:
        if covariance_type in ("full", "tied"):
            o = 0
            for i in range(d):
                np.multiply(xt[i], xt[i:], out=phi[o : o + d - i])
                o += d - i
        elif covariance_type == "diag":
            np.square(xt, out=phi[:d])
        else:
            np.einsum("ij,ij->j", xt, xt, out=phi[0])
    return phi, q


def block_features(X: np.ndarray, shift: np.ndarray, covariance_type: str):
    """(phi, q) for a block, quadratic terms included: what ``block_stats`` computes first, and
    the same in every iteration (it depends on the rows and the shift only)."""
    return _features(X, np.asarray(shift, dtype=np.float64), covariance_type, True)


def _direct_log_prob(X: np.ndarray, phi: np.ndarray, q: int, state: EStepState) -> np.ndarray:
    """log pi_k + log N(x | k), (k, rows) float64, by sklearn's (x - mu) U form in state.dtype."""
    n, d = X.shape
    k = state.n_components
    if state.dtype == np.float64:
        xt1 = phi[q:]  # (d+1, rows): x - shift and the row of ones
    else:
        xt1 = np.empty((d + 1, n), dtype=state.dtype)
        np.subtract(X.T, state.shift_c, out=xt1[:d], dtype=state.dtype)
        xt1[d] = 1
    if state.factors is not None:
        # components a few at a time, so that y stays in cache: one (k*d, rows) product
        # would go through memory three times (measured 2.3x slower for k=191, d=41)
        maha = np.empty((k, n), dtype=state.dtype)
        step = max(1, CHUNK_BYTES // (d * n * state.dtype.itemsize))
        for c in range(0, k, step):
            y = (state.factors[c * d : (c + step) * d] @ xt1).reshape(-1, d, n)
            np.einsum("kdn,kdn->kn", y, y, out=maha[c : c + step])
    else:
        y = xt1[None, :d] * state.scale
        y -= state.offset
        np.square(y, out=y)
        maha = np.sum(y, axis=1)
    log_prob = np.multiply(maha, -0.5, dtype=np.float64)
    log_prob += state.const[:, None]
    return log_prob


def _screened_log_prob(X: np.ndarray, phi: np.ndarray, q: int, state: EStepState) -> np.ndarray:
    """The direct kernel's values where they matter, the quadratic expansion's elsewhere.

    The quadratic expansion (one GEMM over phi, which the moments need anyway) is off by at most
    ``bound`` nats. Entries more than ``screen`` = 50 + 2 bound nats below their row's best
    weigh less than e^-50 of it in every sum (log-likelihood, responsibilities, moments): for
    them the expansion is as good as exact. The rest, typically a few components per row, are
    recomputed by the direct kernel's arithmetic, pair by pair. Blocks where many pairs are
    close fall back to the direct kernel whole.
    """
    approx = state.coef @ phi  # (k, rows)
    close = approx >= np.max(approx, axis=0) - state.screen
    comps, rows = np.nonzero(close)
    if len(comps) * SCREEN_MAX_SHARE > approx.size:
        return _direct_log_prob(X, phi, q, state)
    d = state.n_features
    factors = state.factors.reshape(state.n_components, d, d + 1)
    y = np.matmul(factors[comps], phi[q:, rows].T[:, :, None])[:, :, 0]  # U_c^T (x - mu_c), by pair
    approx[comps, rows] = -0.5 * np.einsum("pi,pi->p", y, y) + state.const[comps]
    return approx


def block_stats(
    X: np.ndarray,
    state: EStepState,
    sample_weight: np.ndarray | None = None,
    *,
    moments: bool = True,
    features: tuple | None = None,
) -> SuffStats:
    """E-step on one block of rows: its additive statistics under the parameters in ``state``.

    X is (rows, d) float32 or float64 (it is never copied whole; only the block is read).
    With ``moments=False`` only the log-likelihood and weight are computed. ``features``:
    the block's ``block_features`` when the caller keeps them from one iteration to the next.
    """
    cov_type = state.covariance_type
    scatter = _use_scatter_gemm(cov_type, state.n_features, state.n_components)
    need_quad = state.kernel != "direct" or (moments and not scatter)
    phi, q = features if features is not None else _features(X, state.shift, cov_type, need_quad)
    if state.kernel == "quadratic":
        log_prob = state.coef @ phi  # (k, rows): log pi_k + log N(x | k)
    elif state.kernel == "screened":
        log_prob = _screened_log_prob(X, phi, q, state)
    else:
        log_prob = _direct_log_prob(X, phi, q, state)

    top = np.max(log_prob, axis=0)
    if not np.all(np.isfinite(top)):
        top = np.where(np.isfinite(top), top, 0.0)
    log_prob -= top
    resp = np.exp(log_prob, out=log_prob)
    total = np.sum(resp, axis=0)
    with np.errstate(divide="ignore"):
        lse = np.log(total)
    lse += top
    if sample_weight is None:
        loglik = float(np.sum(lse))
        weight = float(X.shape[0])
    else:
        loglik = float(np.dot(sample_weight, lse))
        weight = float(np.sum(sample_weight))
    if not moments:
        return SuffStats(cov_type, state.shift, None, loglik, weight)
    resp /= total
    mom = _moments(resp, phi, q, sample_weight, cov_type, scatter)
    return SuffStats(cov_type, state.shift, mom, loglik, weight)


def _moments(resp, phi, q, sample_weight, covariance_type: str, scatter: bool) -> np.ndarray:
    """The packed moments (k, m) of a block (k+1 rows for tied) from its responsibilities.

    resp (k, n) is scaled by the weights in place. phi is (q + d + 1, n) as made by _features.
    For tied the extra row holds the moments of the data itself (responsibility one): its
    second moment is the data scatter X^T W X that scikit-learn's tied M-step uses, which
    differs from sum_k S2_k when responsibilities do not sum to one per row (as in its one-hot
    initialisations).
    """
    k, n = resp.shape
    d = phi.shape[0] - q - 1
    qt = n_quadratic_features(covariance_type, d)
    m = qt + d + 1
    if sample_weight is not None:
        resp *= sample_weight
    lin = phi[q:]  # (d+1, n): x - shift, 1
    if not scatter:  # phi carries the quadratic terms: one GEMM
        if phi.shape[0] > 100:
            return resp @ phi.T
        return (phi @ resp.T).T  # this orientation runs faster in OpenBLAS for small m
    iu = _triu(d)
    xt = lin[:d]
    if covariance_type == "tied":
        out = np.zeros((k + 1, m))
        out[:k, qt:] = resp @ lin.T
        xw = xt if sample_weight is None else xt * sample_weight
        out[k, :qt] = (xw @ xt.T)[iu]
        out[k, qt : qt + d] = np.sum(xw, axis=1)
        out[k, -1] = n if sample_weight is None else np.sum(sample_weight)
        return out
    # full, few components in many dimensions: S2_k = (x r_k)^T x for all k in one GEMM
    out = np.empty((k, m))
    z = resp[:, None, :] * xt[None]  # (k, d, n)
    s2 = (z.reshape(k * d, n) @ xt.T).reshape(k, d, d)
    out[:, :qt] = s2[:, iu[0], iu[1]]
    out[:, qt:] = resp @ lin.T
    return out


def resp_stats(
    X: np.ndarray,
    resp: np.ndarray,
    shift: np.ndarray,
    covariance_type: str,
    sample_weight: np.ndarray | None = None,
) -> SuffStats:
    """Statistics of a block for given responsibilities (rows, k): for initialisation."""
    k = resp.shape[1]
    scatter = _use_scatter_gemm(covariance_type, X.shape[1], k)
    shift = np.asarray(shift, dtype=np.float64)
    phi, q = _features(X, shift, covariance_type, not scatter)
    r = np.array(resp, dtype=np.float64).T  # a copy: _moments scales it in place
    weight = float(X.shape[0]) if sample_weight is None else float(np.sum(sample_weight))
    mom = _moments(r, phi, q, sample_weight, covariance_type, scatter)
    return SuffStats(covariance_type, shift, mom, 0.0, weight)


# --------------------------------------------------------------------------------------------
# M-step


#: A variance below this fraction of its second moment is cancellation noise, i.e. zero.
_NOISE = 8.0 * _EPS64


def _zero_rounding_noise(variances, second_moments, cov, diag) -> None:
    """Set to exactly zero the variances that are only rounding noise of S2/N - m m^T.

    scikit-learn computes sum r (x - mu)^2 directly, so collapsed points give an exact zero and
    a failed Cholesky ("ill-defined covariance"); our moment form leaves noise of order
    eps * S2/N there instead. Zeroing it restores the same verdict (and reg_covar still rescues
    it, as in scikit-learn); real variances are far above eps * S2/N.
    """
    noise = variances <= _NOISE * second_moments
    if np.any(noise):
        if cov.ndim == 3:
            k_idx, j_idx = np.nonzero(noise)
            cov[k_idx, diag[j_idx], diag[j_idx]] = 0.0
        else:
            j_idx = np.flatnonzero(noise)
            cov[diag[j_idx], diag[j_idx]] = 0.0


def m_step(stats: SuffStats, reg_covar: float, *, initial: bool = False) -> MixtureParams:
    """Parameters from summed statistics, with scikit-learn's formulas and conventions.

    As in scikit-learn, N_k gets 10 * eps added, covariances get ``reg_covar`` on the diagonal,
    and the weights are N_k / sum(N_k), except for the initialisation (``initial=True``) where
    scikit-learn divides by the number of rows (here: the total weight). Diagonal and spherical
    variances are clipped at zero before ``reg_covar`` is added, so rounding can never make them
    negative. Raises IllDefinedCovariance when a covariance is not positive definite.
    """
    cov_type = stats.covariance_type
    if stats.moments is None:
        raise ValueError("these statistics carry no moments")
    d = stats.n_features
    n_sum = stats.nk
    nk = n_sum + 10.0 * _EPS64
    m = stats.s1 / nk[:, None]  # means measured from the shift
    means = stats.shift + m
    # sum r (x - m)(x - m)^T / nk  =  S2 / nk - (2 - n_sum / nk) m m^T   (exactly)
    corr = 2.0 - n_sum / nk
    if not np.all(np.isfinite(stats.moments)):
        raise IllDefinedCovariance(ILL_DEFINED_COVARIANCE)
    diag = np.arange(d)
    if cov_type == "full":
        second = stats.s2 / nk[:, None, None]
        cov = second - corr[:, None, None] * (m[:, :, None] * m[:, None, :])
        _zero_rounding_noise(cov[:, diag, diag], second[:, diag, diag], cov, diag)
        cov[:, diag, diag] += reg_covar
    elif cov_type == "tied":
        # scikit-learn: (X^T X - sum_k nk mu_k mu_k^T) / sum(nk), in raw coordinates. With
        # x = c + x', mu_k = c + m_k this is exactly the expression below; the terms in c vanish
        # (to rounding) when each row's responsibilities sum to one, but not for sklearn's
        # one-hot initialisations, which it must reproduce.
        c = stats.shift
        delta = stats.data_s1 - stats.s1.sum(axis=0)
        lost = stats.weight - nk.sum()
        cov = stats.s2 - (nk[:, None] * m).T @ m
        cov += np.outer(c, delta) + np.outer(delta, c) + lost * np.outer(c, c)
        cov /= nk.sum()
        _zero_rounding_noise(cov[diag, diag], stats.s2[diag, diag] / nk.sum(), cov, diag)
        cov[diag, diag] += reg_covar
    elif cov_type == "diag":
        second = stats.s2 / nk[:, None]
        cov = second - corr[:, None] * m * m
        cov[cov <= _NOISE * second] = 0.0
        cov += reg_covar
    else:
        second = stats.s2 / nk
        cov = (second - corr * np.sum(m * m, axis=1)) / d
        cov[cov <= _NOISE * second / d] = 0.0
        cov += reg_covar
    weights = nk / stats.weight if initial else nk / nk.sum()
    return MixtureParams(cov_type, weights, means, cov, precision_cholesky(cov, cov_type))


__all__ = [
    "COVARIANCE_TYPES",
    "EStepState",
    "SuffStats",
    "block_bounds",
    "block_features",
    "block_stats",
    "default_block_rows",
    "m_step",
    "n_moment_features",
    "n_quadratic_features",
    "prepare_estep",
    "quadratic_error_bound",
    "resp_stats",
    "sum_stats",
]
