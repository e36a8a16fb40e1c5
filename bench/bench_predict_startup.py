"""gmmcli predict vs a minimal scikit-learn script, whole-process time on 1,000 rows.

Both run as fresh processes (that is what a pipeline pays per call): median of N runs each,
interleaved so machine noise hits both alike. Prints the ratio.

    python bench/bench_predict_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from common import gmmcli
from sklearn.mixture import GaussianMixture

SKLEARN_SCRIPT = textwrap.dedent(
    """
    import sys, joblib, pandas as pd
    model = joblib.load(sys.argv[1])
    X = pd.read_csv(sys.argv[2]).to_numpy()
    labels = model.predict(X)
    pd.DataFrame({"label": labels}).to_csv(sys.stdout, index=False)
    """
)


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gmmcli-bench-"))
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 1.0, size=(250, 5)) for c in range(4)])
    data = tmp / "rows.csv"
    pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]).to_csv(data, index=False)
    gmmcli("-q", "fit", data, "-k", 4, "--seed", 0, "-o", tmp / "gmmcli.joblib")
    joblib.dump(GaussianMixture(4, random_state=0).fit(X), tmp / "sklearn.joblib")
    script = tmp / "predict_sklearn.py"
    script.write_text(SKLEARN_SCRIPT)

    ours_cmd = [sys.executable, "-m", "gmmcli", "predict", str(tmp / "gmmcli.joblib"), str(data)]
    theirs_cmd = [sys.executable, str(script), str(tmp / "sklearn.joblib"), str(data)]
    timed(ours_cmd), timed(theirs_cmd)  # warm the page cache
    ours, theirs = [], []
    for _ in range(args.runs):
        ours.append(timed(ours_cmd))
        theirs.append(timed(theirs_cmd))
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"predict, 1,000 rows x 5, k=4, median of {args.runs} whole-process runs")
    print(f"  gmmcli predict            {o * 1000:8.1f} ms")
    print(f"  joblib+pandas+sklearn     {t * 1000:8.1f} ms")
    print(f"  speed-up (sklearn/gmmcli) {t / o:8.2f}x")


if __name__ == "__main__":
    main()
