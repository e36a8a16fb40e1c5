"""The memory guard: estimate what a fit will allocate and refuse up front if it cannot fit.

Being killed by the kernel's OOM killer at 3 a.m. leaves no message and exit 137; refusing
before the allocation leaves a one-line reason and the option that helps. The estimate is
deliberately simple (the large arrays EM holds, times a measured factor) and errs on the high
side; ``--max-memory`` overrides the limit when the user knows better.
"""

from __future__ import annotations

import math
import os
import re

from .errors import DataError, UsageError

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

# Measured with the blocked EM engine (engine/, November 2026) by the peak RSS of a
# fit beyond the loaded data, for n x d x k from 300k x 2 x 2 to 2M x 2 x 32 and 50k x 100 x 10:
# typically 2-3 copies' worth of the n x d data (initialisation, centring), a few float vectors
# of length n, well under one n x k array (responsibilities are made block by block), and the
# covariances. The peak is not steady: on a busy machine one 60k x 60 x 6 fit peaked at 127 MiB
# where it usually takes 55 MiB (about 2.5 extra copies of the data), so the data term allows
# for 6 copies. The estimate runs 1.5x to 3x above typical peaks; the test suite checks that it
# is still an upper bound (and not absurdly high) for the engine of the day.
_BYTES_PER_ROW_FEATURE = 6 * 8
_BYTES_PER_ROW_COMPONENT = 5
_BYTES_PER_ROW = 4 * 8
_COVARIANCE_COPIES = 4
_OVERHEAD = 32 << 20  # interpreter growth, BLAS buffers, allocator slack


class ResourceError(DataError):
    """The job would need more memory than it may use (exit 65, like other unusable input)."""


def parse_size(text: str) -> int:
    """'2G' -> 2147483648; accepts B, K, M, G, T with optional 'B'/'iB' (all binary units)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?B)?\s*", str(text).upper())
    if not match:
        raise UsageError(f"--max-memory must be a size like 500M or 2G, got {text!r}")
    number, unit = float(match.group(1)), match.group(2)
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise UsageError(f"--max-memory must be more than zero, got {text!r}")
    return size


def human(size: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def fit_bytes(
    n_rows: int, n_features: int, n_components: int, covariance_type: str = "full", parallel: int = 1
) -> int:
    """Estimated peak bytes a fit allocates beyond the loaded data; ``parallel`` fits at once."""
    n, d, k = int(n_rows), int(n_features), int(n_components)
    from .engine import covariance

    cov = math.prod(covariance.get(covariance_type).structure.cov_shape(k, d))
    one = (
        _BYTES_PER_ROW_FEATURE * n * d
        + _BYTES_PER_ROW_COMPONENT * n * k
        + _BYTES_PER_ROW * n
        + 8 * _COVARIANCE_COPIES * cov
        + _OVERHEAD
        + max(0, block_bytes(n, d, k, covariance_type) - _OVERHEAD)
    )
    return one * max(1, int(parallel))


def block_bytes(n_rows: int, n_features: int, n_components: int, covariance_type: str = "full") -> int:
    """The E-step's per-block features (phi(x): d(d+1)/2 + d + 1 per row for full covariances)
    of the blocks that run at once. A block has at least 256 rows, so for wide data this is
    the largest term: 50 rows x 3,000 columns make 1.7 GiB of features (measured peak 1.4 GB,
    where the other terms sum to 0.6 GB). Small ones fit in the fixed overhead."""
    from .engine.cpus import available_cores
    from .engine.stats import block_width, default_block_rows

    n, d, k = int(n_rows), int(n_features), int(n_components)
    rows = default_block_rows(covariance_type, d, k)
    width = block_width(covariance_type, d, k)
    at_once = min(math.ceil(n / rows), available_cores())
    return 8 * min(n, rows) * width * max(1, at_once)


#: More points than any machine can hold: refused as a usage error before anything else.
MAX_SAMPLES = 10**12


def sample_bytes(n_samples: int, n_features: int, per_point: int = 0) -> int:
    """Peak bytes of drawing ``n_samples`` points and writing them: the normal draws, the
    points, their shuffled copy and the output table (about 5 float rows per point), labels,
    the permutation, plus ``per_point`` bytes of whatever uses the points (a plot)."""
    return int(n_samples) * (8 * (5 * int(n_features) + 4) + per_point) + _OVERHEAD


def check_sample_memory(n_samples: int, n_features: int, option: str = "-n", per_point: int = 0) -> None:
    """Refuse up front a draw that cannot fit in memory (exit 65) or in any machine (exit 2)."""
    if n_samples > MAX_SAMPLES:
        raise UsageError(f"{option} must be at most {MAX_SAMPLES:,}, got {n_samples:,}")
    check_memory(
        sample_bytes(n_samples, n_features, per_point),
        what=f"drawing {n_samples:,} points",
        advice=f"draw fewer points ({option}), or several smaller batches with different seeds",
        overridable=False,
    )


def available_memory() -> int | None:
    """Bytes this process can still allocate, from every limit we can see; None if none known.

    The smallest of: MemAvailable (/proc/meminfo), the cgroup memory limit minus usage (a
    container's real ceiling), and RLIMIT_AS minus the address space already in use.
    """
    limits = [v for v in (_meminfo_available(), _cgroup_available(), _rlimit_available()) if v is not None]
    return max(0, min(limits)) if limits else None


def check_memory(
    need: int,
    max_memory: str | None = None,
    *,
    what: str = "this fit",
    advice: str = "use fewer components (-k), fewer rows or --covariance-type diag",
    overridable: bool = True,
) -> None:
    """Raise ResourceError if ``need`` bytes exceed --max-memory (or, without it, what is free)."""
    if max_memory:
        limit, source = parse_size(max_memory), f"--max-memory is {max_memory}"
        remedy = f"{advice}, or raise --max-memory"
    else:
        limit = available_memory()
        if limit is None:
            return
        source = f"only {human(limit)} is available"
        remedy = f"{advice}, or free memory" + (
            " (--max-memory SIZE overrides this check)" if overridable else ""
        )
    if need > limit:
        if max_memory:
            source = f"{source} ({human(limit)})"
        raise ResourceError(f"{what} needs about {human(need)} of memory but {source}; {remedy}")


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" means no limit


def _cgroup_available() -> int | None:
    """cgroup v2 (the process's own group, then the root mount) or v1 memory limit minus usage."""
    candidates = []
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                parts = line.strip().split(":", 2)
                if len(parts) == 3 and parts[0] == "0":
                    candidates.append("/sys/fs/cgroup" + parts[2].rstrip("/"))
    except OSError:
        pass
    candidates.append("/sys/fs/cgroup")
    for folder in candidates:
        limit = _read_int(os.path.join(folder, "memory.max"))
        if limit is not None:
            used = _read_int(os.path.join(folder, "memory.current")) or 0
            return limit - used
    limit = _read_int("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    if limit is not None and limit < (1 << 60):  # v1 writes a huge number for "no limit"
        used = _read_int("/sys/fs/cgroup/memory/memory.usage_in_bytes") or 0
        return limit - used
    return None


def _rlimit_available() -> int | None:
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    used = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return soft - used
