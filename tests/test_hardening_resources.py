"""The memory guard and the atomic writer, as units."""

from __future__ import annotations

import errno
import os

import pytest
from conftest import SAMPLE

from gmmcli import memory as resources
from gmmcli.errors import CannotCreateOutput, IOFailure, UsageError
from gmmcli.io.atomic import atomic_path, atomic_text, is_special
from gmmcli.signals import Interrupted


@pytest.mark.parametrize(
    "text, size",
    [
        ("2G", 2 << 30),
        ("500M", 500 << 20),
        ("1.5g", 3 << 29),
        ("64KiB", 64 << 10),
        ("1024", 1024),
        ("3 GB", 3 << 30),
        ("1T", 1 << 40),
    ],
)
def test_parse_size(text, size):
    assert resources.parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "-1G", "0", "2X", "G"])
def test_parse_size_refuses_nonsense(text):
    with pytest.raises(UsageError):
        resources.parse_size(text)


def test_fit_estimate_grows_with_rows_components_and_parallel_jobs():
    base = resources.fit_bytes(100_000, 10, 5, "full")
    assert resources.fit_bytes(200_000, 10, 5, "full") > base
    assert resources.fit_bytes(100_000, 10, 10, "full") > base
    assert resources.fit_bytes(100_000, 10, 5, "diag") < base
    assert resources.fit_bytes(100_000, 10, 5, "full", parallel=4) == 4 * base
    assert resources.fit_bytes(
        1_000_000, 2, 16
    ) == 48 * 2_000_000 + 5 * 16_000_000 + 32 * 1_000_000 + 32 * 64 + (32 << 20)


_PROBE = """
import os, resource, sys
import numpy as np
import sklearn.cluster, sklearn.mixture, scipy.linalg  # imported before measuring: not the fit's memory
from gmmcli.engine import em
from gmmcli import memory as resources
n, d, k, cov = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
X = np.load(sys.argv[1])
base = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
em.fit(X, k, covariance_type=cov, max_iter=3, seed=0)
# VmHWM is this process image's own high-water mark; ru_maxrss would start at the RSS of the
# (large) pytest process this probe was forked from, which exec carries over
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(peak - base, resources.fit_bytes(n, d, k, cov))
"""


def _probe_environment() -> dict:
    """A clean environment for the probe: only what locates Python and pins BLAS, so variables
    that earlier tests or the runner set cannot change how the fit allocates."""
    keep = ("PATH", "HOME", "LANG", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "MALLOC_ARENA_MAX": "2"}


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
@pytest.mark.parametrize("n, d, k", [(600_000, 2, 24), (60_000, 60, 6)])
def test_fit_estimate_is_an_upper_bound_for_the_engine(tmp_path, n, d, k):
    """The guard must never refuse a fit that would have fitted: if the engine changes how it
    allocates, this fails and the constants in resources.py need measuring again.

    The probe runs in a small, fixed environment (glibc arenas capped), so that what the runner
    or earlier tests set cannot change how the fit allocates."""
    import subprocess
    import sys

    import numpy as np

    data = tmp_path / "X.npy"
    np.save(data, np.random.default_rng(0).normal(size=(n, d)))
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(data), str(n), str(d), str(k), "full"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env=_probe_environment(),
    ).stdout
    used, estimate = map(int, out.split())
    assert used <= estimate, f"fit used {used / 2**20:.0f} MiB, estimate {estimate / 2**20:.0f} MiB"
    assert estimate <= 4 * max(used, 20 << 20), "estimate far above the real need: the guard refuses too much"


def test_available_memory_is_known_on_linux():
    available = resources.available_memory()
    if os.path.exists("/proc/meminfo"):
        assert available is not None and available > 0


def test_check_memory(monkeypatch):
    resources.check_memory(10, "1K")
    with pytest.raises(
        resources.ResourceError, match=r"needs about 2\.0 KiB of memory but --max-memory is 1K \(1\.0 KiB\)"
    ):
        resources.check_memory(2048, "1K")
    monkeypatch.setattr(resources, "available_memory", lambda: 1 << 30)
    with pytest.raises(
        resources.ResourceError, match=r"only 1\.0 GiB is available.*--max-memory SIZE overrides"
    ):
        resources.check_memory(2 << 30)
    resources.check_memory(2 << 30, "4G")  # the user's budget overrides what we see
    monkeypatch.setattr(resources, "available_memory", lambda: None)
    resources.check_memory(1 << 50)  # nothing known, nothing refused


def test_fit_refuses_before_fitting_when_memory_is_short(gmm, tmp_path, monkeypatch):
    import gmmcli.fitting

    monkeypatch.setattr(resources, "available_memory", lambda: 1 << 20)
    started = []
    real_fit = gmmcli.fitting.fit_model
    monkeypatch.setattr(gmmcli.fitting, "fit_model", lambda *a, **k: started.append(1) or real_fit(*a, **k))
    result = gmm("fit", SAMPLE / "blobs.csv", "-x", "id", "-k", "3", "-o", tmp_path / "m.joblib")
    assert result.code == 65 and not started
    assert "only 1.0 MiB is available" in result.err and "fewer components (-k)" in result.err
    ok = gmm(
        "fit", SAMPLE / "blobs.csv", "-x", "id", "-k", "3", "--max-memory", "1G", "-o", tmp_path / "m.joblib"
    )
    assert ok.code == 0 and started


# ----------------------------------------------------------------------------- atomic writer
def test_atomic_path_keeps_the_old_file_on_any_failure(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    for exc in (ValueError("boom"), Interrupted(15), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with atomic_text(target) as fh:
                fh.write("new, half")
                raise exc
        assert target.read_text() == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_atomic_text_maps_write_errors(tmp_path, monkeypatch):
    with pytest.raises(CannotCreateOutput):
        with atomic_text(tmp_path / "missing" / "f.txt"):
            pass
    with pytest.raises(CannotCreateOutput):
        with atomic_text(tmp_path):
            pass
    import gmmcli.io.atomic

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gmmcli.io.atomic.os, "fsync", no_space)
    with pytest.raises(IOFailure, match="No space left"):
        with atomic_text(tmp_path / "f.txt") as fh:
            fh.write("x")
    assert not list(tmp_path.iterdir())


def test_devices_are_written_through_not_replaced():
    assert is_special("/dev/null") and not is_special("/tmp") and not is_special("/no/such/file")
    with atomic_path("/dev/null") as path:
        assert str(path) == "/dev/null"
        path.write_bytes(b"x")
    with pytest.raises(IOFailure):
        with atomic_text("/dev/full") as fh:
            fh.write("x" * 100_000)
    assert is_special("/dev/full")


def test_new_files_get_the_umask_mode_and_existing_files_keep_theirs(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_text(tmp_path / "new.txt") as fh:
            fh.write("x")
        (tmp_path / "kept.txt").write_text("old")
        (tmp_path / "kept.txt").chmod(0o600)
        with atomic_text(tmp_path / "kept.txt") as fh:
            fh.write("y")
    finally:
        os.umask(old)
    assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "kept.txt").stat().st_mode & 0o777 == 0o600
