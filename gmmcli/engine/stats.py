"""EM's sufficient statistics: the block layout, phi(x), the additive moments, their sum.

One E-step over a block of rows returns additive statistics about a fixed ``shift`` (a centre
of the data chosen once per fit, e.g. its weighted mean, which keeps ``S2/N - m m^T`` free of
cancellation for data far from the origin). For each component k, over the rows n of a block
with weight w_n and responsibility r_nk, and x_n measured from the shift::

    N_k  = sum_n w_n r_nk
    S1_k = sum_n w_n r_nk x_n
    S2_k = sum_n w_n r_nk x_n x_n^T      in the structure's layout (``covariance.structures``):
                                         full: packed (``packed_pairs``); diag: its diagonal;
                                         spherical: its trace; tied: the data scatter
                                         sum_n w_n x_n x_n^T (one more row, responsibility 1)
    loglik = sum_n w_n log p(x_n),  weight = sum_n w_n

All of them come out of one matrix product: with the row's feature vector
``phi(x) = [quadratic terms, x, 1]`` (length m), ``moments = (w r)^T phi`` is (k, m). The blocks
are summed in an order that depends only on the data's shape, so a fit's bits never depend on
threads, ``--jobs`` or the machine. Everything is laid out transposed, (features, rows), so that
every numpy pass has the row count as its contiguous inner loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import covariance
from .covariance.structures import packed_pairs

#: Bytes aimed at for one block's largest temporary (fits in L2 next to its neighbours).
BLOCK_BYTES = 1 << 21

#: Least rows x m x k (phi's length as the E-step builds it, times the components) per block:
#: a block's fixed cost, some 30 + d numpy calls whose every start hands the GIL between the
#: runner's threads, must stay a small share of its GEMMs. Measured on two threads (ms per
#: iteration, the same lower bounds): 200,000 x 10, k=8 full 24.3 -> 16.8 and tied 31.7 -> 22.5
#: with 8,192 rows instead of 2,048 (tied before its whitened kernel); 50,000 x 50 spherical
#: 6.9 -> 6.0 with 8,192 instead of 4,096; 200,000 x 10 diag 13.5 -> 10.8 with 16,384 instead
#: of 4,096; 50,000 x 50 full, k=16 keeps its 256 rows (512: 7% slower, its phi leaves the
#: cache). The machine's noise is some 10-20% between runs; each pair was taken interleaved.
BLOCK_WORK = 1 << 22

#: Least rows of a float64 block (float32 phi: twice as many), however wide phi is.
MIN_BLOCK_ROWS = 256


#: Columns (rows of the data) per GEMM over phi: a large block's products go this many at a
#: time, as OpenBLAS runs the short, wide products of few components faster in pieces
#: (one thread, CPU per iteration, interleaved: 200,000 x 10, k=8 diag 16.1 -> 12.1 ms and
#: spherical 10.5 -> 9.1 with its 16,384-row blocks; full the same, 28.8 against 29.2).
GEMM_COLUMNS = 4096

#: OpenBLAS (its SkylakeX kernels, numpy's wheels) multiplies without packing its operands
#: when m * n * k is at most 100^3. The moments' GEMM over a freshly used phi gains where phi is
#: short: one thread, 200,000 x 10, k=8 full (m=66), the moments alone 10.7 -> 5.5 ms per
#: 200,000 rows with 1,024 columns instead of 4,096 (just above the threshold, at 2,048, as slow
#: as at 4,096); the whole iteration 32.4 -> 27.7 ms (one thread) and 24.4 -> 21.3 (two),
#: interleaved, best of 6. Not for the log-probabilities: over a phi kept in memory across
#: iterations (diag, spherical) the unpacked products were slower (50,000 x 50 diag, 12.8 against
#: 15.5 ms on two threads).
SMALL_GEMM = 100**3

#: Fewest columns worth a GEMM call of their own: with longer phi (m * k above SMALL_GEMM / this)
#: the pieces would be too thin and the products go GEMM_COLUMNS at a time (50,000 x 50 diag,
#: k=16, m=101: its moments in 512-column pieces were 6% slower, one thread).
MIN_COLUMNS = 1024


def column_chunks(n: int, other: int | None = None):
    """Slices of range(n), GEMM_COLUMNS at a time (one slice for small blocks); with ``other``
    (the GEMM's other two sizes multiplied), as many as keep m * n * k within SMALL_GEMM (a
    power of two, at least MIN_COLUMNS), at most GEMM_COLUMNS."""
    step = GEMM_COLUMNS
    if other is not None:
        small = _power_of_two_below(SMALL_GEMM // other)
        if small >= MIN_COLUMNS:
            step = min(step, small)
    return [slice(a, min(a + step, n)) for a in range(0, n, step)]


def n_quadratic_features(covariance_type: str, n_features: int) -> int:
    """Number of second-moment values per component kept for this covariance model."""
    return covariance.get(covariance_type).structure.n_quadratic(n_features)


def n_moment_features(covariance_type: str, n_features: int) -> int:
    """Length m of the feature vector phi(x) = [quadratic terms, x, 1]."""
    return n_quadratic_features(covariance_type, n_features) + n_features + 1


def n_estep_features(covariance_type: str, n_features: int) -> int:
    """Rows of the phi the E-step builds: all m, or only x - shift and 1 where the structure
    does not expand (``Structure.expands``: tied, whose kernels whiten instead)."""
    if covariance.get(covariance_type).structure.expands:
        return n_moment_features(covariance_type, n_features)
    return n_features + 1


def block_width(covariance_type: str, n_features: int, n_components: int) -> int:
    """Values per row of a block's widest temporary: phi (m) or the log-probabilities (k).

    The direct kernel's (k*d, rows) products go a few components at a time (``estep``), so
    k*d does not count: counting it cut 50,000 x 50 diag, k=16 to 256-row blocks, whose fixed
    per-block costs made an iteration 25-40% slower than 2,048-row blocks (measured).
    """
    return max(n_estep_features(covariance_type, n_features), n_components)


def default_block_rows(covariance_type: str, n_features: int, n_components: int, itemsize: int = 8) -> int:
    """Rows per block: the widest per-block temporary near ``BLOCK_BYTES`` (counted in
    float64), at least ``BLOCK_WORK`` products of phi with the components (up to four times
    those bytes), and at least ``MIN_BLOCK_ROWS`` float64 rows' worth of phi's bytes.

    ``itemsize``: of phi's values (``estep.data_block_rows`` passes it: 4 for float32 matrix
    covariances). Only the floor counts in it: it keeps a wide phi's per-block costs a small
    share of its GEMMs, twice as fast in float32 (50,000 x 50, k=16, std 5, float32
    expansion, two threads: 512 rows 49 ms an iteration against 256 rows 55 and 2,048 rows
    65; float64 keeps its 256); longer blocks elsewhere were slower (200,000 x 10, k=8,
    float32: 16,384 rows 19 ms against 8,192 rows 12.6, as the sorted kernel certifies whole
    blocks). Depends only on the model's shape and the data's dtype (never on threads or
    jobs), so that the order in which statistics are summed, and hence the result, is the same
    however the blocks are run.
    """
    width = 8 * block_width(covariance_type, n_features, n_components)  # bytes per row
    by_bytes = _power_of_two_below(BLOCK_BYTES // width)
    work = n_estep_features(covariance_type, n_features) * n_components  # per row
    by_work = min(_power_of_two_above(-(-BLOCK_WORK // work)), _power_of_two_below(4 * BLOCK_BYTES // width))
    return int(min(max(by_bytes, by_work, MIN_BLOCK_ROWS * 8 // itemsize), 16384))


def _power_of_two_below(n: int) -> int:
    return 1 << max(0, int(n).bit_length() - 1)


def _power_of_two_above(n: int) -> int:
    return 1 << max(0, int(n - 1).bit_length())


def block_bounds(n_rows: int, block_rows: int) -> list[tuple[int, int]]:
    """[(start, stop), ...] covering range(n_rows) in blocks of block_rows."""
    return [(a, min(a + block_rows, n_rows)) for a in range(0, n_rows, block_rows)]


@dataclass
class SuffStats:
    """Additive EM statistics of some rows (see the module docstring for the layout).

    ``moments`` is (k, m) float64: columns [0, q) are the packed second moments, [q, q+d) the
    first moments S1 and the last column N; all about ``shift``. A structure with an extra row
    (tied) keeps there the same moments of the data itself (responsibility one), whose second
    moment is the scatter scikit-learn's tied M-step uses. ``moments`` is None for statistics
    computed for the log-likelihood only.
    """

    covariance_type: str
    shift: np.ndarray
    moments: np.ndarray | None
    loglik: float
    weight: float
    noise: float | None = None  # with a noise component: sum_n w_n r_n,noise (its N)
    noise_box: np.ndarray | None = None  # and its box, carried to the M-step

    @property
    def structure(self):
        return covariance.get(self.covariance_type).structure

    @property
    def n_features(self) -> int:
        return int(self.shift.shape[0])

    @property
    def n_quadratic(self) -> int:
        return self.structure.n_quadratic(self.n_features)

    @property
    def n_components(self) -> int:
        return int(self.moments.shape[0]) - int(self.structure.extra_row)

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
        """Second moments about the shift, in the structure's layout (the module docstring)."""
        return self.structure.second_moments(self.moments, self.n_components, self.n_features)

    @property
    def data_s1(self) -> np.ndarray:
        """With the extra row only: sum_n w_n (x_n - shift), shape (d,)."""
        q = self.n_quadratic
        return self.moments[-1, q : q + self.n_features]

    @property
    def data_n(self) -> float:
        """With the extra row only: sum_n w_n, the weight of the rows it holds (with a noise
        component, their share of the Gaussians: ``moments``' ``data_weight``)."""
        return float(self.moments[-1, -1])


