"""EM on Dask (dask.distributed): out of core, on a local cluster or a remote one.

Each EM iteration maps the engine's block E-step (``estep.block_stats``) over the partitions of
a dask dataframe, sums the statistics in a fixed-order tree, and runs the M-step on the client,
through the same EM loop (and the same choice among restarts) the in-memory engine uses.
Partitions are re-read from their files every pass, so the data never has to fit in the
workers' memory. How a partition becomes a feature matrix is the caller's (``read_partition``,
e.g. ``io.dask_tables.partition_matrix``): the engine knows nothing of files.

Dask is an optional extra (``pip install 'gmmcli[dask]'``); it is imported only here.
"""

from __future__ import annotations

import contextlib
import hashlib

import numpy as np

from ..errors import DataError, InputMissing, UsageError
from . import em
from .cpus import available_cores
from .estep import block_stats, data_block_rows, prepare_estep
from .params import MixtureParams
from .stats import block_bounds, sum_stats

DASK_MISSING = "--engine dask needs Dask, which is not installed: pip install 'gmmcli[dask]'"
TREE_FAN_IN = 8
INIT_SAMPLE_ROWS = 50_000


def require_dask() -> None:
    """Fail with the install hint (exit 2) when the optional extra is missing."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(DASK_MISSING) from None


#: Below this a worker cannot hold Python, pandas and a partition: it is restarted forever.
MIN_WORKER_MEMORY = 256 << 20


def check_worker_memory(text: str) -> None:
    """--worker-memory is "auto" or a size of at least MIN_WORKER_MEMORY (UsageError, exit 2)."""
    if str(text).strip().lower() == "auto":
        return
    from dask.utils import parse_bytes

    try:
        size = parse_bytes(str(text))
    except (ValueError, TypeError):
        raise UsageError(f"--worker-memory must be a size like 600MB or 2GB, or auto; got {text!r}") from None
    if size < MIN_WORKER_MEMORY:
        raise UsageError(
            f"--worker-memory {text} is too small for a Dask worker to run: give at least "
            f"{MIN_WORKER_MEMORY >> 20} MiB"
        )


def quiet_dask_logs() -> None:
    """Dask's own log lines (a worker's "Compute Failed ... Traceback", memory warnings) stay
    off stderr unless --verbose: gmmcli reports the failure as its one error line. Set in the
    environment too, for the worker processes a local cluster spawns."""
    import logging
    import os

    from .. import console

    if console.verbose():
        return
    os.environ["DASK_LOGGING__DISTRIBUTED"] = "critical"
    for name in ("distributed", "distributed.worker", "distributed.nanny", "distributed.scheduler"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _input_error(exc: BaseException) -> bool:
    """True for the exceptions a worker raises on an unreadable input (not a gmmcli bug)."""
    import lzma
    import zlib

    import pandas as pd

    if isinstance(exc, OSError):
        return exc.errno is None  # gzip/bz2 report corrupt data as an OSError without errno
    if isinstance(exc, ValueError) and str(exc).startswith("Mismatched dtypes"):
        return True  # a column read as numbers in the sample holds text further on
    return isinstance(exc, (EOFError, UnicodeDecodeError, zlib.error, lzma.LZMAError, pd.errors.ParserError))


@contextlib.contextmanager
def input_errors():
    """A corrupt or truncated input read on a worker (or here, for the column types) is bad
    data (exit 65), in one line."""
    from ..errors import first_line

    try:
        yield
    except Exception as exc:
        if not _input_error(exc):
            raise
        if isinstance(exc, EOFError):
            raise DataError("cannot read the input: compressed input ends early (truncated file?)") from None
        if isinstance(exc, ValueError):
            columns = [line.split("|")[1].strip() for line in str(exc).splitlines() if line.count("|") >= 4]
            named = f"column {columns[1]!r}" if len(columns) > 1 else "a column"
            raise DataError(
                f"cannot read the input: {named} is not numeric (it holds text further on)"
            ) from None
        raise DataError(f"cannot read the input: {first_line(exc)}") from None


@contextlib.contextmanager
def connect(scheduler: str | None = None, n_workers: int | None = None, memory_limit: str = "auto"):
    """A dask Client: to ``scheduler`` if given, else a local cluster with one worker per core."""
    require_dask()
    quiet_dask_logs()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except ValueError as exc:  # "unknown address scheme 'zzz'"
            raise UsageError(f"--scheduler {scheduler!r} is not a Dask scheduler address: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise InputMissing(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client, input_errors():
            yield client
        return
    check_worker_memory(memory_limit)
    workers = n_workers or available_cores()
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
        input_errors(),
    ):
        yield client


# --- what runs on the workers, one partition at a time -------------------------------------


def _summary(frame, read_partition, args):
    X, w = read_partition(frame, *args)
    del frame
    X = np.ascontiguousarray(X)
    total = X.sum(axis=0, dtype=np.float64) if w is None else w @ X.astype(np.float64, copy=False)
    digest = hashlib.sha256(X.data)  # hashes the buffer in place: no copy of the partition
    if w is not None:
        digest.update(w.data)
    empty = len(X) == 0
    return {
        "rows": len(X),
        "weight": float(len(X) if w is None else w.sum()),
        "sum": total,
        "lo": np.full(X.shape[1], np.inf) if empty else X.min(axis=0).astype(np.float64),
        "hi": np.full(X.shape[1], -np.inf) if empty else X.max(axis=0).astype(np.float64),
        "digest": digest.hexdigest(),
    }


def _rows(frame, positions, read_partition, args):
    X, w = read_partition(frame, *args)
    return X[positions], (None if w is None else w[positions])


def _stats(frame, read_partition, args, state, moments):
    X, w = read_partition(frame, *args)
    rows = data_block_rows(state.covariance_type, state.n_features, state.n_components, X.dtype)
    parts = [
        block_stats(X[a:b], state, None if w is None else w[a:b], moments=moments)
        for a, b in block_bounds(len(X), rows)
    ]
    return sum_stats(parts) if parts else None


def _sum(items):
    items = [s for s in items if s is not None]
    return sum_stats(items) if items else None


# --- the client side ----------------------------------------------------------------------


def tree(items, combine):
    """Reduce delayed items in a fixed-order tree of fan-in TREE_FAN_IN."""
    from dask import delayed

    level = list(items)
    while len(level) > 1:
        level = [delayed(combine)(level[i : i + TREE_FAN_IN]) for i in range(0, len(level), TREE_FAN_IN)]
    return level[0]


class DaskRunner:
    """Computes EM statistics over all partitions: the Dask twin of the engine's block runner."""

    def __init__(
        self, client, frame, names, read_partition, *, weight_column=None, dropna=False, dtype=np.float64
    ):
        from dask import delayed

        self.client = client
        self.read_partition = read_partition
        self.last_sample = None
        self._sampled = None  # ((size, seed), (X, w)) of the last sample: asked again, not redrawn
        self.names = list(names)
        self.dtype = np.dtype(dtype)
        self.parts = frame.to_delayed()
        self.args = (self.names, weight_column, dropna, self.dtype)
        summaries = client.compute(
            [delayed(_summary)(p, read_partition, self.args) for p in self.parts], sync=True
        )
        self.counts = [s["rows"] for s in summaries]
        self.n_rows = int(sum(self.counts))
        if self.n_rows == 0:
            raise DataError("the input has no data rows")
        self.weight = float(sum(s["weight"] for s in summaries))
        if not self.weight > 0:
            raise DataError("the weights sum to zero")
        self.shift = sum(s["sum"] for s in summaries) / self.weight
        lo = np.min([s["lo"] for s in summaries], axis=0)
        hi = np.max([s["hi"] for s in summaries], axis=0)
        self.box = np.stack([lo, hi])  # the data's bounding box (a noise component's)
        # the largest squared distance from the shift, bounded by the corners of the data's box
        self.radius2 = float(np.sum(np.maximum((lo - self.shift) ** 2, (hi - self.shift) ** 2)))
        self.fingerprint = (
            "sha256-parts:"
            + hashlib.sha256(
                ("\x1f".join(self.names) + "".join(s["digest"] for s in summaries)).encode()
            ).hexdigest()
        )

    def stats(self, params: MixtureParams, moments: bool = True):
        from dask import delayed

        state = prepare_estep(params, self.shift, dtype=self.dtype, radius2=self.radius2)
        parts = [delayed(_stats)(p, self.read_partition, self.args, state, moments) for p in self.parts]
        return self.client.compute(tree(parts, _sum), sync=True)

    def sample(self, size: int, seed):
        """A uniform sample of rows without replacement, the same for the same seed and data
        (kept: the same size and seed again costs no pass). Rows keep their order."""
        from dask import delayed

        key = (min(size, self.n_rows), seed)
        if self._sampled is not None and self._sampled[0] == key:
            return self._sampled[1]
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(self.n_rows, size=key[0], replace=False))
        starts = np.cumsum([0] + self.counts)
        tasks = []
        for i, part in enumerate(self.parts):
            inside = chosen[(chosen >= starts[i]) & (chosen < starts[i + 1])] - starts[i]
            if len(inside):
                tasks.append(delayed(_rows)(part, inside, self.read_partition, self.args))
        pieces = self.client.compute(tasks, sync=True)
        X = np.concatenate([p[0] for p in pieces])
        w = None if pieces[0][1] is None else np.concatenate([p[1] for p in pieces])
        self.last_sample = X
        self._sampled = (key, (X, w))
        return X, w


