"""gmmcli's bootstrap LRT against R mclust's `mclustBootstrapLRT`: p-values within Monte Carlo error.

The reference is tests/reference/mclust_lrt.json (`set.seed(0); mclustBootstrapLRT(X, model,
nboot = 999, maxG = 4)` for VVV and EEE on faithful and diabetes). Two comparisons per test
(k vs k+1, k = 1..4):

  * mclust's fits: gmmcli bootstraps from the very fits mclust tests (their parameters and
    log-likelihoods, tests/reference/mclust_lrt_fits.json), so the observed statistics are
    mclust's and only the random draws differ: the p-values must agree within Monte Carlo
    error. z = (p_gmmcli - p_mclust) / sqrt(2 p (1 - p) / B), p the mean of the two (a binomial
    standard error of each p-value, the two independent); |z| > 3 would be a disagreement.
  * gmmcli's own fits (with --own-fits): what `gmmcli lrt DATA -t MODEL --max-k 4 --all` gives,
    its observed fits the best of 10 k-means restarts and the hierarchical start rather than
    mclust's hierarchical start alone, so the statistics differ where the two find different optima.

  python bench/bench_lrt.py                      # B = 999, all four runs, mclust's fits
  python bench/bench_lrt.py --own-fits           # also gmmcli's own fits
  python bench/bench_lrt.py -B 99 --data faithful --jobs 2
  python bench/bench_lrt.py --fits-only          # the observed fits only: mclust's, gmmcli's
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from mclust_fits import mclust_params  # noqa: E402

from gmmcli import bootstrap_lrt as lr  # noqa: E402


def mclust_fits(run: dict) -> dict[int, lr.Fit]:
    """mclust's fits of one run: its parameters and its log-likelihoods (those its LRT uses)."""
    fits = json.loads((REFERENCE / "mclust_lrt_fits.json").read_text())["runs"]
    same = next(f for f in fits if (f["dataset"], f["model"]) == (run["dataset"], run["model"]))
    return {f["G"]: lr.Fit(f["G"], mclust_params(run["model"], f), f["loglik"]) for f in same["fits"]}


def z_score(p_ours: float, p_ref: float, n_boot: int) -> float:
    p = (p_ours + p_ref) / 2
    se = math.sqrt(2 * p * (1 - p) / n_boot)
    return 0.0 if se == 0 else (p_ours - p_ref) / se


def compare_fits(ref: dict, wanted, seed: int) -> None:
    """Log-likelihoods of the fits of 1 .. maxG + 1 components: mclust's (Mclust defaults, hc
    start), gmmcli's from its hc start (one EM run, tol 1e-8) and gmmcli lrt's (its default
    starts: 10 k-means restarts and the hc start, the best; EM stopped by mclust's rule)."""
    print("| data | model | k | mclust log L | gmmcli --init hc | gmmcli lrt (kmeans x 10, hc) |")
    print("|---|---|---:|---:|---:|---:|")
    for run in ref["runs"]:
        if run["dataset"] not in wanted[0] or run["model"] not in wanted[1]:
            continue
        X = pd.read_csv(REFERENCE / "data" / f"{run['dataset']}.csv").to_numpy(float)
        mclust = mclust_fits(run)
        hc = lr.observed_fits(
            X, run["model"], ref["maxG"], jobs=1, init="hc", n_init=1, tol=1e-8, max_iter=100000
        )
        tol = lr.observed_tolerance(X, run["model"], lr.RefitSettings())
        own = lr.observed_fits(X, run["model"], ref["maxG"], jobs=1, seed=seed, tol=tol, max_iter=1000)
        for k in sorted(mclust):
            cells = [f.log_likelihood if isinstance(f, lr.Fit) else math.nan for f in (hc[k], own[k])]
            print(
                f"| {run['dataset']} | {run['model']} | {k} | {mclust[k].log_likelihood:.4f} "
                f"| {cells[0]:.4f} | {cells[1]:.4f} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-B", "--n-boot", type=int, default=999)
    ap.add_argument("--data", default="faithful,diabetes")
    ap.add_argument("--models", default="VVV,EEE")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--own-fits", action="store_true", help="also test gmmcli's own fits of the data")
    ap.add_argument("--fits-only", action="store_true", help="compare the observed fits, run no bootstrap")
    args = ap.parse_args()
    ref = json.loads((REFERENCE / "mclust_lrt.json").read_text())
    wanted = set(args.data.split(",")), set(args.models.split(","))
    if args.fits_only:
        compare_fits(ref, wanted, args.seed)
        return
    rows = []
    for run in ref["runs"]:
        if run["dataset"] not in wanted[0] or run["model"] not in wanted[1]:
            continue
        X = pd.read_csv(REFERENCE / "data" / f"{run['dataset']}.csv").to_numpy(float)
        sources = [("mclust", mclust_fits(run))] + ([("gmmcli", None)] if args.own_fits else [])
        for source, fits in sources:
            start = time.perf_counter()
            result = lr.sequential(
                X,
                run["model"],
                max_k=ref["maxG"],
                n_boot=args.n_boot,
                seed=args.seed,
                run_all=True,
                fits=fits,
                jobs=args.jobs,
            )
            seconds = time.perf_counter() - start
            for step, test in zip(result.steps, run["tests"], strict=True):
                rows.append(
                    dict(
                        data=run["dataset"],
                        model=run["model"],
                        fits=source,
                        test=f"{step.k0} vs {step.k1}",
                        lrts=step.lrts,
                        lrts_mclust=test["obs"],
                        p=step.p_value,
                        p_mclust=test["p_value"],
                        z=z_score(step.p_value, test["p_value"], args.n_boot),
                        q95=step.boot_q95,
                        q95_mclust=test["boot_quantiles"]["values"][2],
                        redraws=step.redraws,
                        seconds=seconds,
                        seconds_mclust=run["seconds"],
                    )
                )
            print(f"{run['dataset']} {run['model']} ({source} fits): {seconds:.1f} s", file=sys.stderr)
    print(f"B = {args.n_boot} replicates per test, seed {args.seed}\n")
    print(
        "| data | model | fits | test | LRTS | mclust LRTS | p | mclust p | z | boot 95% | mclust 95% "
        "| redraws | s (run) | mclust s |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['data']} | {r['model']} | {r['fits']} | {r['test']} | {r['lrts']:.3f} | {r['lrts_mclust']:.3f} "
            f"| {r['p']:.3f} | {r['p_mclust']:.3f} | {r['z']:+.2f} | {r['q95']:.2f} | {r['q95_mclust']:.2f} "
            f"| {r['redraws']} | {r['seconds']:.0f} | {r['seconds_mclust']:.0f} |"
        )
    worst = max((abs(r["z"]) for r in rows if r["fits"] == "mclust"), default=0.0)
    print(f"\nlargest |z| with mclust's fits: {worst:.2f}")


if __name__ == "__main__":
    main()
