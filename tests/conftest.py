"""Shared test helpers: run gmmcli like a user would, in-process (fast) or as a subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="session", autouse=True)
def compiled_gmmcli():
    """gmmcli's bytecode, written once: the processes the tests start (``python -m gmmcli``, the
    README's shell, Dask's workers) then read it instead of compiling every module again, which
    they all do where PYTHONDONTWRITEBYTECODE is set (as on CI). Where the tree is not writable
    nothing is written and nothing changes but the time."""
    import compileall

    import gmmcli

    compileall.compile_dir(Path(gmmcli.__file__).parent, quiet=2)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def gmm(capsys, monkeypatch):
    """Call gmmcli in-process: ``gmm("fit", path, "-k", "2", stdin="x,y\\n...")`` -> Result."""
    from gmmcli.cli import run

    def call(*args, stdin: str | bytes | None = None) -> Result:
        if stdin is not None:
            data = stdin.encode() if isinstance(stdin, str) else stdin
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


@pytest.fixture(scope="session")
def blobs_model_path(tmp_path_factory):
    """A 3-component model of sample_data/blobs.csv (id excluded, seed 0), fitted once."""
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("blobs-model") / "m.joblib"
    assert (
        run(["-q", "fit", str(SAMPLE / "blobs.csv"), "-k", "3", "-x", "id", "--seed", "0", "-o", str(path)])
        == 0
    )
    return path


def gmm_process(*args, stdin: bytes | str | None = None, env: dict | None = None, cwd=None) -> Result:
    """Run gmmcli as a separate process (for stdin pipes, signals, import-time checks)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "gmmcli", *map(str, args)],
        input=stdin.encode() if isinstance(stdin, str) else stdin,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
    )
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def read_csv_text(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text))


def load_xy(name: str, exclude=("id",)) -> np.ndarray:
    """A sample CSV as the float matrix gmmcli fits (id column dropped)."""
    frame = pd.read_csv(SAMPLE / name)
    return frame[[c for c in frame.columns if c not in exclude]].to_numpy(dtype=float)


def default_signals() -> None:
    """preexec_fn for children that tests interrupt: a test runner started in the background
    inherits SIGINT ignored, and a Unix program rightly keeps an inherited SIG_IGN."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
