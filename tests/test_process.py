"""Behaviour only a real process shows: entry points, start-up imports, pipes."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import SAMPLE, gmm_process

from gmmcli import __version__


def test_python_dash_m_and_version():
    res = gmm_process("--version")
    assert res.code == 0 and res.out.strip() == f"gmmcli {__version__}"


def _imported_modules(*args, stdin=None) -> set[str]:
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gmmcli", *map(str, args)],
        capture_output=True,
        text=True,
        input=stdin,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return {
        line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")
    }


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "m.joblib"
    assert gmm_process("-q", "fit", SAMPLE / "blobs.csv", "-k", 4, "-x", "id", "-o", path).code == 0
    return path


@pytest.mark.parametrize("command", ["predict", "proba", "score"])
def test_scoring_never_imports_sklearn_or_scipy(model, command):
    modules = _imported_modules(command, model, SAMPLE / "blobs.csv")
    heavy = {m for m in modules if m.split(".")[0] in ("sklearn", "scipy")}
    assert not heavy, sorted(heavy)[:5]


@pytest.mark.parametrize(
    "args",
    [
        ["fit", SAMPLE / "blobs.csv", "-k", 3],  # default init: k-means
        ["fit", SAMPLE / "blobs.csv", "-k", 3, "--init", "k-means++"],
        [
            "select",
            SAMPLE / "blobs.csv",
            "-x",
            "id",
            "-k",
            "1-3",
            "-t",
            "full",
            "--n-init",
            1,
            "--init",
            "kmeans,k-means++",
        ],
    ],
    ids=["fit", "fit-kmeans++", "select"],
)
def test_fitting_never_imports_sklearn_or_scipy(tmp_path, args):
    """k-means initialisation is gmmcli.engine.kmeans: ``import sklearn.cluster`` cost ~3 s a run."""
    out = ["-o", tmp_path / "m.joblib"] if args[0] == "fit" else []
    modules = _imported_modules(*args, *out)
    assert "gmmcli.engine.kmeans" in modules  # the k-means did run in this process
    heavy = {m for m in modules if m.split(".")[0] in ("sklearn", "scipy")}
    assert not heavy, sorted(heavy)[:5]


def test_help_imports_no_heavy_library():
    modules = _imported_modules("--help")
    heavy = {m.split(".")[0] for m in modules} & {"sklearn", "scipy", "pandas", "matplotlib", "joblib"}
    assert not heavy


def test_pipeline_from_stdin_into_head(model):
    text = (SAMPLE / "blobs.csv").read_text()
    proc = subprocess.run(
        f"{sys.executable} -m gmmcli predict {model} - --keep id | head -3",
        shell=True,
        input=text,
        capture_output=True,
        text=True,
    )
    assert proc.stdout.splitlines()[0] == "id,label"
    assert len(proc.stdout.splitlines()) == 3
    assert proc.stderr == ""
