"""Every bad input of the foundation: one 'error:' line, the documented exit code, no output file."""

from __future__ import annotations

import pytest
from conftest import SAMPLE

CASES = {
    # name: (file content or None for a missing file, extra args, exit code, message fragment)
    "missing input": (None, [], 66, "does not exist"),
    "empty input": ("", [], 65, "is empty"),
    "header only": ("x,y\n", [], 65, "no data rows"),
    "non-numeric column": ("x,y\n1,a\n2,b\n3,c\n", [], 65, "column 'y' is not numeric"),
    "nan value": ("x,y\n1,2\n2,\n3,4\n4,5\n", [], 65, "row 2 has a missing or infinite value"),
    "inf value": ("x,y\n1,2\n2,inf\n3,4\n4,5\n", [], 65, "--dropna"),
    "fewer rows than components": ("x,y\n1,2\n2,3\n", ["-k", "3"], 65, "need at least as many rows"),
    "k below one": ("x,y\n1,2\n2,3\n", ["-k", "0"], 2, "-k must be at least 1"),
    "unknown column": ("x,y\n1,2\n2,3\n", ["--columns", "z"], 2, "unknown column 'z'"),
    "unknown covariance type": ("x,y\n1,2\n2,3\n", ["-t", "round"], 2, "unknown covariance type"),
}


@pytest.mark.parametrize("name", CASES)
def test_fit_bad_input(gmm, tmp_path, name):
    content, extra, code, message = CASES[name]
    data = tmp_path / "data.csv"
    if content is not None:
        data.write_text(content)
    out = tmp_path / "model.joblib"
    res = gmm("fit", data, "-o", out, *extra)
    assert res.code == code, res.err
    assert res.err.startswith("error: ") and res.err.count("\n") == 1, res.err
    assert message in res.err
    assert "Traceback" not in res.err
    assert not out.exists()


def test_dropna_skips_bad_rows(gmm, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n2,\n3,4\n4,5.5\n7,1\n")
    out = tmp_path / "model.joblib"
    assert gmm("fit", data, "--dropna", "-o", out).code == 0


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("m") / "m.joblib"
    assert run(["-q", "fit", str(SAMPLE / "moons.csv"), "-k", "2", "-o", str(path)]) == 0
    return path


@pytest.mark.parametrize("command", ["predict", "proba", "score"])
@pytest.mark.parametrize(
    "content, extra, code, message",
    [
        ("x,z\n1,2\n", [], 65, "no column 'y'"),
        ("x,y\n1,2\n", ["--keep", "id"], 2, "unknown column 'id'"),
        ("x,y\n1,2\n", ["--format", "xml"], 2, "unknown format"),
        ("x,y\n1,oops\n", [], 65, "not numeric"),
    ],
)
def test_scoring_bad_input(gmm, tmp_path, model, command, content, extra, code, message):
    data = tmp_path / "data.csv"
    data.write_text(content)
    out = tmp_path / "out.csv"
    res = gmm(command, model, data, "-o", out, *extra)
    assert res.code == code, res.err
    assert res.err.startswith("error: ") and res.err.count("\n") == 1
    assert message in res.err
    assert not out.exists()


@pytest.mark.parametrize("command", ["predict", "proba", "score", "info"])
def test_missing_model(gmm, tmp_path, command):
    args = [command, tmp_path / "nope.joblib"] + ([SAMPLE / "moons.csv"] if command != "info" else [])
    res = gmm(*args)
    assert res.code == 66 and "does not exist" in res.err and res.err.count("\n") == 1


def test_output_into_missing_folder(gmm, model):
    res = gmm("predict", model, SAMPLE / "moons.csv", "-o", "/nonexistent-dir/out.csv")
    assert res.code == 73 and "does not exist" in res.err


def test_unknown_option_is_a_usage_error(gmm):
    res = gmm("fit", "--bogus")
    assert res.code == 2 and res.err.startswith("error: ") and res.err.count("\n") == 1