def sum_stats(parts) -> SuffStats:
    """Sum statistics in the order given (so a fixed block order gives a fixed result).

    A single part is returned as it is (small data is one block: no copy, no new object)."""
    it = iter(parts)
    try:
        total = next(it)
    except StopIteration:
        raise ValueError("no statistics to sum") from None
    second = next(it, None)
    if second is None:
        return total
    moments = None if total.moments is None else total.moments.copy()
    loglik, weight, noise = total.loglik, total.weight, total.noise
    for part in (second, *it):
        if part.covariance_type != total.covariance_type:
            raise ValueError("statistics of different covariance models cannot be added")
        if moments is not None:
            if part.moments is None:
                moments = None
            else:
                moments += part.moments
        loglik += part.loglik
        weight += part.weight
        if noise is not None:
            noise += part.noise
    return SuffStats(total.covariance_type, total.shift, moments, loglik, weight, noise, total.noise_box)


def frame_shift(shift: np.ndarray, dtype) -> np.ndarray:
    """The shift as float64, rounded to ``dtype``: the exact origin of phi computed in dtype.

    float32 blocks subtract the float32 shift, so their statistics are about that value; the
    E-step states it (``SuffStats.shift``) so that the M-step adds back exactly what was taken.
    """
    rounded = np.asarray(shift, dtype=dtype)
    return rounded if rounded.dtype == np.float64 else rounded.astype(np.float64)


