"""gmmcli.engine.kmeans against scikit-learn's KMeans(n_init=1), side by side, and their import costs.

Why it exists: gmmcli's k-means initialisation used to import ``sklearn.cluster`` (seconds per
run); gmmcli.engine.kmeans replaces it and must not be slower where it runs.

* (a) digits, PCA-whitened to 99% of the variance (1797 x 41), k = 1, 11, ..., 191: total time
  of the sweep;
* (b) make_blobs(200000, 10 features, 8 centres), k = 8;

each with BLAS and OpenMP limited to one thread (threadpoolctl) and at default threads, best of
``--repeats`` interleaved runs; the labels are checked to be identical. Then the start-up cost:
``python -c "import sklearn.cluster"`` beside ``python -c "import gmmcli.engine.kmeans"``, median of
``--runs`` fresh processes each, interleaved.

    python bench/bench_kmeans.py [--repeats 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import warnings

import numpy as np
import sklearn
from common import digits_data, timed
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from threadpoolctl import threadpool_info, threadpool_limits

from gmmcli.engine.kmeans import kmeans

DIGITS_KS = range(1, 192, 10)


def sklearn_labels(X, k, seed):
    return KMeans(n_clusters=k, n_init=1, random_state=np.random.RandomState(seed)).fit(X).labels_


def our_labels(X, k, seed, n_threads):
    return kmeans(X, k, np.random.RandomState(seed), n_threads=n_threads).labels


def compare(cases, threads, repeats):
    """Best-of-repeats total time of ours and scikit-learn's over the cases, at a thread limit."""
    best_ours, best_sk, identical = np.inf, np.inf, True
    with threadpool_limits(limits=threads):
        n_threads = _openmp_effective_n_threads()  # the summation order to reproduce
        for _ in range(repeats):  # interleaved, so machine noise hits both alike
            t_sk, ref = timed(lambda: [sklearn_labels(X, k, s) for X, k, s in cases])
            t_ours, ours = timed(lambda: [our_labels(X, k, s, n_threads) for X, k, s in cases])
            best_sk, best_ours = min(best_sk, t_sk), min(best_ours, t_ours)
            identical &= all(np.array_equal(a, b) for a, b in zip(ours, ref))
    return best_ours, best_sk, identical, n_threads


def import_times(runs):
    """Median wall time of fresh processes that only import the module."""
    commands = {
        "sklearn.cluster": [sys.executable, "-c", "import sklearn.cluster"],
        "gmmcli.engine.kmeans": [sys.executable, "-c", "import gmmcli.engine.kmeans"],
    }
    times = {name: [] for name in commands}
    for cmd in commands.values():  # warm the page cache
        subprocess.run(cmd, check=True)
    for _ in range(runs):
        for name, cmd in commands.items():
            times[name].append(timed(lambda: subprocess.run(cmd, check=True))[0])
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    )
    for lib in threadpool_info():
        print(
            f"  {lib['internal_api']} {lib.get('version')} ({lib.get('architecture')}, "
            f"{lib['num_threads']} threads) {os.path.basename(lib['filepath'])}"
        )

    digits = digits_data()
    blobs, _ = make_blobs(n_samples=200_000, n_features=10, centers=8, random_state=0)
    benches = {
        f"(a) digits {digits.shape[0]}x{digits.shape[1]}, k=1..191 step 10 (sweep total)": [
            (digits, k, 0) for k in DIGITS_KS
        ],
        "(b) make_blobs 200000x10, k=8": [(blobs, 8, 0)],
    }

    print(f"\nk-means, best of {args.repeats} interleaved runs (seconds)")
    print(f"{'case':<58} {'threads':>8} {'gmmcli':>8} {'sklearn':>8} {'sklearn/gmmcli':>15} labels")
    for name, cases in benches.items():
        for threads, label in ((1, "1"), (None, "default")):
            ours, theirs, identical, n = compare(cases, threads, args.repeats)
            label = f"{label}({n})" if threads is None else label
            print(
                f"{name:<58} {label:>8} {ours:8.3f} {theirs:8.3f} {theirs / ours:14.2f}x "
                f"{'identical' if identical else 'DIFFER'}"
            )

    print(f"\nimport cost, median of {args.runs} fresh processes each (seconds)")
    times = import_times(args.runs)
    for name, t in times.items():
        print(f'  python -c "import {name}": {t:.3f}')
    print(
        f"  ratio: {times['sklearn.cluster'] / times['gmmcli.engine.kmeans']:.1f}x, "
        f"saved per gmmcli fit/select run: {times['sklearn.cluster'] - times['gmmcli.engine.kmeans']:.2f} s"
    )
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
