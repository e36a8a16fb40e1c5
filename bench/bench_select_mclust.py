"""`gmmcli select` against R mclust's `mclustBIC`, side by side in one run: optima and time.

For each data set (public ones from mclust and R, tests/reference/data/: diabetes, iris,
faithful, banknote, thyroid, wreath, quakes by default: 145 to 1,000 rows), over the 14 models x k = 1..9:

  * `gmmcli select DATA -t all -k 1-9 -f csv` as a whole process (start-up, reading included);
  * `Rscript -e 'mclustBIC(X, G = 1:9)'` as a whole process (R's start-up and library load
    included), when Rscript with mclust is installed; else the stored reference
    (tests/reference/mclust_bic.json, written by tests/reference/mclust_bic.R) without timings.

Reported per data set: cells where mclust has a BIC, cells where gmmcli's BIC (lower is better)
exceeds -mclust's + 0.05 (should be none), cells gmmcli fits better by more than 0.05, the two
winners (equal, or gmmcli's lower with no degenerate component), and the wall-time ratio.

  python bench/bench_select_mclust.py                 # ~1 minute on 2 cores
  python bench/bench_select_mclust.py --data iris --repeat 3
  python bench/bench_select_mclust.py --gmmcli-args="--n-init 10 --init kmeans"   # another search
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "reference" / "data"
REFERENCE = ROOT / "tests" / "reference" / "mclust_bic.json"
MODELS = ("EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
R_SCRIPT = """
suppressMessages(library(mclust))
X <- read.csv(commandArgs(TRUE)[1])
b <- mclustBIC(X, G = 1:9)
for (g in 1:9) cat(paste(ifelse(is.na(b[g, ]), "NA", sprintf("%.17g", b[g, ])), collapse = ","), "\\n")
"""


def run_gmmcli(path: Path, extra: list[str]) -> tuple[float, dict]:
    cmd = [sys.executable, "-m", "gmmcli", "select", str(path), "-t", "all", "-k", "1-9", "-f", "csv", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"gmmcli failed: {proc.stderr}")
    cells = {}
    for row in csv.DictReader(io.StringIO(proc.stdout)):
        cells[(row["model"], int(row["k"]))] = (float(row["bic"]) if row["bic"] else math.nan, row["error"])
    return seconds, cells


def run_mclust(path: Path) -> tuple[float | None, dict]:
    """-BIC per (model, k) in gmmcli's sign (lower is better), and the Rscript's wall time."""
    if (
        shutil.which("Rscript")
        and subprocess.run(["Rscript", "-e", "library(mclust)"], capture_output=True).returncode == 0
    ):
        start = time.perf_counter()
        proc = subprocess.run(["Rscript", "-e", R_SCRIPT, str(path)], capture_output=True, text=True)
        seconds = time.perf_counter() - start
        rows = [line.split(",") for line in proc.stdout.split("\n") if line.strip()]
    else:
        seconds = None
        rows = json.loads(REFERENCE.read_text())["datasets"][path.stem]["bic"]
    table = {}
    for g, row in enumerate(rows, start=1):
        for model, value in zip(MODELS, row):
            value = "NA" if value is None else str(value).strip()
            table[(model, g)] = math.nan if value == "NA" else -float(value)
    return seconds, table


def compare(name: str, ours: dict, theirs: dict) -> dict:
    fitted = [key for key, value in theirs.items() if math.isfinite(value)]
    worse = [key for key in fitted if not ours[key][0] <= theirs[key] + 0.05]
    better = [key for key in fitted if ours[key][0] < theirs[key] - 0.05]
    our_best = min((v[0], key) for key, v in ours.items() if math.isfinite(v[0]))
    their_best = min((theirs[key], key) for key in fitted)
    return dict(
        name=name,
        fitted=len(fitted),
        worse=worse,
        better=better,
        ours=our_best,
        theirs=their_best,
        degenerate=sum(1 for v in ours.values() if v[1].startswith("degenerate")),
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="diabetes,iris,faithful,banknote,thyroid,wreath,quakes")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each whole process")
    parser.add_argument("--gmmcli-args", default="", help="extra options for gmmcli select")
    args = parser.parse_args()
    extra = shlex.split(args.gmmcli_args)
    print(
        f"gmmcli select -t all -k 1-9 {' '.join(extra)} against mclustBIC(X, G = 1:9); BIC in gmmcli's sign"
    )
    print(
        "| data | rows x cols | cells | gmmcli worse by > 0.05 | gmmcli better by > 0.05 | degenerate refused "
        "| mclust winner | gmmcli winner | mclust s | gmmcli s | speed-up |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |")
    total_ours = total_theirs = 0.0
    failures = 0
    for name in args.data.split(","):
        path = DATA / f"{name}.csv"
        runs = [run_gmmcli(path, extra) for _ in range(args.repeat)]
        t_ours, ours = min(runs, key=lambda r: r[0])
        mruns = [run_mclust(path) for _ in range(args.repeat)]
        t_theirs, theirs = min(mruns, key=lambda r: r[0] or 0.0)
        lines = path.read_text().splitlines()
        n, d = len(lines) - 1, len(lines[0].split(","))
        c = compare(name, ours, theirs)
        failures += len(c["worse"])
        total_ours += t_ours
        total_theirs += t_theirs or math.nan
        speed = f"{t_theirs / t_ours:.2f}x" if t_theirs else "-"
        print(
            f"| {name} | {n} x {d} | {c['fitted']} | {len(c['worse'])} | {len(c['better'])} | {c['degenerate']} "
            f"| {c['theirs'][1][0]} {c['theirs'][1][1]} ({c['theirs'][0]:.2f}) "
            f"| {c['ours'][1][0]} {c['ours'][1][1]} ({c['ours'][0]:.2f}) "
            f"| {t_theirs if t_theirs is None else f'{t_theirs:.2f}'} | {t_ours:.2f} | {speed} |"
        )
        for key in c["worse"]:
            print(
                f"    worse: {name} {key[0]} k={key[1]}: gmmcli {ours[key][0]:.3f} ({ours[key][1] or 'ok'}), "
                f"mclust {theirs[key]:.3f}"
            )
    if math.isfinite(total_theirs):
        print(
            f"all data sets: mclust {total_theirs:.2f} s, gmmcli {total_ours:.2f} s: "
            f"{total_theirs / total_ours:.2f}x"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
