"""How many cores this process may use, and BLAS held to one thread while we thread ourselves."""

from __future__ import annotations

import os
from contextlib import nullcontext
from functools import lru_cache


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Cores available, capped by OMP_NUM_THREADS when set (joblib sets it in its workers)."""
    n = available_cores()
    try:
        n = min(n, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        pass
    return max(1, n)


def blas_single_thread():
    """Limit BLAS to one thread (we thread over blocks ourselves); no-op without threadpoolctl."""
    controller = _blas_controller()
    return nullcontext() if controller is None else controller.limit(limits=1, user_api="blas")


@lru_cache(maxsize=1)
def _blas_controller():
    """One threadpoolctl controller per process: finding the loaded libraries costs ~3 ms, paid
    by every EM run otherwise (the numpy BLAS the E-step uses is loaded before the first)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return None
    return ThreadpoolController()
