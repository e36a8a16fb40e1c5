"""Pieces every benchmark uses: a timer, the notebook's digits data, sizes like 2GB, a gmmcli run."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np


def timed(fn):
    """(seconds, result) of one call of ``fn``."""
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def digits_data() -> np.ndarray:
    """The notebook's digits: PCA to 99% of the variance, whitened (1797 x 41)."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    return PCA(0.99, whiten=True).fit_transform(load_digits().data)


def parse_bytes(text: str) -> int:
    """'2GB' -> 2000000000 (decimal units KB, MB, GB)."""
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9}
    return int(float(text[:-2]) * units[text[-2:].upper()])


def gmmcli(*args) -> subprocess.CompletedProcess:
    """``python -m gmmcli ARGS`` in this interpreter, failing loudly (a benchmark's set-up step)."""
    return subprocess.run([sys.executable, "-m", "gmmcli", *map(str, args)], check=True)
