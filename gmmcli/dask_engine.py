"""EM on Dask (dask.distributed): out of core, on a local cluster or a remote one.

Each EM iteration maps the engine's block E-step (``em_blocks.block_stats``) over the
partitions of a dask dataframe, sums the statistics in a fixed-order tree, and runs the M-step
on the client, through the same EM loop the in-memory engine uses. Partitions are re-read from
their files every pass, so the data never has to fit in the workers' memory.

Dask is an optional extra (``pip install 'gmmcli[dask]'``); it is imported only here.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os

import numpy as np

from . import em, em_blocks
from .engines import require_dask
from .errors import DataError, InputMissing, UsageError
from .gaussian import MixtureParams

TREE_FAN_IN = 8
INIT_SAMPLE_ROWS = 50_000


@contextlib.contextmanager
def connect(scheduler: str | None = None, n_workers: int | None = None, memory_limit: str = "auto"):
    """A dask Client: to ``scheduler`` if given, else a local cluster with one worker per core."""
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputMissing(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    workers = n_workers or max(1, len(os.sched_getaffinity(0)))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def expand_paths(paths: list[str]) -> list[str]:
    """Files named or matched by globs, in sorted order; a pattern that matches nothing is an error."""
    files: list[str] = []
    for pattern in paths:
        if pattern == "-":
            raise UsageError("--engine dask reads files, not stdin")
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            raise InputMissing(f"no file matches {pattern}")
        for path in matches:
            if not os.path.isfile(path):
                raise InputMissing(f"input file {path} does not exist")
        files.extend(matches)
    return files


def open_table(paths: list[str], delimiter: str | None = None, blocksize: str = "16MB", text_columns=()):
    """A lazy dask dataframe over CSV/TSV (optionally .gz) or Parquet files.

    ``text_columns`` (the --keep columns) are read as text, so they are copied verbatim.
    """
    require_dask()
    import dask.dataframe as dd

    files = expand_paths(paths)
    if all(f.endswith((".parquet", ".pq")) for f in files):
        return dd.read_parquet(files)
    if any(f.endswith((".parquet", ".pq")) for f in files):
        raise UsageError("mix of Parquet and CSV inputs: give one kind")
    sep = delimiter or ("\t" if files[0].removesuffix(".gz").endswith((".tsv", ".tab")) else ",")
    compressed = files[0].endswith(".gz")
    return dd.read_csv(files, sep=sep, blocksize=None if compressed else blocksize,
                       compression="gzip" if compressed else None, encoding="utf-8-sig",
                       assume_missing=True, dtype={c: "object" for c in text_columns} or None)


# --- what runs on the workers, one partition at a time -------------------------------------


def _partition_matrix(frame, names, weight_column, dropna, dtype):
    """A partition's feature matrix and weights, with the same checks as the in-memory path."""
    from .tables import feature_matrix

    X, kept = feature_matrix(frame, names, dropna, dtype=dtype)
    if weight_column is None:
        return X, None
    w = frame[weight_column].to_numpy(dtype=np.float64)[kept]
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"weights column {weight_column!r} has negative, missing or infinite values")
    return X, w


def _summary(frame, names, weight_column, dropna, dtype):
    X, w = _partition_matrix(frame, names, weight_column, dropna, dtype)
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


def _rows(frame, positions, names, weight_column, dropna, dtype):
    X, w = _partition_matrix(frame, names, weight_column, dropna, dtype)
    return X[positions], (None if w is None else w[positions])


def _stats(frame, names, weight_column, dropna, dtype, state, moments):
    X, w = _partition_matrix(frame, names, weight_column, dropna, dtype)
    rows = em_blocks.default_block_rows(state.covariance_type, state.n_features, state.n_components)
    parts = [
        em_blocks.block_stats(X[a:b], state, None if w is None else w[a:b], moments=moments)
        for a, b in em_blocks.block_bounds(len(X), rows)
    ]
    return em_blocks.sum_stats(parts) if parts else None


