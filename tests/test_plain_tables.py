"""The pandas-free path for small plain inputs (plain_tables.py): the same bytes as pandas' path.

Every input either takes the plain path and gives exactly what pandas' path gives, or is handed
to pandas' path (with what was read ahead), which then reads or rejects it as before.
"""

from __future__ import annotations

import gzip
import io
import subprocess
import sys

import pytest
from conftest import SAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gmmcli.errors import GmmcliError
from gmmcli.io import plain as plain_tables
from gmmcli.model import load_model
from gmmcli.scoring import score_table


@pytest.fixture(scope="module")
def model_path(blobs_model_path):
    return blobs_model_path


@pytest.fixture(scope="module")
def model(model_path):
    return load_model(model_path)


def _outcome(model, path, plain: bool, **options):
    """(output bytes, None) or (None, (error type, message)) of one scoring run."""
    out = path.with_name(f"out-{plain}")
    try:
        score_table(model, str(path), output=str(out), plain=plain, **options)
    except GmmcliError as exc:
        return None, (type(exc).__name__, str(exc))
    return out.read_bytes(), None


def _same_both_ways(model, tmp_path, data: bytes, name="d.csv", **options):
    path = tmp_path / name
    path.write_bytes(data)
    plain = _outcome(model, path, True, **options)
    assert plain == _outcome(model, path, False, **options)
    return plain


def test_na_texts_are_pandas_missing_values():
    from pandas._libs.parsers import STR_NA_VALUES

    assert plain_tables.NA_TEXTS == STR_NA_VALUES


@pytest.mark.parametrize("kind", ["predict", "proba", "score"])
@pytest.mark.parametrize("fmt", ["csv", "tsv", "json"])
@pytest.mark.parametrize("keep", [[], ["id"], ["y", "id", "x"]])
def test_sample_data_same_bytes_as_pandas(model, tmp_path, kind, fmt, keep):
    text = (SAMPLE / "blobs.csv").read_bytes()
    assert plain_tables.parse(text.decode(), ",", True, ["x", "y"], keep) is not None  # plain path taken
    output, error = _same_both_ways(model, tmp_path, text, kind=kind, keep=keep, dropna=False, fmt=fmt)
    assert error is None and output.count(b"\n") == (400 if fmt == "json" else 401)  # 400 rows


# Values chosen to sit on both sides of every rule in plain_tables.parse.
NUMBERS = st.one_of(
    st.floats(-1e6, 1e6).map(repr),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.integers(-(10**20), 10**20).map(str),
    st.sampled_from(["1.", ".5", "+3", "-.5e-3", "1E5", "0", "-0", "00012", "1e-320", " 7", "  -2.5"]),
)
CELLS = st.one_of(
    NUMBERS,
    st.sampled_from(
        [
            "1e200",
            "7 ",
            "\t4",
            "1_000",
            "0x10",
            "inf",
            "-inf",
            "nan",
            "NA",
            "null",
            "",
            "None",
            "abc",
            "t12",
            '"3"',
            '"a,b"',
            "True",
            "1,5",
            "é",
            " ",
            "١٢",
        ]
    ),
)
TEXTS = st.one_of(
    st.text("abcXYZ019_-.+ é", min_size=1, max_size=6),
    st.text(st.characters(codec="utf-8", exclude_characters='",\r\n'), min_size=1, max_size=6),
)
NAMES = st.sampled_from(["x", "y", "id", "tag", " x", "x ", "", "x", '"y"'])


@st.composite
def tables(draw):
    """Half plain (x, y numbers and an id), half anything: ragged, blank, quoted, missing..."""
    if draw(st.booleans()):
        names = draw(st.permutations(["x", "y", "id"]))
        cell = {"x": NUMBERS, "y": NUMBERS, "id": TEXTS}
        rows = draw(st.lists(st.tuples(*(cell[n] for n in names)).map(list), min_size=1, max_size=12))
    else:
        names = draw(st.lists(NAMES, min_size=1, max_size=5))
        rows = draw(st.lists(st.lists(CELLS, min_size=len(names), max_size=len(names)), max_size=12))
        if rows and draw(st.integers(0, 4)) == 0:
            rows[-1] = rows[-1][:-1]  # a ragged line
    lines = [",".join(names)] + [",".join(row) for row in rows]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from([newline, ""]))
    if draw(st.integers(0, 9)) == 0:
        text = text.replace(newline, newline + newline, 1)  # a blank line
    return (b"\xef\xbb\xbf" if draw(st.integers(0, 9)) == 0 else b"") + text.encode()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=tables(),
    kind=st.sampled_from(["predict", "proba", "score"]),
    fmt=st.sampled_from(["csv", "tsv", "json"]),
    keep=st.lists(st.sampled_from(["id", "x", "tag"]), max_size=2),
    dropna=st.booleans(),
)
def test_any_input_same_outcome_as_pandas(model, tmp_path, data, kind, fmt, keep, dropna):
    _same_both_ways(model, tmp_path, data, kind=kind, keep=keep, dropna=dropna, fmt=fmt)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("0123456789eE.+-", max_size=8), min_size=1, max_size=4))
