"""Benchmarks for `gmmcli select`.

Default mode: the notebook's digits sweep (PCA 0.99 whitened digits, 1797 x 41, full covariance,
k = 1, 11, ..., 191) timed three ways in one run, and the ratios printed:

  * the notebook's serial scikit-learn loop, in this process, as the notebook runs it
    (BLAS threads left at their default), and the same loop with one BLAS thread per process;
  * `gmmcli select DIGITS.csv -k 1-200:10 -t full --n-init 1 --init kmeans --seed 0` as a
    subprocess (start-up, CSV parsing and output included) with --jobs 1 and --jobs 2.

It also checks that every gmmcli AIC equals the loop's to 1e-6 relative.

  python bench/bench_select.py              # about 1-5 minutes on 2 cores
  python bench/bench_select.py --repeat 3   # best of 3 for each timing

--stability mode: the measurement behind select's default --n-init/--init. For several
restart settings, sweep k 1-10 x all four covariance types on the sample data sets with seeds
0..4 and report how much each cell's BIC and the winner move with the seed.

  python bench/bench_select.py --stability
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KS = list(range(1, 200, 10))


def digits_data() -> np.ndarray:
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    return PCA(0.99, whiten=True).fit_transform(load_digits().data)


def notebook_loop(data: np.ndarray, blas_threads: int | None) -> tuple[float, list[float]]:
    """The notebook's cell, timed: one GaussianMixture per k, random_state=0, serial."""
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    import sklearn.mixture  # noqa: F401  (imported before timing, as in a notebook session)

    start = time.perf_counter()
    with threadpool_limits(limits=blas_threads):
        models = [GaussianMixture(n, covariance_type="full", random_state=0) for n in KS]
        aics = [model.fit(data).aic(data) for model in models]
    return time.perf_counter() - start, aics


def gmmcli_run(csv_path: str, jobs: int) -> tuple[float, list[float]]:
    """`gmmcli select` in a fresh process, end to end."""
    import pandas as pd

    cmd = [sys.executable, "-m", "gmmcli", "select", csv_path, "-k", "1-200:10", "-t", "full",
           "--n-init", "1", "--init", "kmeans", "--seed", "0", "--jobs", str(jobs), "--format", "csv"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"gmmcli failed ({proc.returncode}): {proc.stderr.strip()}")
    import io

    grid = pd.read_csv(io.StringIO(proc.stdout))
    return elapsed, grid.sort_values("k")["aic"].tolist()


def bench_digits(repeat: int) -> None:
    import pandas as pd

    data = digits_data()
    print(f"digits after PCA(0.99, whiten=True): {data.shape[0]} rows x {data.shape[1]} columns; "
          f"full covariance, k = {KS[0]}..{KS[-1]} step 10 ({len(KS)} fits); {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = os.path.join(tmp, "digits_pca.csv")
        pd.DataFrame(data, columns=[f"pc{i}" for i in range(data.shape[1])]).to_csv(csv_path, index=False)
        runs = {
            "notebook loop (sklearn, default BLAS threads)": lambda: notebook_loop(data, None),
            "notebook loop (sklearn, 1 BLAS thread)": lambda: notebook_loop(data, 1),
            "gmmcli select --jobs 1": lambda: gmmcli_run(csv_path, 1),
            "gmmcli select --jobs 2": lambda: gmmcli_run(csv_path, 2),
        }
        times, aics = {}, {}
        for name, run in runs.items():
            best = None
            for _ in range(repeat):
                seconds, values = run()
                best = seconds if best is None else min(best, seconds)
                aics[name] = values
            times[name] = best
            print(f"  {name:48s} {best:8.2f} s", flush=True)
    reference = np.asarray(aics["notebook loop (sklearn, default BLAS threads)"])
    for name, values in aics.items():
        rel = np.max(np.abs(np.asarray(values) - reference) / np.abs(reference))
        print(f"  max relative AIC difference vs the notebook loop, {name}: {rel:.2e}")
    loop, loop1 = times["notebook loop (sklearn, default BLAS threads)"], times["notebook loop (sklearn, 1 BLAS thread)"]
    j1, j2 = times["gmmcli select --jobs 1"], times["gmmcli select --jobs 2"]
    print("ratios (> 1: gmmcli faster):")
    print(f"  notebook loop (default threads) / gmmcli --jobs 1 = {loop / j1:5.2f}")
    print(f"  notebook loop (default threads) / gmmcli --jobs 2 = {loop / j2:5.2f}")
    print(f"  notebook loop (1 BLAS thread)   / gmmcli --jobs 1 = {loop1 / j1:5.2f}")
    print(f"  notebook loop (1 BLAS thread)   / gmmcli --jobs 2 = {loop1 / j2:5.2f}")
    print(f"  gmmcli --jobs 1 / gmmcli --jobs 2                 = {j1 / j2:5.2f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


STABILITY_SETTINGS = [
    (1, ("kmeans",)),
    (3, ("kmeans",)),
    (5, ("kmeans",)),
    (10, ("kmeans",)),
    (3, ("kmeans", "random_from_data")),
    (5, ("kmeans", "random_from_data")),
    (3, ("kmeans", "k-means++", "random_from_data")),
    (10, ("kmeans", "random_from_data")),
]


def bench_stability(seeds: int, jobs: int, datasets: list[str]) -> None:
    import pandas as pd

    from gmmcli import select

    print(f"grid k 1-10 x full,tied,diag,spherical (40 cells); BIC; seeds 0..{seeds - 1}; --jobs {jobs}")
    print("spread: max - min of a cell's BIC over the seeds. contenders: cells within 10 BIC of the best.")
    print(f"{'data':9s} {'settings':40s} {'EM runs':>7s} {'winners':>22s} {'top-3 same':>10s} "
          f"{'cells spread>2':>14s} {'max spread contenders':>22s} {'s/sweep':>7s}")
    for name in datasets:
        frame = pd.read_csv(ROOT / "sample_data" / f"{name}.csv")
        X = frame[[c for c in frame.columns if c != "id"]].to_numpy(float)
        for n_init, inits in STABILITY_SETTINGS:
            grids, elapsed = [], 0.0
            for seed in range(seeds):
                start = time.perf_counter()
                cells = select.sweep(X, range(1, 11), "all", n_init=n_init, init=inits, seed=seed,
                                     jobs=jobs, keep_params=False)
                elapsed += time.perf_counter() - start
                grids.append(cells)
            bic = np.array([[c.bic for c in cells] for cells in grids])  # seeds x cells
            spread = bic.max(axis=0) - bic.min(axis=0)
            winners = {(g[int(np.argmin(b))].covariance_type, g[int(np.argmin(b))].k) for g, b in zip(grids, bic)}
            top3 = {tuple(np.argsort(b)[:3]) for b in bic}
            contenders = bic.min(axis=0) <= bic.min() + 10
            label = f"n_init={n_init} x {'+'.join(inits)}"
            win = ",".join(f"{t} {k}" for t, k in sorted(winners))
            print(f"{name:9s} {label:40s} {n_init * len(inits):7d} {win:>22s} {'yes' if len(top3) == 1 else 'no':>10s} "
                  f"{int((spread > 2).sum()):>10d}/40 {spread[contenders].max():22.2f} {elapsed / seeds:7.2f}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="timings: best of N runs")
    parser.add_argument("--stability", action="store_true", help="measure seed-to-seed stability instead")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data", default="moons,blobs,stretched")
    args = parser.parse_args()
    if args.stability:
        bench_stability(args.seeds, args.jobs, args.data.split(","))
    else:
        bench_digits(args.repeat)


if __name__ == "__main__":
    main()
