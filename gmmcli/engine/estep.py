"""The E-step: one block's statistics under given parameters, by one of three kernels.

The seam of the engine (the statistics are ``stats.SuffStats``)::

    state = prepare_estep(params, shift, dtype=X.dtype, radius2=r2)   # driver, tiny
    parts = [block_stats(X[a:b], state, w[a:b]) for a, b in blocks]   # map over blocks
    total = sum_stats(parts)                                           # reduce (ordered)
    params = m_step(total, reg_covar)                                  # driver, tiny

``block_stats`` sees only its rows, so the same functions serve in-memory blocks, streaming,
and a distributed engine (map the block function over partitions, sum, M-step on the driver).
Every covariance model stores full, diagonal or spherical covariances (its structure), and the
kernels need only that.

The kernels, chosen per iteration by ``prepare_estep``:

* ``quadratic``: log pi_k + log N(x | k) is linear in the features phi(x), so the whole
  weighted log-probability of a block is one GEMM ``coef (k, m) @ phi (m, rows)``. That is half
  the flops of the direct form and no (rows, k*d) temporary. The expansion
  x^T P x - 2 x^T P mu + mu^T P mu loses about eps * |x - shift|^2 * s(P) to cancellation, with
  s(P) a bound on x^T |P| x / |x|^2 (``precision_scale``: for variances the largest precision,
  for matrices the smaller of |P|'s largest row sum and the trace, d times below the trace for
  round components),
  so it is used only when that bound is below 1e-9 (absolute, in log-density). It runs in
  float64, for float32 variances too (phi made in float64 block by block: their one small GEMM
  is cheap, and the direct form's elementwise passes were 2-4x slower). For float32 matrix
  covariances it runs in float32, where its float32 bound is below ``FLOAT32_MAX_ERROR``
  (overlapping components, whose expansion hardly cancels: half the direct kernel's flops).
* ``direct`` (few components, where the bound above is too large): sklearn's form,
  y = (x - mu_k) U_k, one GEMM against all components' precision factors stacked as
  (k*d, d+1) (the offset folded in through a row of ones), squared and summed per component.
  For float32 input this runs in float32, and so do phi and the moments' GEMM (each block's
  sums then go on in float64; the scatter forms stay float64); log-sum-exp and
  responsibilities are float64. Components go a few at a time, so that the (chunk*d, rows)
  product stays in cache.
* ``whitened`` (a precision shared by all components, where the expansion's bound admits the
  quadratic kernel): y = W (x - shift) once per row, one (d, d) GEMM, then
  |y - nu_k|^2 = |y|^2 - 2 nu_k . y + |nu_k|^2 by one (k, d) GEMM: d^2 + k d products per row
  instead of the expansion's k d^2 / 2, and no quadratic features (the shared M-step needs
  only x and the data scatter). Its cancellation is the expansion's with x^T P x in place of
  its bound, so the same bound covers it; it runs in float64, for float32 data too (its
  GEMMs are a small part of the iteration).
* ``screened`` (the bound too large; matrix covariances with many components, and variances
  always, whose direct form is elementwise passes over (k, d, rows)): the quadratic GEMM for
  all components, then the direct form only for the pairs within 50 nats (plus twice the bound)
  of their row's best; the others weigh less than e^-50 in every sum, where the expansion's
  error cannot show. With many small components (the digits sweep: about one pair per row at
  k=191) that is the quadratic kernel's cost with the direct kernel's precision. For float32
  matrix covariances the GEMM, its bound (float32's eps) and the recomputed pairs are float32:
  at 20,000 x 41, k=150 about 1.5x faster than the float32 direct kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import covariance
from .params import MixtureParams
from .stats import SuffStats, column_chunks, default_block_rows, frame_shift, n_moment_features
from .stats import features as phi_features
from .stats import moments as packed_moments

LOG_2PI = math.log(2.0 * math.pi)

#: Bytes of the direct kernel's per-chunk distance temporary (stays in L2 between passes).
CHUNK_BYTES = 1 << 20

#: The screened kernel (when the quadratic expansion is not exact enough): rows' components
#: within SCREEN_NATS (plus twice the expansion's error bound) of the row's best are recomputed
#: exactly; for matrix covariances from this many components (below, the direct kernel is as
#: fast: measured on digits, d=41: 3x slower at k=11, 2x faster at k=191), for variances always
#: (their direct form is elementwise; the expansion one small GEMM), and per block only while at
#: most one pair in SCREEN_MAX_SHARE is that close.
SCREEN_NATS = 50.0
SCREEN_MIN_COMPONENTS = 32
SCREEN_MAX_SHARE = 4

#: Up to this many components the expansion is one GEMV a component: OpenBLAS's GEMM reads a
#: phi from memory slower at few rows (one thread, 50,000 x 101 float64 phi: a GEMV 2.1 ms, two
#: GEMVs 4.4 ms, a two-row GEMM 5.9 ms, three 6.9 ms).
GEMV_ROWS = 3

#: Largest absolute error in log-density tolerated from the quadratic expansion.
QUADRATIC_MAX_ERROR = 1e-9

#: The same for the float32 expansion (float32 matrix covariances), whose bound cannot come
#: near 1e-9 (eps is 1.2e-7): float32 log-probabilities are good to about eps |log N| (1e-5
#: nats at 50,000 x 50, std 5) in any kernel, and the bound runs far above the error seen
#: (there: bound 0.011-0.016; the largest error at a row's best component 1.7e-4 against the
#: direct kernel's 1.6e-5, rms 3e-5 against 3e-6, the lower bound 1.3e-8 relative from
#: float64's, as scikit-learn's float32 variances expand with no bound at all). Beyond it
#: (well-separated components, whose expansion cancels) the exact forms run.
FLOAT32_MAX_ERROR = 0.05

#: log-probabilities below their row's best by more than this are raised to it before exp():
#: numpy's exp is ~9x slower where it underflows (below about -708; measured 0.7 against 6 ns),
#: which well-separated components hit for most pairs, and e^-700 (1e-304) vanishes beside the
#: row's best term (1) in every sum.
EXP_FLOOR = -700.0


@dataclass(frozen=True)
class EStepState:
    """Everything a block needs to run the E-step: built once per iteration from the params."""

    covariance_type: str
    n_components: int
    n_features: int
    shift: np.ndarray  # float64 (d,)
    dtype: np.dtype  # of phi, coef and the distances (float32 data: see the module docstring)
    kernel: str  # "quadratic", "whitened", "direct" or "screened"
    coef: np.ndarray | None = None  # quadratic, screened: (k, m), log pi + log N = coef @ phi
    whiten: np.ndarray | None = None  # whitened: W (d, d); centres: nu (k, d), y = W (x - shift)
    centres: np.ndarray | None = None
    factors: np.ndarray | None = None  # direct, matrix covariances: (k*d, d+1) in dtype
    scale: np.ndarray | None = None  # direct, variances: (k, d, 1) in dtype
    offset: np.ndarray | None = None  # direct, variances: (k, d, 1) in dtype
    const: np.ndarray | None = None  # direct: (k,) float64, log pi + log det - d/2 log 2 pi
    screen: float = math.inf  # screened: components this far (nats) below a row's best are not recomputed
    floor: float = -math.inf  # EXP_FLOOR when every log-probability is finite (no zero weight)
    noise_log: float | None = None  # with a noise component: log(noise weight / V), every row
    noise_box: np.ndarray | None = None

    @cached_property
    def structure(self):
        return covariance.get(self.covariance_type).structure


def quadratic_error_bound(params: MixtureParams, shift, radius2: float, dtype=np.float64) -> float:
    """Bound on the absolute error of the quadratic expansion of log N computed in ``dtype``.

    radius2 is max_n |x_n - shift|^2 over the data.
    """
    pc, mu = params.precisions_cholesky, params.means - shift
    return _error_bound(params.covariance_type, pc, mu, radius2, np.dtype(dtype))


def _error_bound(covariance_type: str, pc: np.ndarray, mu: np.ndarray, radius2: float, dtype) -> float:
    """quadratic_error_bound from the precision factors and the means measured from the shift."""
    d = mu.shape[1]
    # per component, a bound on x^T |P| x / |x|^2 (the structure's precision_scale)
    scale = covariance.get(covariance_type).structure.precision_scale(pc, d)
    mu2 = float(np.max(np.einsum("ij,ij->i", mu, mu)))
    m = n_moment_features(covariance_type, d)
    eps = float(np.finfo(dtype).eps)
    return float(4.0 * math.sqrt(m) * eps * max(radius2, mu2) * np.max(scale))


def prepare_estep(
    params: MixtureParams,
    shift: np.ndarray,
    *,
    dtype=np.float64,
    radius2: float | None = None,
    kernel: str = "auto",
) -> EStepState:
    """Precompute the per-iteration E-step coefficients.

    kernel "auto" picks "quadratic" when ``quadratic_error_bound`` is below
    ``QUADRATIC_MAX_ERROR`` (``FLOAT32_MAX_ERROR`` for a float32 expansion; needs radius2;
    "whitened" instead, in float64 for either dtype, where one precision is shared), else
    "screened" for variances and for matrix covariances with many components, else "direct".
    The expansion runs in ``expansion_dtype``: float64 for float64 data and float32 variances,
    float32 for float32 matrix covariances (the bound then uses float32's eps); the state's
    dtype says which.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"E-step dtype must be float32 or float64, not {dtype}")
    structure = params.structure
    k, d = params.n_components, params.n_features
    shift = frame_shift(shift, dtype)  # the origin of the block's phi (float32: rounded)
    if kernel not in ("auto", "quadratic", "direct", "screened", "whitened"):
        raise ValueError(f"unknown E-step kernel {kernel!r}")
    # the expansion's kernels need phi's quadratic rows; the whitening needs a shared precision
    served = ("quadratic", "screened") if structure.expands else ("whitened",)
    if kernel not in ("auto", "direct", *served):
        raise ValueError(f"the {kernel} E-step kernel does not serve the {structure.name} structure")
    means = np.asarray(params.means, dtype=np.float64)
    pc = np.asarray(params.precisions_cholesky, dtype=np.float64)
    mu = means - shift  # component means measured from the shift
    expand = expansion_dtype(structure, dtype)
    bound = math.inf
    if kernel in ("auto", "screened") and radius2 is not None:
        bound = _error_bound(params.covariance_type, pc, mu, radius2, expand)
    if kernel == "auto":
        tolerance = FLOAT32_MAX_ERROR if expand == np.float32 else QUADRATIC_MAX_ERROR
        kernel = _auto_kernel(structure, k, bound, tolerance)
    if kernel != "direct":
        dtype = expand

    weights = np.asarray(params.weights, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
        if params.has_noise:  # the Gaussians share 1 - noise weight
            log_w += np.log1p(-params.noise_weight)
    const = log_w + structure.log_det(pc, d) - 0.5 * d * LOG_2PI  # log_det: (k,) or one value
    finite = math.isfinite(const.sum()) and (not params.has_noise or params.noise_weight > 0)
    common = dict(
        covariance_type=params.covariance_type,
        n_components=k,
        n_features=d,
        shift=shift,
        dtype=dtype,
        kernel=kernel,
        const=const,
        floor=EXP_FLOOR if finite else -math.inf,  # a zero weight keeps its exact zeros
    )
    if params.has_noise:
        common.update(noise_log=params.noise_log_density, noise_box=params.noise_box)
    if kernel == "quadratic":
        return EStepState(coef=_quadratic_coef(structure, pc, mu, const, dtype), **common)
    if kernel == "whitened":
        whiten, centres = structure.whitening(pc, mu)
        common["const"] = const - 0.5 * np.einsum("kd,kd->k", centres, centres)
        return EStepState(whiten=np.ascontiguousarray(whiten), centres=centres, **common)
    direct = structure.direct_terms(pc, mu, dtype)
    if kernel == "screened":
        return EStepState(
            coef=_quadratic_coef(structure, pc, mu, const, dtype),
            screen=SCREEN_NATS + 2.0 * bound,
            **direct,
            **common,
        )
    return EStepState(**direct, **common)


def expansion_dtype(structure, dtype) -> np.dtype:
    """phi's dtype for the expansion's kernels on data of ``dtype``: float32 only for float32
    matrix covariances, whose GEMMs over phi are most of an iteration; variances' expansion is
    one small GEMM, exact enough only in float64, and the shared whitening runs in float64."""
    single = np.dtype(dtype) == np.float32 and structure.matrix and structure.expands
    return np.dtype(np.float32 if single else np.float64)


def data_block_rows(covariance_type: str, n_features: int, n_components: int, dtype) -> int:
    """``stats.default_block_rows`` for data of ``dtype``: counted in its phi's itemsize."""
    itemsize = expansion_dtype(covariance.get(covariance_type).structure, dtype).itemsize
    return default_block_rows(covariance_type, n_features, n_components, itemsize)


def _auto_kernel(structure, k: int, bound: float, tolerance: float) -> str:
    """The fastest kernel that is exact enough (module docstring), given the expansion's bound
    and the error tolerated from it."""
    if not structure.expands:  # one whitening for every component; else the exact form
        return "whitened" if bound <= tolerance else "direct"
    if bound <= tolerance:
        return "quadratic"
    if math.isfinite(bound) and (k >= SCREEN_MIN_COMPONENTS or not structure.matrix):
        return "screened"
    return "direct"


def _quadratic_coef(structure, pc: np.ndarray, mu: np.ndarray, const: np.ndarray, dtype) -> np.ndarray:
    """(k, m) in dtype: log pi_k + log N(x | k) = coef_k . phi(x), phi = [quadratic terms, x - shift, 1]."""
    k, d = mu.shape
    q = structure.n_quadratic(d)
    quad, lin, mpm = structure.quadratic_coef(pc, mu)
    coef = np.empty((k, q + d + 1))
    coef[:, :q] = quad
    coef[:, q : q + d] = lin
    coef[:, -1] = const - 0.5 * mpm
    return coef.astype(dtype, copy=False)


def expanded_log_prob(phi: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """log pi_k + log N(x | k) by the expansion (``coef``: the state's, or some of its rows),
    (rows of coef, rows) float64: GEMMs in coef's dtype, GEMM_COLUMNS rows at a time."""
    if coef.shape[0] <= GEMV_ROWS:  # one GEMV a row (GEMV_ROWS: a few-row GEMM reads phi slower)
        return np.vstack([row @ phi for row in coef]).astype(np.float64, copy=False)
    chunks = column_chunks(phi.shape[1])
    if len(chunks) == 1:  # no copy into a float64 result already float64
        return (coef @ phi).astype(np.float64, copy=False)
    out = np.empty((coef.shape[0], phi.shape[1]))
    for c in chunks:
        out[:, c] = coef @ phi[:, c]
    return out


def _whitened_log_prob(phi: np.ndarray, q: int, state: EStepState) -> np.ndarray:
    """log pi_k + log N(x | k), (k, rows) float64, for a shared precision: const_k - |nu_k|^2 / 2
    (in state.const) + nu_k . y - |y|^2 / 2 with y = W (x - shift)."""
    y = state.whiten @ phi[q : q + state.n_features]
    log_prob = state.centres @ y
    log_prob += state.const[:, None]
    log_prob -= 0.5 * np.einsum("dn,dn->n", y, y)
    return log_prob


def _direct_log_prob(X: np.ndarray, phi: np.ndarray, q: int, state: EStepState) -> np.ndarray:
    """log pi_k + log N(x | k), (k, rows) float64, by sklearn's (x - mu) U form in state.dtype."""
    n, d = X.shape
    k = state.n_components
    xt1 = phi[q:]  # (d+1, rows) in state.dtype: x - shift and the row of ones
    # components a few at a time, so that y stays in cache: one (k, d, rows) temporary would
    # go through memory three times (measured 2.3x slower for k=191, d=41)
    maha = np.empty((k, n), dtype=state.dtype)
    step = max(1, CHUNK_BYTES // (d * n * state.dtype.itemsize))
    for c in range(0, k, step):
        y = _whitened(xt1, state, c, c + step)
        np.einsum("kdn,kdn->kn", y, y, out=maha[c : c + step])
    log_prob = np.multiply(maha, -0.5, dtype=np.float64)
    log_prob += state.const[:, None]
    return log_prob


def _whitened(xt1: np.ndarray, state: EStepState, a: int, b: int) -> np.ndarray:
    """U_k^T (x - mu_k) of components a..b, (b - a, d, rows) in state.dtype: one GEMM against
    the stacked factors for matrix covariances, a scale and an offset for variances."""
    d, n = state.n_features, xt1.shape[1]
    if state.factors is not None:
        return (state.factors[a * d : b * d] @ xt1).reshape(-1, d, n)
    y = xt1[None, :d] * state.scale[a:b]
    y -= state.offset[a:b]
    return y


def _screened_log_prob(X: np.ndarray, phi: np.ndarray, q: int, state: EStepState) -> np.ndarray:
    """The direct kernel's values where they matter, the quadratic expansion's elsewhere.

    The quadratic expansion (one GEMM over phi, which the moments need anyway) is off by at most
    ``bound`` nats. Entries more than ``screen`` = 50 + 2 bound nats below their row's best
    weigh less than e^-50 of it in every sum (log-likelihood, responsibilities, moments): for
    them the expansion is as good as exact. The rest, typically a few components per row, are
    recomputed by the direct kernel's arithmetic, pair by pair. Blocks where many pairs are
    close fall back to the direct kernel whole.
    """
    approx = expanded_log_prob(phi, state.coef)
    close = approx >= np.max(approx, axis=0) - state.screen
    # flatnonzero and divmod: the same pairs in the same order, 5x faster than 2-d nonzero
    comps, rows = np.divmod(np.flatnonzero(close), close.shape[1])
    if len(comps) * SCREEN_MAX_SHARE > approx.size:
        return _direct_log_prob(X, phi, q, state)
    # pairs a chunk at a time: each gathers its component's (d, d+1) factor (variances: its
    # scale and offset, and the whitened row)
    d = state.n_features
    per_pair = state.dtype.itemsize * d * ((d + 1) if state.factors is not None else 3)
    step = max(1, CHUNK_BYTES // per_pair)
    for a in range(0, len(comps), step):
        c, r = comps[a : a + step], rows[a : a + step]
        y = _whitened_pairs(phi[q:, r], state, c)
        approx[c, r] = -0.5 * np.einsum("pi,pi->p", y, y) + state.const[c]
    return approx


def _whitened_pairs(xt1: np.ndarray, state: EStepState, comps: np.ndarray) -> np.ndarray:
    """U_c^T (x - mu_c) for pairs (column p of xt1, component comps[p]), (pairs, d): the
    direct kernel's arithmetic (``_whitened``), pair by pair."""
    d = state.n_features
    if state.factors is not None:
        factors = state.factors.reshape(state.n_components, d, d + 1)
        return np.matmul(factors[comps], xt1.T[:, :, None])[:, :, 0]
    y = xt1[:d].T * state.scale[comps, :, 0]
    y -= state.offset[comps, :, 0]
    return y


def block_log_prob(X: np.ndarray, state: EStepState, features: tuple | None = None, moments: bool = True):
    """log pi_k + log N(x | k) of a block by the state's kernel, (k, rows) float64 (k + 1 rows
    with a noise component), and the block's (phi, q) for its moments."""
    structure = state.structure
    scatter = structure.scatter_gemm(state.n_features, state.n_components)
    need_quad = structure.expands and (state.kernel != "direct" or (moments and not scatter))
    if features is None:
        features = phi_features(X, state.shift, structure, need_quad, state.dtype)
    phi, q = features
    if state.kernel == "quadratic":
        log_prob = expanded_log_prob(phi, state.coef)
    elif state.kernel == "whitened":
        log_prob = _whitened_log_prob(phi, q, state)
    elif state.kernel == "screened":
        log_prob = _screened_log_prob(X, phi, q, state)
    else:
        log_prob = _direct_log_prob(X, phi, q, state)
    if state.noise_log is not None:  # the noise component: one more row, the same for every x
        log_prob = np.vstack([log_prob, np.full((1, log_prob.shape[1]), state.noise_log)])
    return log_prob, features


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
    ``EMData.block_features`` when the caller keeps them from one iteration to the next.
    """
    log_prob, (phi, q) = block_log_prob(X, state, features, moments)
    return log_prob_stats(log_prob, phi, q, state, sample_weight, moments=moments)


def log_prob_stats(
    log_prob: np.ndarray,
    phi: np.ndarray,
    q: int,
    state: EStepState,
    sample_weight: np.ndarray | None = None,
    *,
    moments: bool = True,
    components: np.ndarray | None = None,
) -> SuffStats:
    """A block's statistics from its log-probabilities (overwritten). ``components``: the
    components that log_prob's rows are (ascending), all others weighing nothing in the block
    (``sorted_blocks``); their moments are then zero."""
    cov_type = state.covariance_type
    structure = state.structure
    scatter = structure.scatter_gemm(state.n_features, state.n_components)
    top = log_prob.max(axis=0)
    if not math.isfinite(top.sum()):  # a row's -inf or NaN shows in the sum
        top = np.where(np.isfinite(top), top, 0.0)
    log_prob -= top
    if state.floor > -math.inf:
        np.maximum(log_prob, state.floor, out=log_prob)
    resp = np.exp(log_prob, out=log_prob)
    total = resp.sum(axis=0)
    with np.errstate(divide="ignore"):
        lse = np.log(total)
    lse += top
    if sample_weight is None:
        loglik = float(lse.sum())
        weight = float(log_prob.shape[1])
    else:
        loglik = float(np.dot(sample_weight, lse))
        weight = float(np.sum(sample_weight))
    noise = None
    if not moments:
        return SuffStats(cov_type, state.shift, None, loglik, weight, noise, state.noise_box)
    resp /= total
    data_weight = None
    if state.noise_log is not None:
        r0 = resp[-1]
        noise = float(np.sum(r0) if sample_weight is None else np.dot(sample_weight, r0))
        resp = resp[:-1]
        if structure.extra_row:  # the pooled scatter counts each row by its share of the Gaussians
            data_weight = 1.0 - r0 if sample_weight is None else (1.0 - r0) * sample_weight
    mom = packed_moments(resp, phi, q, sample_weight, structure, scatter, data_weight)
    if components is not None:
        kept, mom = mom, np.zeros((state.n_components, mom.shape[1]))
        mom[components] = kept
    return SuffStats(cov_type, state.shift, mom, loglik, weight, noise, state.noise_box)