def test_numbers_accepted_are_pandas_floats(column):
    """A column plain_tables accepts is one pandas reads as the same numbers (sign of zero too)."""
    import numpy as np
    import pandas as pd

    values = plain_tables.numbers(column)
    if values is not None:
        frame = pd.read_csv(io.StringIO("v\n" + "\n".join(column) + "\n"), skip_blank_lines=False)
        assert frame["v"].dtype.kind in "iuf"
        expected = frame["v"].to_numpy(dtype=float)
        assert values.tobytes() == expected.tobytes()
        assert np.array_equal(np.signbit(values), np.signbit(expected))


@pytest.mark.parametrize(
    "text",
    [
        'x,y\n"1",2\n',  # quotes
        "x,y\n1,2\n3\n",  # ragged
        "x,y\n1,2\n\n3,4\n",  # blank line
        "x,x\n1,2\n",  # duplicate names
        "x,y,\n1,2,3\n",  # blank name
        "x,y\n1,NA\n",  # missing value
        "x,y\n1,inf\n",  # not finite
        "x,y\n1,1e101\n",  # too large to model
        "x,y\n1,abc\n",  # text in a feature
        "x,y\n1,12345678901234567890\n",  # longer than int64
        "x,y\r1,2\r",  # old Mac line ends
        "x\n1\n",  # a feature is missing
        "x,y\n",  # no data rows
    ],
)
def test_inputs_that_are_not_plain_go_to_pandas(text):
    assert plain_tables.parse(text, ",", True, ["x", "y"], []) is None


def test_plain_input_parses_to_the_same_numbers_as_pandas():
    import pandas as pd

    text = "id, x,y\r\nA,1.,+3\r\nB, .5,-2e-3\r\nC,7,00012\r\n"
    table = plain_tables.parse(text, ",", True, ["x", "y"], ["id"])
    frame = pd.read_csv(io.StringIO(text), skipinitialspace=True, dtype={"id": str})
    assert table.matrix(["x", "y"]).tolist() == frame[["x", "y"]].to_numpy(float).tolist()
    assert table.select(["id"]).data == {"id": ("A", "B", "C")}


@pytest.mark.parametrize("compress", [False, True])
def test_input_larger_than_the_read_ahead_goes_to_pandas_whole(
    model_path, tmp_path, monkeypatch, gmm, compress
):
    """What was read ahead is not lost: pandas gets it, then the rest (files and stdin)."""
    text = (SAMPLE / "blobs.csv").read_bytes()
    data = gzip.compress(text) if compress else text
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    expected = gmm("predict", model_path, path, "--keep", "id").out
    monkeypatch.setattr(plain_tables, "PLAIN_BYTES", 100)
    assert gmm("predict", model_path, path, "--keep", "id").out == expected
    assert gmm("predict", model_path, "-", "--keep", "id", stdin=data).out == expected
    assert expected.count("\n") == 401


# ----------------------------------------------------------------------------- training data
def _training_outcome(path, **options):
    from gmmcli.io import training

    try:
        X, names, w = training.read_training_data(str(path), **options)
    except GmmcliError as exc:
        return type(exc).__name__, str(exc)
    return X.dtype.str, X.shape, X.tobytes(), names, None if w is None else w.tobytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=tables(),
    columns=st.sampled_from([[], ["x"], ["y", "x"]]),
    exclude=st.sampled_from([[], ["id"], ["tag"]]),
    weights=st.sampled_from([None, "y", "id"]),
    dropna=st.booleans(),
)
def test_training_data_same_as_pandas(tmp_path, monkeypatch, data, columns, exclude, weights, dropna):
    path = tmp_path / "t.csv"
    path.write_bytes(data)
    options = dict(columns=columns, exclude=exclude, weights=weights, dropna=dropna)
    plain = _training_outcome(path, **options)
    with monkeypatch.context() as m:
        m.setattr(plain_tables, "PLAIN_BYTES", 0)  # everything goes to pandas
        assert plain == _training_outcome(path, **options)


@pytest.mark.parametrize(
    "command",
    [
        ["predict", "MODEL", str(SAMPLE / "blobs.csv"), "--keep", "id", "-o", "OUT"],
        ["-q", "fit", str(SAMPLE / "blobs.csv"), "-x", "id", "-k", "3", "-o", "OUT"],
        [
            "select",
            str(SAMPLE / "blobs.csv"),
            "-x",
            "id",
            "-k",
            "1-3",
            "--jobs",
            "1",
            "-f",
            "csv",
            "-o",
            "OUT",
        ],
    ],
)
def test_a_plain_input_does_not_import_pandas(model_path, tmp_path, command):
    """predict, fit and select on a small plain CSV: pandas' import would be most of their time."""
    args = [str(model_path) if a == "MODEL" else str(tmp_path / "out") if a == "OUT" else a for a in command]
    code = (
        f"import sys\nfrom gmmcli.cli import run\ncode = run({args!r})\n"
        "assert code == 0, code\nassert 'pandas' not in sys.modules, 'pandas was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out").stat().st_size > 0
