"""The README's examples are true: every sh and console block runs, in order, from the top folder.

Without pipefail (``sort | head`` may kill sort with SIGPIPE, as in any shell), so a failure
inside a pipeline is caught by its ``error:`` line on stderr instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

BLOCK = re.compile(r"^```(sh|console)\n(.*?)^```", re.S | re.M)


def _script(kind: str, body: str) -> str:
    """An sh block runs as it is; a console block runs its ``$ `` lines (the rest is output)."""
    if kind == "sh":
        return body
    return "\n".join(line[2:] for line in body.splitlines() if line.startswith("$ "))


def test_readme_sh_blocks_run(tmp_path):
    blocks = BLOCK.findall((ROOT / "README.md").read_text())
    assert blocks, "README has no sh examples"
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")
    shutil.copytree(ROOT / "tests" / "reference" / "data", tmp_path / "tests" / "reference" / "data")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for kind, body in blocks:
        block = _script(kind, body)
        proc = subprocess.run(
            ["bash", "-c", "set -e\n" + block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        report = f"README block failed:\n{block}\n--- stderr:\n{proc.stderr[-3000:]}"
        assert proc.returncode == 0, report
        assert "error:" not in proc.stderr and "Traceback" not in proc.stderr, report
    _assert_outputs_are_ignored(tmp_path)


def _assert_outputs_are_ignored(folder: Path) -> None:
    """Whatever the examples wrote next to sample_data/ is covered by .gitignore, so trying them
    in a checkout leaves ``git status`` clean."""
    if shutil.which("git") is None:
        return
    shutil.copy(ROOT / ".gitignore", folder / ".gitignore")
    git = ["git", "-c", "init.defaultBranch=main", "-C", str(folder)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "sample_data", "tests", ".gitignore"], check=True)
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True)
    stray = [line for line in status.stdout.splitlines() if line.startswith("??")]
    assert not stray, f"README examples leave files .gitignore does not cover: {stray}"
