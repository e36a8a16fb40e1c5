"""How a covariance is stored, and everything that depends only on that: the four structures.

Every covariance model (``models.py``) stores its covariances in one of scikit-learn's four
layouts, and the E-step, the density, sampling, the statistics' layout and the plots need only
that layout, never the model's constraint:

=========  ==============  ==========================  =====================================
structure  covariances     precision factors U         second moments kept per component
=========  ==============  ==========================  =====================================
full       (k, d, d)       (k, d, d), P_k = U U^T      packed pairs i, j (``packed_pairs``)
tied       (d, d)          (d, d)                      the data scatter, one extra row
diag       (k, d)          (k, d), P_k = diag(U^2)     the diagonal, d
spherical  (k,)            (k,), P_k = U^2 I           the trace, 1
=========  ==============  ==========================  =====================================

A structure is a stateless object; ``STRUCTURES[name]`` finds it. The formulas follow
scikit-learn's ``_gaussian_mixture.py`` operation for operation, so the four models that
scikit-learn has keep its numbers to rounding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import as_strided

#: A variance below this fraction of its second moment is cancellation noise, i.e. zero.
ROUNDING_NOISE = 8.0 * float(np.finfo(np.float64).eps)


class NotPositiveDefinite(ValueError):
    """A covariance is not positive definite, so its precision cannot be factorised."""


@lru_cache(maxsize=64)
def packed_pairs(d: int) -> tuple[np.ndarray, np.ndarray]:
    """The index pairs (i, j) of a symmetric d x d matrix's packed entries, d(d+1)/2 of them, in
    ``cyclic_products``' order: by cyclic distance t = (j - i) mod d, t = 0 .. d // 2, then by i.
    """
    i, j = [], []
    for t in range(d // 2 + 1):
        rows = np.arange(d // 2 if 2 * t == d else d)  # t = d/2 (d even): i, i + d/2 pair twice
        i.append(rows)
        j.append((rows + t) % d)
    return np.concatenate(i), np.concatenate(j)


def cyclic_products(xt: np.ndarray, out: np.ndarray) -> None:
    """out (d(d+1)/2, n) = x_i x_j over ``packed_pairs(d)`` for the columns x of xt (d, n).

    One broadcast product against a strided view of [x; x] (row t + i is x_(i+t) mod d) makes
    the d pairs of each cyclic distance together: two numpy calls instead of d, which for
    d = 50 halved the features' time in 256-row blocks (call overhead, not arithmetic).
    """
    d, n = xt.shape
    full = (d + 1) // 2  # distances whose d pairs are all distinct
    xx = np.empty((d + full, n), dtype=out.dtype)
    xx[:d] = xt
    xx[d:] = xt[:full]
    s0, s1 = xx.strides
    shifted = as_strided(xx, shape=(full, d, n), strides=(s0, s0, s1), writeable=False)
    np.multiply(xt[None], shifted, out=out[: full * d].reshape(full, d, n))
    if d % 2 == 0:
        h = d // 2
        np.multiply(xt[:h], xt[h:], out=out[full * d :])


def unpack_symmetric(packed: np.ndarray, d: int) -> np.ndarray:
    """(k, d(d+1)/2) packed entries (``packed_pairs``) -> (k, d, d) symmetric matrices."""
    iu = packed_pairs(d)
    out = np.empty((packed.shape[0], d, d))
    out[:, iu[0], iu[1]] = packed
    out[:, iu[1], iu[0]] = packed
    return out


def _inverse_lower(lower: np.ndarray) -> np.ndarray:
    """Inverse of lower-triangular Cholesky factors (..., d, d); numpy has no triangular solver
    (``inv`` is LAPACK's gesv against the identity, as ``solve(lower, eye)``, without its checks)."""
    return np.tril(np.linalg.inv(lower))


def _zero_rounding_noise(variances, second_moments, cov, diag) -> None:
    """Set to exactly zero the variances that are only rounding noise of S2/N - m m^T.

    scikit-learn computes sum r (x - mu)^2 directly, so collapsed points give an exact zero and
    a failed Cholesky ("ill-defined covariance"); the moment form leaves noise of order
    eps * S2/N there instead. Zeroing it restores the same verdict (and reg_covar still rescues
    it, as in scikit-learn); real variances are far above eps * S2/N.
    """
    noise = variances <= ROUNDING_NOISE * second_moments
    if np.any(noise):
        if cov.ndim == 3:
            k_idx, j_idx = np.nonzero(noise)
            cov[k_idx, diag[j_idx], diag[j_idx]] = 0.0
        else:
            j_idx = np.flatnonzero(noise)
            cov[diag[j_idx], diag[j_idx]] = 0.0


class _Matrix:
    """Shared by full and tied: covariances are d x d matrices with Cholesky factors."""

    matrix = True

    def precision_cholesky(self, cov: np.ndarray) -> np.ndarray:
        try:  # all components in one batched LAPACK call
            return np.swapaxes(_inverse_lower(np.linalg.cholesky(cov)), -1, -2)
        except np.linalg.LinAlgError:
            raise NotPositiveDefinite("a covariance is not positive definite") from None

    def check_positive_definite(self, cov: np.ndarray) -> None:
        self.precision_cholesky(cov)

    def n_quadratic(self, d: int) -> int:
        return d * (d + 1) // 2

    def square_features(self, xt: np.ndarray, out: np.ndarray) -> None:
        """The quadratic rows of phi: x_i x_j over ``packed_pairs``."""
        cyclic_products(xt, out)

    def add_to_diagonal(self, cov: np.ndarray, value: float) -> np.ndarray:
        d = cov.shape[-1]
        diag = np.arange(d)
        cov[..., diag, diag] += value
        return cov

    def precision_scale(self, pc: np.ndarray, d: int) -> np.ndarray:
        """Per precision P, a bound on sum_ij |P_ij x_i x_j| / |x|^2 (the expansion's terms):
        the spectral radius of |P|, itself at most |P|'s largest row sum, and at most the trace
        (Cauchy-Schwarz). The row sum is d times below the trace for near-diagonal P."""
        prec = np.matmul(pc, np.swapaxes(pc, -1, -2))
        np.abs(prec, out=prec)  # in place: a second (k, d, d) temporary cost 4x the time at k=191
        rows = prec.sum(axis=-1).max(axis=-1)
        return np.atleast_1d(np.minimum(rows, np.einsum("...ii->...", prec)))  # |P|'s diagonal is P's

    def factor_rows(self, v: np.ndarray, pc: np.ndarray, c: int) -> np.ndarray:
        """Rows v (n, d) times component c's precision factor: |v^T U_c| is v's Mahalanobis norm."""
        return v @ (pc[c] if pc.ndim == 3 else pc)

    def factor_inverse(self, pc: np.ndarray) -> np.ndarray:
        """The precision factors' inverses U^-1, for ``factor_growth``."""
        return np.linalg.inv(pc)

    def factor_growth(self, inverse0: np.ndarray, pc: np.ndarray) -> np.ndarray:
        """(k,) at least each ||U0_k^-1 U_k||_2 (so |v^T U_k| <= |v^T U0_k| times it), by
        sqrt(||A||_1 ||A||_inf); ``inverse0``: U0's ``factor_inverse``."""
        a = np.abs(inverse0 @ pc)
        return np.sqrt(a.sum(axis=-2).max(axis=-1) * a.sum(axis=-1).max(axis=-1))

    def trace(self, cov: np.ndarray, d: int) -> np.ndarray:
        """Each covariance's trace, the sum of its variances."""
        return np.einsum("...ii->...", cov)

    def mean_precision(self, pc: np.ndarray, d: int) -> np.ndarray:
        """(k,) each precision's mean eigenvalue, trace(U U^T) / d."""
        return np.einsum("...ij,...ij->...", pc, pc) / d

    def least_precision(self, pc: np.ndarray, cov: np.ndarray) -> np.ndarray:
        """(k,) at most each precision's least eigenvalue 1 / lambda_max(Sigma): lambda_max is
        at most Sigma's largest absolute row sum (Gershgorin) and its trace."""
        cov = np.abs(cov)
        return 1.0 / np.minimum(cov.sum(axis=-1).max(axis=-1), np.einsum("...ii->...", cov))

    def quadratic_coef(self, pc: np.ndarray, mu: np.ndarray):
        """(quad (k, q), lin (k, d), mu^T P mu (k,)) of the quadratic expansion of log N."""
        k, d = mu.shape
        prec = self._precisions(pc, k)
        iu = packed_pairs(d)
        quad = -prec[:, iu[0], iu[1]]
        quad[:, iu[0] == iu[1]] *= 0.5
        lin = np.einsum("kij,kj->ki", prec, mu)
        y = self._project(mu, pc)
        return quad, lin, np.sum(y * y, axis=1)

    def direct_terms(self, pc: np.ndarray, mu: np.ndarray, dtype) -> dict:
        """The direct kernel's stacked factors [U_k^T | -(mu_k U_k)], (k*d, d+1) in dtype."""
        k, d = mu.shape
        factors = np.empty((k, d, d + 1))
        factors[:, :, :d] = np.swapaxes(np.broadcast_to(pc, (k, d, d)), 1, 2)
        factors[:, :, d] = -self._project(mu, pc)
        return dict(factors=factors.reshape(k * d, d + 1).astype(dtype))

    def maha(self, X: np.ndarray, means: np.ndarray, pc: np.ndarray) -> np.ndarray:
        n, k = X.shape[0], means.shape[0]
        out = np.empty((n, k), dtype=np.result_type(X, means))
        factors = np.broadcast_to(pc, (k,) + pc.shape[-2:])
        for i in range(k):
            y = (X @ factors[i]) - (means[i] @ factors[i])
            out[:, i] = np.sum(np.square(y), axis=1)
        return out

    def sklearn_precisions(self, pc: np.ndarray) -> np.ndarray:
        return pc @ np.swapaxes(pc, -1, -2)

    def matrices(self, cov: np.ndarray, k: int, d: int) -> np.ndarray:
        return np.broadcast_to(cov, (k, d, d)).copy()

    def draw(self, z: np.ndarray, cov: np.ndarray, i: int) -> np.ndarray:
        """Standard normal rows z turned into draws of component i's covariance (mean 0)."""
        one = cov[i] if cov.ndim == 3 else cov
        return z @ np.linalg.cholesky(one).T


class Full(_Matrix):
    name = "full"
    family = "ellipsoidal"  # mclust's word for the shapes it allows (plots colour by it)
    extra_row = False
    shared = False  # one covariance for all components
    expands = True  # the E-step's fast kernels expand x^T P x over phi's quadratic rows

    def cov_shape(self, k: int, d: int) -> tuple:
        return (k, d, d)

    def log_det(self, pc: np.ndarray, d: int) -> np.ndarray:
        k = pc.shape[0]
        return np.sum(np.log(pc.reshape(k, -1)[:, :: d + 1]), axis=1)

    def _precisions(self, pc, k):
        return np.matmul(pc, np.swapaxes(pc, 1, 2))

    def _project(self, mu, pc):
        return np.einsum("ki,kij->kj", mu, pc)

    def scatter_gemm(self, d: int, k: int) -> bool:
        """Second moments by per-component GEMMs (x r_k)^T x rather than from phi.

        phi's d(d+1)/2 products per row are memory traffic; the GEMM form does twice the flops
        but touches k*d values per row. With few components in many dimensions (4k <= d) it
        wins (measured: d=64, k=10 2x faster by GEMM; d=41, k=110 4x faster by phi; d=10, k=8
        1.5x faster by phi).
        """
        return 4 * k <= d

    def second_moments(self, moments: np.ndarray, k: int, d: int) -> np.ndarray:
        return unpack_symmetric(moments[:k, : self.n_quadratic(d)], d)

    def scatter_covariance(self, stats, nk, m, corr) -> np.ndarray:
        """sum r (x - m)(x - m)^T / nk = S2 / nk - (2 - n_sum / nk) m m^T (exactly)."""
        d = m.shape[1]
        diag = np.arange(d)
        second = stats.s2 / nk[:, None, None]
        cov = second - corr[:, None, None] * (m[:, :, None] * m[:, None, :])
        _zero_rounding_noise(cov[:, diag, diag], second[:, diag, diag], cov, diag)
        return cov

    def scatter_sums(self, cov: np.ndarray, nk: np.ndarray, d: int) -> np.ndarray:
        """W_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T back from the scatter covariance W_k / N_k."""
        return cov * nk[:, None, None]


class Tied(_Matrix):
    name = "tied"
    family = "ellipsoidal"
    shared = True
    extra_row = True  # the moments of the data itself (responsibility one), for the data scatter
    expands = False  # one whitening serves every component: phi is x - shift and 1 only

    def cov_shape(self, k: int, d: int) -> tuple:
        return (d, d)

    def log_det(self, pc: np.ndarray, d: int) -> np.ndarray:
        return np.sum(np.log(np.diag(pc)))

    def _precisions(self, pc, k):
        return np.broadcast_to(pc @ pc.T, (k,) + pc.shape)

    def _project(self, mu, pc):
        return mu @ pc

    def whitening(self, pc: np.ndarray, mu: np.ndarray):
        """(W (d, d), nu (k, d)) with y = W (x - shift) and nu_k = W mu_k, so that
        (x - mu_k)^T P (x - mu_k) = |y - nu_k|^2: one precision factor serves every component."""
        return pc.T, self._project(mu, pc)

    def scatter_gemm(self, d: int, k: int) -> bool:
        return True  # only the data scatter is needed: always cheaper as one GEMM

    def second_moments(self, moments: np.ndarray, k: int, d: int) -> np.ndarray:
        return unpack_symmetric(moments[-1:, : self.n_quadratic(d)], d)[0]

    def scatter_covariance(self, stats, nk, m, corr) -> np.ndarray:
        """scikit-learn: (X^T X - sum_k nk mu_k mu_k^T) / sum(nk), in raw coordinates.

        With x = c + x', mu_k = c + m_k this is exactly the expression below; the terms in c
        vanish (to rounding) when each row's responsibilities sum to one, but not for
        scikit-learn's one-hot initialisations, which it must reproduce.
        """
        d = m.shape[1]
        diag = np.arange(d)
        c = stats.shift
        delta = stats.data_s1 - stats.s1.sum(axis=0)
        lost = stats.data_n - nk.sum()
        cov = stats.s2 - (nk[:, None] * m).T @ m
        cov += np.outer(c, delta) + np.outer(delta, c) + lost * np.outer(c, c)
        cov /= nk.sum()
        _zero_rounding_noise(cov[diag, diag], stats.s2[diag, diag] / nk.sum(), cov, diag)
        return cov

    def scatter_sums(self, cov: np.ndarray, nk: np.ndarray, d: int) -> np.ndarray:
        return cov * nk.sum()


class _Vector:
    """Shared by diag and spherical: covariances are variances, factors 1/sqrt of them."""

    extra_row = False
    matrix = False
    shared = False
    expands = True

    def precision_cholesky(self, cov: np.ndarray) -> np.ndarray:
        if np.any(cov <= 0.0):
            raise NotPositiveDefinite("a variance is not positive")
        return 1.0 / np.sqrt(cov)

    def check_positive_definite(self, cov: np.ndarray) -> None:
        if np.any(cov <= 0):
            raise NotPositiveDefinite("a variance is not positive")

    def scatter_gemm(self, d: int, k: int) -> bool:
        return False

    def add_to_diagonal(self, cov: np.ndarray, value: float) -> np.ndarray:
        cov += value
        return cov

    def sklearn_precisions(self, pc: np.ndarray) -> np.ndarray:
        return pc**2

    def factor_rows(self, v: np.ndarray, pc: np.ndarray, c: int) -> np.ndarray:
        """Rows v (n, d) scaled by component c's per-feature precision factors."""
        return v * self._per_feature(pc[c : c + 1], v.shape[1])

    def factor_inverse(self, pc: np.ndarray) -> np.ndarray:
        return 1.0 / pc

    def factor_growth(self, inverse0: np.ndarray, pc: np.ndarray) -> np.ndarray:
        """(k,) each ||U0_k^-1 U_k||_2: the largest ratio of the factors."""
        return np.max(self._per_feature(pc * inverse0, 1), axis=1)

    def trace(self, cov: np.ndarray, d: int) -> np.ndarray:
        """(k,) each covariance's trace, the sum of its variances."""
        return np.sum(self._per_feature(cov, d), axis=1)

    def mean_precision(self, pc: np.ndarray, d: int) -> np.ndarray:
        """(k,) each precision's mean eigenvalue: its mean per-feature precision."""
        return np.mean(self._per_feature(pc, d) ** 2, axis=1)

    def least_precision(self, pc: np.ndarray, cov: np.ndarray) -> np.ndarray:
        """(k,) each precision's least eigenvalue: its least per-feature precision."""
        return np.min(self._per_feature(pc, 1) ** 2, axis=1)

    def direct_terms(self, pc: np.ndarray, mu: np.ndarray, dtype) -> dict:
        scale = self._per_feature(pc, mu.shape[1])
        return dict(scale=scale[:, :, None].astype(dtype), offset=(scale * mu)[:, :, None].astype(dtype))

    def scatter_sums(self, cov: np.ndarray, nk: np.ndarray, d: int) -> np.ndarray:
        """diag: the diagonals of W_k; spherical: their traces (a variance is tr W_k / (d N_k))."""
        sums = cov * nk.reshape((-1,) + (1,) * (cov.ndim - 1))
        return sums if cov.ndim == 2 else sums * d

    def draw(self, z: np.ndarray, cov: np.ndarray, i: int) -> np.ndarray:
        return z * np.sqrt(cov[i])


class Diag(_Vector):
    name = "diag"
    family = "diagonal"

    def cov_shape(self, k: int, d: int) -> tuple:
        return (k, d)

    def n_quadratic(self, d: int) -> int:
        return d

    def square_features(self, xt: np.ndarray, out: np.ndarray) -> None:
        np.square(xt, out=out)

    def log_det(self, pc: np.ndarray, d: int) -> np.ndarray:
        return np.sum(np.log(pc), axis=1)

    def precision_scale(self, pc: np.ndarray, d: int) -> np.ndarray:
        # for variances sum_j p_j x_j^2 <= max_j p_j |x|^2: the largest precision bounds the
        # expansion's terms (the trace, d times larger for equal variances, only overstates them)
        return np.max(pc * pc, axis=1)

    def _per_feature(self, pc, d):
        return pc

    def quadratic_coef(self, pc: np.ndarray, mu: np.ndarray):
        prec = pc * pc
        return -0.5 * prec, prec * mu, np.sum(prec * mu * mu, axis=1)

    def maha(self, X: np.ndarray, means: np.ndarray, pc: np.ndarray) -> np.ndarray:
        precisions = pc**2
        return (
            np.sum(means**2 * precisions, axis=1)
            - 2.0 * (X @ (means * precisions).T)
            + ((X**2) @ precisions.T)
        )

    def second_moments(self, moments: np.ndarray, k: int, d: int) -> np.ndarray:
        return moments[:k, :d].copy()

    def scatter_covariance(self, stats, nk, m, corr) -> np.ndarray:
        second = stats.s2 / nk[:, None]
        cov = second - corr[:, None] * m * m
        cov[cov <= ROUNDING_NOISE * second] = 0.0
        return cov

    def matrices(self, cov: np.ndarray, k: int, d: int) -> np.ndarray:
        return np.einsum("kd,de->kde", cov, np.eye(cov.shape[1]))


class Spherical(_Vector):
    name = "spherical"
    family = "spherical"

    def cov_shape(self, k: int, d: int) -> tuple:
        return (k,)

    def n_quadratic(self, d: int) -> int:
        return 1

    def square_features(self, xt: np.ndarray, out: np.ndarray) -> None:
        np.einsum("ij,ij->j", xt, xt, out=out[0])

    def log_det(self, pc: np.ndarray, d: int) -> np.ndarray:
        return d * np.log(pc)

    def precision_scale(self, pc: np.ndarray, d: int) -> np.ndarray:
        return pc * pc  # the one precision: it bounds every term (see Diag)

    def _per_feature(self, pc, d):
        return np.repeat(pc[:, None], d, axis=1)

    def quadratic_coef(self, pc: np.ndarray, mu: np.ndarray):
        prec = pc * pc
        return (-0.5 * prec)[:, None], prec[:, None] * mu, prec * np.sum(mu * mu, axis=1)

    def maha(self, X: np.ndarray, means: np.ndarray, pc: np.ndarray) -> np.ndarray:
        precisions = pc**2
        return (
            np.sum(means**2, axis=1) * precisions
            - 2 * (X @ means.T * precisions)
            + np.outer(np.einsum("ij,ij->i", X, X), precisions)
        )

    def second_moments(self, moments: np.ndarray, k: int, d: int) -> np.ndarray:
        return moments[:k, 0].copy()

    def scatter_covariance(self, stats, nk, m, corr) -> np.ndarray:
        d = m.shape[1]
        second = stats.s2 / nk
        cov = (second - corr * np.sum(m * m, axis=1)) / d
        cov[cov <= ROUNDING_NOISE * second / d] = 0.0
        return cov

    def matrices(self, cov: np.ndarray, k: int, d: int) -> np.ndarray:
        return cov[:, None, None] * np.eye(d)


STRUCTURES = {s.name: s for s in (Full(), Tied(), Diag(), Spherical())}
