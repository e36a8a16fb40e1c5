"""Streaming scoring and input formats: blocks give the same bytes as one pass; every format reads."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, read_csv_text

from gmmcli.io import separators
from gmmcli.model import load_model
from gmmcli.scoring import score_table


@pytest.fixture(scope="module")
def model_path(blobs_model_path):
    return blobs_model_path


@pytest.fixture(scope="module")
def awkward_csv(tmp_path_factory):
    """1,000 rows whose --keep columns would change type between blocks: an int id with a blank
    in a late block, a tag column that is numeric early and text late, a feature written as
    ints in early rows, and a blank feature value in a late block (dropped with --dropna)."""
    rng = np.random.default_rng(3)
    n = 1000
    x = rng.normal(size=n) * 3
    y = rng.normal(size=n) * 3
    x_text = [str(int(v)) if i < 500 else repr(float(v)) for i, v in enumerate(x)]
    ids = [str(i + 1) for i in range(n)]
    ids[900] = ""
    tag = [str(i) if i < 700 else f"t{i}" for i in range(n)]
    y_text = [repr(float(v)) for v in y]
    y_text[950] = ""  # dropped with --dropna
    lines = ["id,x,y,tag"] + [f"{a},{b},{c},{d}" for a, b, c, d in zip(ids, x_text, y_text, tag)]
    path = tmp_path_factory.mktemp("awk") / "awkward.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("kind", ["predict", "proba", "score"])
@pytest.mark.parametrize("fmt", ["csv", "tsv", "json"])
def test_blocks_give_the_same_bytes_as_one_pass(model_path, awkward_csv, tmp_path, kind, fmt):
    model = load_model(model_path)
    outputs = []
    for block_rows in (1_000_000, 7, 64, 333):
        out = tmp_path / f"{kind}-{block_rows}.{fmt}"
        rows = score_table(
            model,
            str(awkward_csv),
            kind,
            keep=["id", "x", "tag"],
            dropna=True,
            output=str(out),
            fmt=fmt,
            block_rows=block_rows,
        )
        assert rows == 999  # the row with a blank y is dropped; a blank id is kept (as a blank)
        outputs.append(out.read_bytes())
    assert all(o == outputs[0] for o in outputs[1:])


def test_keep_columns_are_copied_verbatim(model_path, awkward_csv, gmm):
    result = gmm("predict", model_path, awkward_csv, "--keep", "id,x,tag", "--dropna")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    source = awkward_csv.read_text().splitlines()
    assert lines[0] == "id,x,tag,label"
    assert lines[1].rsplit(",", 1)[0] == ",".join(source[1].split(",")[i] for i in (0, 1, 3))
    assert lines[-1].startswith("1000,")


def test_streamed_output_matches_the_in_memory_model(model_path):
    model = load_model(model_path)
    frame = pd.read_csv(SAMPLE / "blobs.csv")
    X = frame[["x", "y"]].to_numpy()
    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stdout", buffer)
        score_table(
            model,
            str(SAMPLE / "blobs.csv"),
            "score",
            keep=[],
            dropna=False,
            output=None,
            fmt="csv",
            block_rows=50,
        )
    got = read_csv_text(buffer.getvalue())["log_density"].to_numpy()
    np.testing.assert_array_equal(got, model.score_samples(X))


def test_error_row_numbers_count_across_blocks(model_path, tmp_path):
    rows = ["x,y"] + [f"{i},{i}" for i in range(200)]
    rows[151] = "5,"
    path = tmp_path / "late.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(Exception, match="row 151 has a missing"):
        score_table(
            load_model(model_path),
            str(path),
            "predict",
            keep=[],
            dropna=False,
            output=None,
            fmt="csv",
            block_rows=16,
        )
    rows[151] = "5,oops"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(Exception, match="row 151 holds 'oops'"):
        score_table(
            load_model(model_path),
            str(path),
            "predict",
            keep=[],
            dropna=False,
            output=None,
            fmt="csv",
            block_rows=16,
        )


def test_failure_in_a_late_block_leaves_no_output_file(model_path, tmp_path, gmm):
    rows = ["x,y"] + [f"{i},{i}" for i in range(100_000)] + ["bad,1"]
    data = tmp_path / "late.csv"
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.csv"
    result = gmm("predict", model_path, data, "-o", out)
    assert result.code == 65 and "row 100001 holds 'bad'" in result.err
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


# ----------------------------------------------------------------------------- input formats
BLOBS_TEXT = (SAMPLE / "blobs.csv").read_text()


def _reference(gmm, model_path):
    result = gmm("predict", model_path, SAMPLE / "blobs.csv", "--keep", "id")
    assert result.code == 0
    return result.out


VARIANTS = {
    "gzip-file": ("d.csv.gz", lambda t: gzip.compress(t.encode()), []),
    "gzip-without-extension": ("d.csv", lambda t: gzip.compress(t.encode()), []),
    "bz2": ("d.csv.bz2", lambda t: bz2.compress(t.encode()), []),
    "xz": ("d.csv.xz", lambda t: lzma.compress(t.encode()), []),
    "bom": ("d.csv", lambda t: b"\xef\xbb\xbf" + t.encode(), []),
    "crlf": ("d.csv", lambda t: t.replace("\n", "\r\n").encode(), []),
    "bom-crlf-gzip": (
        "d.csv.gz",
        lambda t: gzip.compress(b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode()),
        [],
    ),
    "quoted": (
        "d.csv",
        lambda t: (
            "\n".join(",".join(f'"{c}"' for c in line.split(",")) for line in t.splitlines()).encode() + b"\n"
        ),
        [],
    ),
    "tsv-by-extension": ("d.tsv", lambda t: t.replace(",", "\t").encode(), []),
    "tsv-gz-by-extension": ("d.tsv.gz", lambda t: gzip.compress(t.replace(",", "\t").encode()), []),
    "semicolon": ("d.txt", lambda t: t.replace(",", ";").encode(), ["--delimiter", ";"]),
    "tab-option": ("d.txt", lambda t: t.replace(",", "\t").encode(), ["--delimiter", "tab"]),
    "spaces-after-commas": ("d.csv", lambda t: t.replace(",", ", ").encode(), []),
    "no-trailing-newline": ("d.csv", lambda t: t.rstrip("\n").encode(), []),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_input_variants_give_the_same_result(gmm, model_path, tmp_path, variant):
    name, encode, options = VARIANTS[variant]
    path = tmp_path / name
    path.write_bytes(encode(BLOBS_TEXT))
    result = gmm("predict", model_path, path, "--keep", "id", *options)
    assert result.code == 0, result.err
    assert result.out == _reference(gmm, model_path)


@pytest.mark.parametrize("variant", ["gzip-file", "bom-crlf-gzip", "quoted", "bz2"])
def test_input_variants_on_stdin(gmm, model_path, variant):
    _, encode, options = VARIANTS[variant]
    result = gmm("predict", model_path, "-", "--keep", "id", *options, stdin=encode(BLOBS_TEXT))
    assert result.code == 0, result.err
    assert result.out == _reference(gmm, model_path)


def test_headerless_input_is_named_x0_x1(gmm, tmp_path):
    text = "\n".join(line.split(",", 1)[1] for line in BLOBS_TEXT.splitlines()[1:]) + "\n"
    model = tmp_path / "h.joblib"
    fit = gmm("fit", "-", "--no-header", "-k", "3", "--seed", "0", "-o", model, stdin=text)
    assert fit.code == 0, fit.err
    info = gmm("info", model, "--json")
    assert '"feature_names": ["x0", "x1"]' in info.out
    pred = gmm("predict", model, "-", "--no-header", "--keep", "x1", stdin=text)
    assert pred.code == 0, pred.err
    assert pred.out.splitlines()[0] == "x1,label"
    assert len(pred.out.splitlines()) == 401


def test_fit_reads_stdin_like_a_file(gmm, tmp_path):
    from_file, from_stdin = tmp_path / "a.joblib", tmp_path / "b.joblib"
    a = gmm("fit", SAMPLE / "blobs.csv", "-x", "id", "-k", "3", "--seed", "0", "-o", from_file)
    b = gmm(
        "fit",
        "-",
        "-x",
        "id",
        "-k",
        "3",
        "--seed",
        "0",
        "-o",
        from_stdin,
        stdin=gzip.compress(BLOBS_TEXT.encode()),
    )
    assert a.code == b.code == 0
    assert load_model(from_file).meta["data_fingerprint"] == load_model(from_stdin).meta["data_fingerprint"]


def test_json_output_has_null_not_nan(gmm, model_path):
    result = gmm(
        "predict", model_path, "-", "--keep", "id", "-f", "json", "--dropna", stdin="id,x,y\n,1,2\n7,3,4\n"
    )
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        '{"id": null, "label": ' + result.out.splitlines()[0].split(": ")[-1],
        '{"id": "7", "label": ' + result.out.splitlines()[1].split(": ")[-1],
    ]
    assert "NaN" not in result.out


def test_delimiter_rules():
    assert separators.delimiter_for("a.tsv", None) == "\t"
    assert separators.delimiter_for("a.tsv.gz", None) == "\t"
    assert separators.delimiter_for("a.csv", None) == ","
    assert separators.delimiter_for("-", "\\t") == "\t"
    assert separators.delimiter_for("-", "|") == "|"
