"""The data as the EM loop holds it, and the runner that maps the E-step over its blocks.

``EMData``: X with its weights, its row blocks, the shift (weighted mean) and radius about it
that the E-step kernels need, and a cache of each block's features phi(x). ``BlockRunner``:
``stats(params)`` = ``block_stats`` over the blocks, on threads, summed in a fixed order, so
that no result depends on the number of threads; or, where ``pruned`` applies (well-separated
matrix-covariance components), ``pruned.span_stats`` over spans of whole groups of blocks, each
span falling back to its blocks' ``block_stats`` where pruning does not pay.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from .cpus import blas_single_thread, default_threads
from .estep import block_stats, prepare_estep
from .params import MixtureParams
from .pruned import RETRY_AFTER, prepare_pruned, span_row_bytes, span_stats
from .stats import SuffStats, block_bounds, default_block_rows, n_estep_features, sum_stats
from .stats import features as phi_features


class EMData:
    """X with its weights, blocks, shift (weighted mean) and radius about the shift."""

    def __init__(self, X, sample_weight, covariance_type, n_components, block_rows=None):
        self.X = X
        self.w = sample_weight
        self.covariance_type = covariance_type
        n, d = X.shape
        if block_rows is None:
            block_rows = default_block_rows(covariance_type, d, n_components)
        self.block_rows = int(block_rows)
        self.bounds = block_bounds(n, self.block_rows)
        self.dtype = X.dtype
        self.n_components = n_components
        w = sample_weight
        acc = np.zeros(d)
        for a, b in self.bounds:
            xb = X[a:b]
            if w is None:
                acc += np.sum(xb, axis=0, dtype=np.float64)
            else:
                acc += w[a:b] @ xb.astype(np.float64, copy=False)
        self.weight = float(n if w is None else w.sum())
        self.shift = acc / self.weight
        r2 = 0.0
        for a, b in self.bounds:  # about the float64 shift; float32's rounded one is within eps
            xc = X[a:b] - self.shift
            r2 = max(r2, float(np.max(np.einsum("ij,ij->i", xc, xc))))
        self.radius2 = r2
        # phi of each block, kept across iterations and restarts when small (the digits sweep:
        # 13 MB at 1797 x 41; 50,000 x 50 diag 40 MB, 15-20% of its iteration; 200,000 x 10
        # full would need 105 MB and recomputes instead)
        m = n_estep_features(covariance_type, d)
        self.features = {} if m * n * 8 <= FEATURE_CACHE_BYTES else None

    def block_weights(self, a, b):
        return None if self.w is None else self.w[a:b]

    def block_features(self, a, b, state):
        """The block's (phi, q) as ``state`` needs them (its origin and dtype), computed once;
        None when the cache is off (too large)."""
        if self.features is None:
            return None
        key = (a, b, state.dtype)
        if key not in self.features:
            quadratic = state.structure.expands
            self.features[key] = phi_features(
                self.X[a:b], state.shift, state.structure, quadratic, state.dtype
            )
        return self.features[key]


#: Largest total size of the per-block feature vectors phi kept across EM iterations.
FEATURE_CACHE_BYTES = 64 << 20

#: The pruned kernel's spans: this many (runs of whole groups), each of at most SPAN_BYTES of
#: temporaries (``pruned.span_row_bytes`` a row). Each span loops over its components in
#: Python, so spans are few and large; four keep two threads busy.
SPANS = 4
SPAN_BYTES = 16 << 20

#: Blocks are summed in at most this many fixed groups (then the groups, in order): the
#: partition depends only on the number of blocks, so neither the result nor the memory held
#: (one group total each) depends on the number of threads.
MAX_GROUPS = 32


class BlockRunner:
    """Maps block_stats over the blocks (optionally on threads); sums in a fixed order."""

    def __init__(self, data: EMData, threads: int):
        self.data = data
        nb = len(data.bounds)
        g = min(nb, MAX_GROUPS)
        cuts = [round(i * nb / g) for i in range(g + 1)]
        self.groups = [data.bounds[cuts[i] : cuts[i + 1]] for i in range(g)]
        self.spans = _spans(self.groups, span_row_bytes(data.n_components, data.X.shape[1]))
        self.threads = max(1, min(int(threads), g))
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self.pause = 0  # iterations left without trying the pruned kernel
        self.backoff = RETRY_AFTER  # the next pause

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()

    def stats(self, params: MixtureParams, moments: bool = True) -> SuffStats:
        data = self.data
        state = prepare_estep(params, data.shift, dtype=data.dtype, radius2=data.radius2)

        def run(bounds):
            return sum_stats(
                block_stats(
                    data.X[a:b],
                    state,
                    data.block_weights(a, b),
                    moments=moments,
                    features=data.block_features(a, b, state),
                )
                for a, b in bounds
            )

        mapper = map if self.pool is None else self.pool.map
        pruned = prepare_pruned(params, state) if self.pause == 0 else None
        self.pause = max(0, self.pause - 1)
        if pruned is None:
            return sum_stats(mapper(run, self.groups))

        def run_span(groups):
            a, b = groups[0][0][0], groups[-1][-1][1]
            got = span_stats(data.X[a:b], pruned, data.block_weights(a, b), moments)
            return (got, False) if got is not None else (sum_stats(map(run, groups)), True)

        parts = list(mapper(run_span, self.spans))
        if all(fell_back for _, fell_back in parts):
            self.pause, self.backoff = self.backoff, 2 * self.backoff
        else:
            self.backoff = RETRY_AFTER
        return sum_stats(part for part, _ in parts)


def _spans(groups, row_bytes):
    """The groups in SPANS even runs (more where a run's rows would need more than SPAN_BYTES
    at ``row_bytes`` each; never more runs than groups)."""
    rows = groups[-1][-1][1]
    wanted = max(SPANS, -(-rows * row_bytes // SPAN_BYTES))
    g = len(groups)
    count = min(g, wanted)
    cuts = [round(i * g / count) for i in range(count + 1)]
    return [groups[cuts[i] : cuts[i + 1]] for i in range(count)]


@contextmanager
def running(data, threads):
    """A block runner on ``threads`` threads (default: the CPUs), BLAS at one thread."""
    runner = BlockRunner(data, default_threads() if threads is None else threads)
    try:
        with blas_single_thread():
            yield runner
    finally:
        runner.close()
