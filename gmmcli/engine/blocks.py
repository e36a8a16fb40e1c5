"""The runner that maps the E-step over the data's blocks (``emdata.EMData``).

``BlockRunner.stats(params)`` = ``block_stats`` over the blocks, on threads, summed in a fixed
order, so that no result depends on the number of threads. Two kernels go first where they
apply: ``sorted_blocks`` (well-separated components: the rows sorted by component once, then
certain runs from their sums), and ``pruned`` (well-separated matrix-covariance components):
``pruned.span_stats`` over spans of whole groups of blocks, each span falling back to its
blocks' ``block_stats`` where pruning does not pay."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from .cpus import blas_single_thread, default_threads
from .emdata import EMData
from .estep import block_stats, prepare_estep
from .params import MixtureParams
from .pruned import RETRY_AFTER, prepare_pruned, span_row_bytes, span_stats
from .pruned import applies as pruned_applies
from .sorted_blocks import SortedRows, likely_certain, prepare_sorted
from .sorted_blocks import applies as sorted_applies
from .stats import SuffStats, sum_stats

#: The pruned kernel's spans: this many (runs of whole groups), each of at most SPAN_BYTES of
#: temporaries (``pruned.span_row_bytes`` a row). Each span loops over its components in
#: Python, so spans are few and large; four keep two threads busy.
SPANS = 4
SPAN_BYTES = 16 << 20

#: Blocks are summed in at most this many fixed groups (then the groups, in order): the
#: partition depends only on the number of blocks, so neither the result nor the memory held
#: (one group total each) depends on the number of threads.
MAX_GROUPS = 32

#: Fewer rows than this are never sorted: their iterations are short, and the sort's passes
#: and gathers (and the guess whether to sort, each iteration) would show (without this cut:
#: fits of iris, 3,000-row blobs and the 1,797-row digits 30-40% slower, in one noisy run).
MIN_SORTED_ROWS = 4096

#: The rows are sorted from this many iterations on, not before: EM on well-separated data
#: (where sorting pays) often converges in two or three iterations, and sorting costs some.
SORT_AFTER = 2

#: The sorted order is dropped after an iteration that computed more than this share of the
#: (row, component) pairs: its blocks' few-row GEMMs read phi as slowly as the dense kernel's.
MAX_KEPT_SHARE = 0.5

#: The rows are sorted when ``sorted_blocks.likely_certain`` guesses at least this share of
#: them certain (sorting costs a pass over the rows, a gather of each block and its phi: not
#: on overlapping components); where the pruned kernel applies too, the order is kept only
#: while at least this share is certain (the uncertain blocks' kept components over phi cost
#: more than the pruned kernel's pairs: its d^2 per pair against phi's d^2 / 2 per row).
MIN_CERTAIN = 0.5


class Backoff:
    """When to try a kernel that may not pay: after an iteration where it did not, skip the
    next RETRY_AFTER iterations, then twice as many after each further such iteration (the
    components may separate as EM goes on)."""

    def __init__(self, pause: int = 0):
        self.pause = pause  # iterations left without trying
        self.next = RETRY_AFTER

    def ready(self) -> bool:
        """Whether to try in this iteration (counting it)."""
        ready = self.pause == 0
        self.pause = max(0, self.pause - 1)
        return ready

    def record(self, paid: bool) -> None:
        if paid:
            self.next = RETRY_AFTER
        else:
            self.pause, self.next = self.next, 2 * self.next


class BlockRunner:
    """Maps block_stats over the blocks (optionally on threads); sums in a fixed order."""

    def __init__(self, data: EMData, threads: int):
        self.data = data
        self.groups = _groups(data.bounds)
        self.spans = _spans(self.groups, span_row_bytes(data.n_components, data.X.shape[1]))
        self.threads = max(1, min(int(threads), len(self.groups)))
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None
        self.pruned = Backoff()
        self.sorting = Backoff(SORT_AFTER)
        self.sorted = None  # SortedRows while the sorted kernel runs
        self.sortable = MIN_SORTED_ROWS <= data.X.shape[0]

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()

    def stats(self, params: MixtureParams, moments: bool = True) -> SuffStats:
        data = self.data
        ready = self.sortable and self.sorting.ready()
        exact = state = None  # the sorted kernel's state, where it runs (cheap checks first)
        if ready and self.sorted is not None:
            # rows already sorted: the float64 state the sorted kernel runs on first, so that float32
            # rows do not pay for a float32 one they would drop (2.3 ms an iteration at k=150, d=41)
            probe = self._state(params, np.float64)
            exact = prepare_sorted(params, probe, data.shift, data.radius2)
            if exact is not None:
                rival = pruned_applies(params, exact)
                return self._sorted_stats(params, exact, moments, rival=rival)
            state = probe if probe.dtype == data.dtype else None
        if state is None:
            state = self._state(params, data.dtype)

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

        mapper = self._mapper
        if ready and self.sorted is None and sorted_applies(params, state):
            if likely_certain(params, state) >= MIN_CERTAIN:
                exact = prepare_sorted(params, state, data.shift, data.radius2)
        if exact is not None:
            return self._sorted_stats(params, exact, moments, rival=pruned_applies(params, state))
        self.sorted = None
        pruned = prepare_pruned(params, state) if self.pruned.ready() else None
        if pruned is None:
            return sum_stats(mapper(run, self.groups))

        def run_span(groups):
            a, b = groups[0][0][0], groups[-1][-1][1]
            got = span_stats(data.X[a:b], pruned, data.block_weights(a, b), moments)
            return (got, False) if got is not None else (sum_stats(map(run, groups)), True)

        parts = list(mapper(run_span, self.spans))
        self.pruned.record(not all(fell_back for _, fell_back in parts))
        return sum_stats(part for part, _ in parts)

    @property
    def _mapper(self):
        return map if self.pool is None else self.pool.map

    def _state(self, params, dtype):
        data = self.data
        return prepare_estep(params, data.shift, dtype=dtype, radius2=data.radius2)

    def _sorted_stats(self, params, dense, moments, rival: bool) -> SuffStats:
        """The sorted kernel's statistics (sorting the rows first where they are not): the
        certain blocks from their sums, the others on threads. The order is dropped after an
        iteration that computed more than MAX_KEPT_SHARE of the pairs, or (``rival``: the
        pruned kernel applies too) had less than MIN_CERTAIN of the rows certain."""
        mapper = self._mapper
        if self.sorted is None:
            self.sorted = SortedRows(self.data, params, dense, mapper)
            if self.data.features is not None:
                self.data.features.clear()  # the sorted rows' features serve from now on
        rows = self.sorted
        state = rows.state(params, dense)
        uncertain = [int(i) for i in np.flatnonzero(~state.certain)]
        parts = list(mapper(lambda group: rows.group_stats(group, state, moments), _groups(uncertain)))
        n = self.data.X.shape[0]
        certain_rows = rows.certain_rows(state)
        kept = certain_rows + sum(count for _, count in parts)
        paid = kept <= MAX_KEPT_SHARE * n * self.data.n_components
        paid = paid and (not rival or certain_rows >= MIN_CERTAIN * n)
        self.sorting.record(paid)
        if not paid:
            self.sorted = None
        certain = rows.certain_stats(state, moments)
        return sum_stats(([certain] if certain is not None else []) + [part for part, _ in parts])


def _groups(blocks: list) -> list[list]:
    """The blocks (their bounds or numbers) in at most MAX_GROUPS even runs, fixed by their
    number alone."""
    nb = len(blocks)
    g = min(nb, MAX_GROUPS)
    if g == 0:
        return []
    cuts = [round(i * nb / g) for i in range(g + 1)]
    return [blocks[cuts[i] : cuts[i + 1]] for i in range(g)]


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