def features(X: np.ndarray, shift: np.ndarray, structure, quadratic: bool, dtype=np.float64):
    """phi(x)^T for a block, (rows of phi, n) in ``dtype``, and the number of quadratic rows q.

    Layout: [quadratic terms (q rows, or none when ``quadratic`` is false), x - shift (d), 1].
    In float32 (float32 data) it is half the memory traffic and feeds float32 GEMMs; its
    origin is then ``frame_shift(shift, float32)``.
    """
    n, d = X.shape
    q = structure.n_quadratic(d) if quadratic else 0
    phi = np.empty((q + d + 1, n), dtype=dtype)
    xt = phi[q : q + d]
    np.subtract(X.T, np.asarray(shift, dtype=dtype)[:, None], out=xt, dtype=dtype)
    phi[q + d] = 1.0
    if quadratic:
        structure.square_features(xt, phi[:q])
    return phi, q


def moments(resp, phi, q, sample_weight, structure, scatter: bool, data_weight=None) -> np.ndarray:
    """The packed moments (k, m) of a block (k+1 rows with the extra row) from responsibilities.

    resp (k, n) is scaled by the weights in place. phi is (q + d + 1, n) as made by
    ``features``; ``scatter``: the structure's ``scatter_gemm`` choice. The extra row (tied)
    holds the moments of the data itself (responsibility one): its second moment is the data
    scatter X^T W X that scikit-learn's tied M-step uses, which differs from sum_k S2_k when
    responsibilities do not sum to one per row (as in its one-hot initialisations).
    ``data_weight`` (n,), when given, weights the extra row instead of ``sample_weight``: with a
    noise component, each row's share of the Gaussians, so the outliers the noise explains do not
    widen the pooled covariance.
    """
    k, n = resp.shape
    d = phi.shape[0] - q - 1
    qt = structure.n_quadratic(d)
    m = qt + d + 1
    if sample_weight is not None:
        resp *= sample_weight
    if not scatter:  # phi carries the quadratic terms: one GEMM, in phi's dtype
        r = resp.astype(phi.dtype, copy=False)  # float32: each column chunk's sums in float32
        if phi.dtype == np.float64 and phi.shape[0] > 500:
            return r @ phi.T
        # OpenBLAS runs this orientation faster, up to 2x in float32 (one thread, this block
        # layout: m=1326, k=16, 256 rows 41 -> 79 GFLOP/s; m=66, k=8, 8,192 rows 17 -> 36;
        # float64 m=101, k=16 19 -> 28), but for float64 with long phi (m=903: 21 against 17)
        total = np.zeros((phi.shape[0], k))
        for c in column_chunks(n, phi.shape[0] * k):
            total += phi[:, c] @ r[:, c].T
        return total.T
    # the scatter forms cancel (S2 - sum N m m^T) far more: always float64
    lin = phi[q:].astype(np.float64, copy=False)  # (d+1, n): x - shift, 1
    iu = packed_pairs(d)
    xt = lin[:d]
    if structure.extra_row:
        row_w = sample_weight if data_weight is None else data_weight
        out = np.zeros((k + 1, m))
        out[:k, qt:] = resp @ lin.T
        xw = xt if row_w is None else xt * row_w
        out[k, :qt] = (xw @ xt.T)[iu]
        out[k, qt : qt + d] = np.sum(xw, axis=1)
        out[k, -1] = n if row_w is None else np.sum(row_w)
        return out
    # few components in many dimensions: S2_k = (x r_k)^T x for all k in one GEMM
    out = np.empty((k, m))
    z = resp[:, None, :] * xt[None]  # (k, d, n)
    s2 = (z.reshape(k * d, n) @ xt.T).reshape(k, d, d)
    out[:, :qt] = s2[:, iu[0], iu[1]]
    out[:, qt:] = resp @ lin.T
    return out


def resp_stats(X, resp, shift, covariance_type: str, sample_weight=None) -> SuffStats:
    """Statistics of a block for given responsibilities (rows, k): for initialisation."""
    k = resp.shape[1]
    structure = covariance.get(covariance_type).structure
    scatter = structure.scatter_gemm(X.shape[1], k)
    shift = np.asarray(shift, dtype=np.float64)
    phi, q = features(X, shift, structure, not scatter)
    r = np.array(resp, dtype=np.float64).T  # a copy: moments() scales it in place
    weight = float(X.shape[0]) if sample_weight is None else float(np.sum(sample_weight))
    return SuffStats(
        covariance_type, shift, moments(r, phi, q, sample_weight, structure, scatter), 0.0, weight
    )