def _sum(items):
    items = [s for s in items if s is not None]
    return em_blocks.sum_stats(items) if items else None


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

    def __init__(self, client, frame, names, *, weight_column=None, dropna=False, dtype=np.float64):
        from dask import delayed

        self.client = client
        self.last_sample = None
        self.names = list(names)
        self.dtype = np.dtype(dtype)
        self.parts = frame.to_delayed()
        self.args = (self.names, weight_column, dropna, self.dtype)
        summaries = client.compute([delayed(_summary)(p, *self.args) for p in self.parts], sync=True)
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
        # the largest squared distance from the shift, bounded by the corners of the data's box
        self.radius2 = float(np.sum(np.maximum((lo - self.shift) ** 2, (hi - self.shift) ** 2)))
        self.fingerprint = "sha256-parts:" + hashlib.sha256(
            ("\x1f".join(self.names) + "".join(s["digest"] for s in summaries)).encode()
        ).hexdigest()

    def stats(self, params: MixtureParams, moments: bool = True):
        from dask import delayed

        state = em_blocks.prepare_estep(params, self.shift, dtype=self.dtype, radius2=self.radius2)
        parts = [delayed(_stats)(p, *self.args, state, moments) for p in self.parts]
        return self.client.compute(tree(parts, _sum), sync=True)

    def sample(self, size: int, seed):
        """A uniform sample of rows without replacement, the same for the same seed and data."""
        from dask import delayed

        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(self.n_rows, size=min(size, self.n_rows), replace=False))
        starts = np.cumsum([0] + self.counts)
        tasks = []
        for i, part in enumerate(self.parts):
            inside = chosen[(chosen >= starts[i]) & (chosen < starts[i + 1])] - starts[i]
            if len(inside):
                tasks.append(delayed(_rows)(part, inside, *self.args))
        pieces = self.client.compute(tasks, sync=True)
        X = np.concatenate([p[0] for p in pieces])
        w = None if pieces[0][1] is None else np.concatenate([p[1] for p in pieces])
        self.last_sample = X
        return X, w


def fit(runner: DaskRunner, n_components: int, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
        max_iter=100, n_init=1, init="kmeans", seed=None, init_params: MixtureParams | None = None,
        sample_rows: int = INIT_SAMPLE_ROWS) -> em.FitResult:
    """EM over all partitions; initialised from a seeded uniform sample of rows (or init_params)."""
    if runner.n_rows < n_components:
        raise DataError(f"{runner.n_rows} rows cannot fit {n_components} components: need at least as many rows")
    if init_params is not None:
        starts = [init_params]
    else:
        X, w = runner.sample(max(sample_rows, n_components), seed)
        random_state = np.random.RandomState(seed)
        starts = [
            em.initial_params(X, n_components, covariance_type, init=init, random_state=random_state,
                              reg_covar=reg_covar, sample_weight=w)
            for _ in range(n_init)
        ]
    best = None
    for params in starts:
        result = em.em_loop(runner, params, tol, reg_covar, max_iter)
        if best is None or result.lower_bound > best.lower_bound:
            best = result
    return best


# --- scoring, one output file per partition ------------------------------------------------


def _score_partition(frame, index, model, kind, keep, dropna, folder, fmt):
    from . import tables
    from .scoring import score_block

    out = score_block(model, frame, kind, keep, dropna)
    path = os.path.join(folder, f"part-{index:05d}.{fmt}")
    with open(path, "w", encoding="utf-8", newline="") as fh:
        tables.write_block(out, fh, fmt, header=True)
    return len(out)


def score_to_folder(client, frame, model, kind: str, out_dir: str, *, keep, dropna, fmt) -> tuple[int, int]:
    """Score every partition into ``out_dir/part-NNNNN.<fmt>``; return (files, rows).

    The files are written into a temporary sibling folder that replaces ``out_dir`` only when
    every partition succeeded, so a failed run leaves no partial output.
    """
    import shutil
    import tempfile

    from dask import delayed

    target = os.path.abspath(out_dir.rstrip("/") or "/")
    parent = os.path.dirname(target)
    if os.path.exists(target) and (not os.path.isdir(target) or os.listdir(target)):
        raise UsageError(f"output folder {out_dir} exists and is not empty")
    if not os.path.isdir(parent):
        from .errors import CannotCreateOutput

        raise CannotCreateOutput(f"cannot write {out_dir}: folder {parent} does not exist")
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.", dir=parent)
    try:
        parts = frame.to_delayed()
        rows = client.compute(
            [delayed(_score_partition)(p, i, model, kind, keep, dropna, staging, fmt) for i, p in enumerate(parts)],
            sync=True,
        )
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return len(parts), int(sum(rows))
