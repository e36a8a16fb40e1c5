"""Peak memory of ``gmmcli predict`` on 100k and 2M rows fed through a pipe.

Streaming scoring should keep memory flat: the 2M-row peak must be within 1.3x of the 100k one.
The CSV is generated on the fly and written into gmmcli's stdin (a real pipe, never a file), the
output is read and counted, and the peak resident set size of the gmmcli process is taken from
``os.wait4`` (the kernel's ru_maxrss for exactly that child).

    python bench/bench_predict_memory.py                 # 100k and 2M rows
    python bench/bench_predict_memory.py --rows 100000 2000000 10000000 --json

Exit status 1 if the largest run's peak exceeds 1.3x the smallest's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from common import gmmcli

ROOT = Path(__file__).resolve().parent.parent
BLOCK = 100_000


def make_model(folder: Path) -> Path:
    model = folder / "bench.joblib"
    gmmcli("-q", "fit", ROOT / "sample_data" / "blobs.csv", "-x", "id", "-k", 4, "--seed", 0, "-o", model)
    return model


def feed(pipe, rows: int, seed: int = 0) -> None:
    """Write ``rows`` rows of id,x,y into ``pipe`` block by block, then close it."""
    rng = np.random.default_rng(seed)
    try:
        pipe.write(b"id,x,y\n")
        for start in range(0, rows, BLOCK):
            n = min(BLOCK, rows - start)
            block = np.column_stack([np.arange(start + 1, start + n + 1), rng.normal(scale=4, size=(n, 2))])
            buffer = io.BytesIO()
            np.savetxt(buffer, block, delimiter=",", fmt=["%d", "%.6f", "%.6f"])
            pipe.write(buffer.getvalue())
    except BrokenPipeError:
        pass
    finally:
        try:
            pipe.close()
        except BrokenPipeError:
            pass


def drain(pipe, counter: dict) -> None:
    lines = 0
    for chunk in iter(lambda: pipe.read(1 << 20), b""):
        lines += chunk.count(b"\n")
    counter["lines"] = lines


def measure(model: Path, rows: int) -> dict:
    cmd = [sys.executable, "-m", "gmmcli", "predict", str(model), "-", "--keep", "id"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    counter: dict = {}
    threads = [
        threading.Thread(target=feed, args=(proc.stdin, rows)),
        threading.Thread(target=drain, args=(proc.stdout, counter)),
    ]
    for t in threads:
        t.start()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"gmmcli failed ({proc.returncode}): {err.decode()}")
    if counter.get("lines") != rows + 1:
        raise SystemExit(f"expected {rows + 1} output lines, got {counter.get('lines')}")
    return {
        "rows": rows,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "seconds": elapsed,
        "rows_per_second": rows / elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 2_000_000])
    parser.add_argument("--json", action="store_true", help="print one JSON object per run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = make_model(Path(tmp))
        results = [measure(model, rows) for rows in args.rows]
    for r in results:
        if args.json:
            print(json.dumps(r))
        else:
            print(
                f"{r['rows']:>10,} rows  peak RSS {r['peak_rss_mib']:7.1f} MiB  "
                f"{r['seconds']:6.1f} s  {r['rows_per_second']:>9,.0f} rows/s"
            )
    ratio = results[-1]["peak_rss_mib"] / results[0]["peak_rss_mib"]
    verdict = "ok" if ratio <= 1.3 else "NOT FLAT"
    print(
        f"peak ratio {results[-1]['rows']:,} / {results[0]['rows']:,} rows: {ratio:.2f}x (limit 1.30x): {verdict}"
    )
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
