"""Out-of-core EM on Dask: a CSV three times larger than the workers' total memory limit.

Writes a synthetic CSV (8 Gaussian blobs in 10-D) of at least 3x the total worker memory,
fits it with the Dask engine on a local cluster (2 workers, low memory limit each) to
convergence, and reports rows/s per EM iteration, peak worker memory (RSS), whether any worker
died, and the same data's in-memory fit (pandas read + engine) for comparison.

    python bench/bench_dask.py [--worker-memory 400MB] [--folder /tmp/gmmcli-dask-bench]
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
from common import parse_bytes

ROWS_PER_CHUNK = 500_000
D, K = 10, 8


def write_csv(path: Path, target_bytes: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(K, D))
    rows = 0
    with open(path, "w") as fh:
        fh.write(",".join(f"f{i}" for i in range(D)) + "\n")
        while fh.tell() < target_bytes:
            labels = rng.integers(0, K, size=ROWS_PER_CHUNK)
            X = centers[labels] + rng.normal(size=(ROWS_PER_CHUNK, D))
            np.savetxt(fh, X, fmt="%.5f", delimiter=",")
            rows += ROWS_PER_CHUNK
    return rows


def peak_rss(_dask_worker=None) -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker-memory", default="400MB")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--folder", default="/tmp/gmmcli-dask-bench")
    args = parser.parse_args()

    from gmmcli.engine import dask_em as dask_engine
    from gmmcli.engine import em
    from gmmcli.fitting import FitSettings, fit_model_dask
    from gmmcli.io import dask_tables

    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    limit = parse_bytes(args.worker_memory)
    data = folder / "blobs10d.csv"
    target = 3 * limit * args.workers + 50 * 10**6
    if not data.exists() or data.stat().st_size < target:
        t = time.perf_counter()
        rows = write_csv(data, target)
        print(
            f"wrote {data} ({data.stat().st_size / 1e9:.2f} GB, {rows:,} rows) in {time.perf_counter() - t:.0f} s"
        )
    size = data.stat().st_size
    print(
        f"data: {size / 1e9:.2f} GB CSV = {size / (limit * args.workers):.1f}x the workers' total memory limit "
        f"({args.workers} x {args.worker_memory})"
    )

    settings = FitSettings(K, "full", tol=1e-3, max_iter=100, seed=0)
    with dask_engine.connect(n_workers=args.workers, memory_limit=args.worker_memory) as client:
        workers_before = set(client.scheduler_info()["workers"])
        t = time.perf_counter()
        runner = dask_engine.DaskRunner(
            client,
            dask_tables.open_table([str(data)]),
            [f"f{i}" for i in range(D)],
            dask_tables.partition_matrix,
        )
        t_scan = time.perf_counter() - t
        t = time.perf_counter()
        model, result = fit_model_dask(runner, settings)
        t_fit = time.perf_counter() - t
        peaks = client.run(peak_rss)
        workers_after = set(client.scheduler_info()["workers"])
    # passes over the data during the fit: sample + n_iter E-steps + final log-likelihood
    passes = result.n_iter + 2
    print(f"dask: {runner.n_rows:,} rows in {runner.parts.__len__()} partitions; first scan {t_scan:.1f} s")
    print(
        f"dask: converged={result.converged} after {result.n_iter} iterations in {t_fit:.1f} s "
        f"-> {t_fit / passes:.2f} s per pass, {runner.n_rows * passes / t_fit / 1e6:.2f} M rows/s"
    )
    print(
        "dask: peak worker RSS "
        + ", ".join(f"{v / 1e6:.0f} MB" for v in peaks.values())
        + f" (limit {args.worker_memory} each)"
    )
    print(f"dask: workers killed or restarted: {len(workers_before - workers_after)}")

    import pandas as pd

    t = time.perf_counter()
    X = pd.read_csv(data).to_numpy()
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    local = em.fit(X, K, covariance_type="full", tol=1e-3, seed=0)
    t_local = time.perf_counter() - t
    t = time.perf_counter()
    em.run_em(X, local.params, tol=0.0, max_iter=3)
    t_iter = (time.perf_counter() - t) / 3
    print(
        f"in-memory: read {t_read:.1f} s; fit {t_local:.1f} s (k-means initialisation on all rows + "
        f"{local.n_iter} EM iterations); one EM iteration {t_iter:.2f} s = {len(X) / t_iter / 1e6:.2f} M rows/s; "
        f"peak RSS of this process {peak_rss() / 1e9:.2f} GB"
    )
    print(
        f"mean log-likelihood per row: dask {model.meta['log_likelihood'] / runner.n_rows:.6f}, "
        f"in-memory {local.lower_bound:.6f}"
    )


if __name__ == "__main__":
    main()
