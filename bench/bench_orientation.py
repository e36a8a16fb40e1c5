"""EVE/VVE's warm-started common orientation: the shipped warm path against MM steps.

Until 2026-12-04 a warm start took the cold path's MM steps (Browne & McNicholas, as mclust's
mseve/msvve), with Newton steps only where the Hessian was positive definite; the shipped warm
path takes MM steps while they contract fast enough to be cheaper, then saddle-free Newton steps.
Both run here from the same starts in the same process (the MM one by calling the orientation
with ``warm=False``), interleaved, best of the repeats: whole EM time, the time inside the
orientation, and the lower bound reached. The data: make_blobs (round components: the
orientation is barely determined, the MM crawls), and at d = 50 the same blobs made
anisotropic ("shaped": each component's axes scaled by e^U(-1,1) along one common random
orientation, the means spread 3x), where the orientation is well determined.

    python bench/bench_orientation.py [--repeats 2] [--iters 30]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import make_blobs

from gmmcli.engine import em
from gmmcli.engine.covariance import constrained

SHAPES = ((200_000, 10, False), (20_000, 30, False), (20_000, 50, False), (20_000, 50, True))
K = 8
MODELS = ("EVE", "VVE")


class _Orientation:
    """Wraps the orientation: times it, and with ``mm`` takes the MM path from warm starts too."""

    def __init__(self, mm: bool):
        self.mm, self.seconds, self._orig = mm, 0.0, constrained._mm_orientation

    def __call__(self, *args):
        start = time.perf_counter()
        args = args[:8] + (False,) if self.mm else args
        try:
            return self._orig(*args)
        finally:
            self.seconds += time.perf_counter() - start

    def __enter__(self):
        constrained._mm_orientation = self
        return self

    def __exit__(self, *exc):
        constrained._mm_orientation = self._orig


def data(n, d, shaped):
    """make_blobs(n, d, centers=K, random_state=0), shaped as the module docstring says."""
    X, y = make_blobs(n, d, centers=K, random_state=0)
    if not shaped:
        return X
    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    scales = np.exp(rng.uniform(-1, 1, size=(K, d)))
    means = np.array([X[y == j].mean(axis=0) for j in range(K)])[y]
    return (X - means) * scales[y] @ Q.T + 3 * means


def run(X, start, iters, mm):
    with _Orientation(mm) as timer, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = time.perf_counter()
        lb = em.run_em(X, start, tol=0.0, max_iter=iters).lower_bound
        return time.perf_counter() - t, timer.seconds, lb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--iters", type=int, default=30)
    args = parser.parse_args(argv)
    print(
        f"make_blobs(n, d, centers={K}, random_state=0), k = {K}, k-means start, tol = 0, "
        f"{args.iters} EM iterations, best of {args.repeats}\n"
    )
    print(
        "| shape | model | EM s (shipped / MM) | orientation s (shipped / MM) | lower bound (shipped / MM) |"
    )
    print("| --- | --- | ---: | ---: | ---: |")
    for n, d, shaped in SHAPES:
        X = data(n, d, shaped)
        for name in MODELS:
            start = em.initial_params(X, K, name, init="kmeans", random_state=0)
            best = {}
            for _ in range(args.repeats):
                for mm in (False, True):
                    res = run(X, start, args.iters, mm)
                    old = best.get(mm)
                    best[mm] = res if old is None else (min(old[0], res[0]), min(old[1], res[1]), res[2])
            (en, on, ln), (em_, om, lm) = best[False], best[True]
            print(
                f"| {n:,} x {d}{', shaped' if shaped else ''} | {name} | {en:.2f} / {em_:.2f} ({em_ / en:.2f}x) | {on:.2f} / {om:.2f} | "
                f"{ln:.6f} / {lm:.6f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