def init_sample(runner: DaskRunner, n_components: int, seed, sample_rows: int = INIT_SAMPLE_ROWS):
    """(X, w): the seeded uniform sample of rows EM starts from (``fit``), in the data's order."""
    return runner.sample(max(sample_rows, n_components), seed)


def fit(
    runner: DaskRunner,
    n_components: int,
    *,
    covariance_type="full",
    tol=1e-3,
    reg_covar=1e-6,
    max_iter=100,
    n_init=1,
    init="kmeans",
    seed=None,
    init_params: MixtureParams | None = None,
    sample_rows: int = INIT_SAMPLE_ROWS,
    noise_box: np.ndarray | None = None,
) -> em.FitResult:
    """EM over all partitions; initialised from a seeded uniform sample of rows (or init_params).
    ``noise_box`` adds the uniform noise component, as ``em.fit`` does."""
    if init_params is not None:
        starts = [init_params]
    else:
        X, w = init_sample(runner, n_components, seed, sample_rows)
        random_state = np.random.RandomState(seed)
        starts = [
            em.initial_params(
                X,
                n_components,
                covariance_type,
                init=init,
                random_state=random_state,
                reg_covar=reg_covar,
                sample_weight=w,
            )
            for _ in range(n_init)
        ]
    starts = em.noise_starts(starts, noise_box)
    return em.best_restart([em.em_loop(runner, params, tol, reg_covar, max_iter) for params in starts])
