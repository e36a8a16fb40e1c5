"""The bad-input matrix: every way a user or an upstream program can hand gmmcli something wrong.

Each case is one row of ``CASES``: the arguments (with {placeholders}), optional stdin, files to
create, an optional setup hook, the expected exit code, a regex for the one-line message, and an
output path that must not exist afterwards. Every case also checks that stderr is exactly one
``error:`` line (no traceback) and that no temp file is left behind.

To add a command's cases, append rows to CASES (select's rows go here when it is merged).
A hypothesis test at the end feeds arbitrary text to ``fit`` and ``predict``.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import SAMPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DOCUMENTED_CODES = {0, 2, 3, 65, 66, 73, 74}
# 50 keeps CI fast; GMMCLI_HYPOTHESIS_EXAMPLES=2000 for a thorough local run
EXAMPLES = int(os.environ.get("GMMCLI_HYPOTHESIS_EXAMPLES", "50"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A small fitted model on blobs.csv (columns x, y), shared by the module."""
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("model") / "blobs.joblib"
    assert (
        run(
            [
                "--quiet",
                "fit",
                str(SAMPLE / "blobs.csv"),
                "-k",
                "3",
                "-x",
                "id",
                "--seed",
                "0",
                "-o",
                str(path),
            ]
        )
        == 0
    )
    return path


# ----------------------------------------------------------------------------- setup hooks
def _readonly_folder(tmp: Path, monkeypatch) -> None:
    """tmp/ro is a folder nobody may write to. Root ignores permissions, so for root the
    refusal the kernel would give is simulated where the atomic writer asks for it."""
    folder = tmp / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        import gmmcli.io.atomic

        real = gmmcli.io.atomic.tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if dir is not None and Path(dir) == folder:
                raise PermissionError(errno.EACCES, "Permission denied", str(folder))
            return real(*args, dir=dir, **kwargs)

        monkeypatch.setattr(gmmcli.io.atomic.tempfile, "mkstemp", mkstemp)


def _disk_full(tmp: Path, monkeypatch) -> None:
    """The disk fills up while the output is flushed to it (ENOSPC from fsync)."""
    import gmmcli.io.atomic

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(gmmcli.io.atomic.os, "fsync", fsync)


def _disk_full_on_write(tmp: Path, monkeypatch) -> None:
    """The disk is full at the first write into the temp file (ENOSPC from write)."""
    import gmmcli.io.atomic

    class FullFile:
        def __init__(self, fh):
            self._fh = fh

        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self._fh, name)

    real = gmmcli.io.atomic.open if hasattr(gmmcli.io.atomic, "open") else open

    def fake_open(path, mode="r", *args, **kwargs):
        fh = real(path, mode, *args, **kwargs)
        return FullFile(fh) if "w" in mode and str(path).endswith(".tmp") else fh

    monkeypatch.setattr(gmmcli.io.atomic, "open", fake_open, raising=False)


def _model_variant(kind: str) -> Callable:
    """A hook that writes a damaged or hostile model file to tmp/bad.joblib."""

    def hook(tmp: Path, monkeypatch) -> None:
        import pickle

        from gmmcli.model import load_model, save_model

        good = tmp / "good.joblib"
        from gmmcli.cli import run

        assert (
            run(
                [
                    "--quiet",
                    "fit",
                    str(SAMPLE / "blobs.csv"),
                    "-k",
                    "2",
                    "-x",
                    "id",
                    "--seed",
                    "0",
                    "-o",
                    str(good),
                ]
            )
            == 0
        )
        data = good.read_bytes()
        bad = tmp / "bad.joblib"
        if kind == "truncated":
            bad.write_bytes(data[: len(data) // 2])
        elif kind == "bitflip":
            flipped = bytearray(data)
            flipped[len(data) // 3] ^= 0x10
            bad.write_bytes(bytes(flipped))
        elif kind == "newer":
            model = load_model(good)
            d = model.to_dict()
            d["format_version"] = 99
            d["versions"] = {"gmmcli": "9.0.0"}
            from gmmcli.io.model_file import dump_sealed

            dump_sealed(d, bad)
        elif kind == "payload":
            marker = tmp / "PWNED"

            class Payload:
                def __reduce__(self):
                    return (os.system, (f"touch {marker}",))

            bad.write_bytes(pickle.dumps({"format": "gmmcli-model", "x": Payload()}, protocol=4))
        elif kind == "csv":
            bad.write_text("x,y\n1,2\n")
        elif kind == "empty":
            bad.write_bytes(b"")
        elif kind == "wrong_dict":
            import joblib

            joblib.dump({"hello": "world"}, bad)
        save_model  # noqa: B018 (imported for the reader: the hooks write what save_model would)

    return hook


@dataclass
class Case:
    id: str
    args: list
    code: int
    message: str
    stdin: str | bytes | None = None
    files: dict = field(default_factory=dict)
    setup: Callable | None = None
    out: str | None = "{tmp}/out.csv"  # must not exist after the run


BLOBS = str(SAMPLE / "blobs.csv")
XY = "x,y\n1,2\n3,4\n5,6\n7,9\n"

CASES = [
    # ---------------------------------------------------------------- input files (fit)
    Case("fit-missing-file", ["fit", "{tmp}/nope.csv", "-o", "{out}"], 66, r"nope\.csv does not exist"),
    Case("fit-input-is-directory", ["fit", "{tmp}", "-o", "{out}"], 66, r"is a directory"),
    Case("fit-empty-file", ["fit", "{tmp}/e.csv", "-o", "{out}"], 65, r"is empty", files={"e.csv": ""}),
    Case(
        "fit-header-only",
        ["fit", "{tmp}/h.csv", "-o", "{out}"],
        65,
        r"no data rows",
        files={"h.csv": "x,y\n"},
    ),
    Case("fit-empty-stdin", ["fit", "-", "-o", "{out}"], 65, r"stdin is empty", stdin=""),
    Case(
        "fit-text-column",
        ["fit", "{tmp}/t.csv", "-o", "{out}"],
        65,
        r"column 'y' is not numeric: row 2 holds 'abc'.*--exclude y",
        files={"t.csv": "x,y\n1,2\n3,abc\n"},
    ),
    Case(
        "fit-text-after-300k-numbers",
        ["fit", "{tmp}/mixed.csv", "-o", "{out}"],
        65,
        r"column 'x' is not numeric: row 300001 holds 'abc'",
        files={"mixed.csv": "x,y\n" + "".join(f"{i},{i % 7}\n" for i in range(300_000)) + "abc,1\n"},
    ),
    Case(
        "fit-missing-value",
        ["fit", "{tmp}/n.csv", "-o", "{out}"],
        65,
        r"row 2 has a missing .*--dropna",
        files={"n.csv": "x,y\n1,2\n3,\n5,6\n"},
    ),
    Case(
        "fit-infinite-value",
        ["fit", "-", "-o", "{out}"],
        65,
        r"row 1 has a missing or infinite",
        stdin="x,y\ninf,2\n3,4\n",
    ),
    Case(
        "fit-ragged-rows",
        ["fit", "{tmp}/r.csv", "-o", "{out}"],
        65,
        r"cannot parse .*: expected 2 fields in line 3, saw 3",
        files={"r.csv": "x,y\n1,2\n3,4,5\n"},
    ),
    Case(
        "fit-unterminated-quote",
        ["fit", "-", "-o", "{out}"],
        65,
        r"cannot parse stdin",
        stdin='x,y\n1,"2\n3,4\n',
    ),
    Case(
        "fit-not-utf8",
        ["fit", "{tmp}/l.csv", "-o", "{out}"],
        65,
        r"not UTF-8",
        files={"l.csv": "x,caf\xe9\n1,2\n".encode("latin-1")},
    ),
    Case(
        "fit-truncated-gzip",
        ["fit", "{tmp}/d.csv.gz", "-o", "{out}"],
        65,
        r"ends early",
        files={"d.csv.gz": gzip.compress(XY.encode() * 50)[:30]},
    ),
    Case(
        "fit-corrupt-gzip",
        ["fit", "{tmp}/c.csv.gz", "-o", "{out}"],
        65,
        r"cannot parse",
        files={"c.csv.gz": b"\x1f\x8b\x08\x00" + b"\x00garbage-not-deflate" * 5},
    ),
    Case(
        "fit-too-few-rows",
        ["fit", "-", "-k", "5", "-o", "{out}"],
        65,
        r"4 rows cannot fit 5 components",
        stdin=XY,
    ),
    Case(
        "fit-huge-values",
        ["fit", "-", "-k", "2", "-o", "{out}"],
        65,
        r"row 1 has a value too large to model in column .x.",
        stdin="x,y\n1e300,2\n3,4\n5,6\n1,1\n",
    ),
    # ---------------------------------------------------------------- options (fit)
    Case("fit-unknown-column", ["fit", BLOBS, "--columns", "x,zz", "-o", "{out}"], 2, r"unknown column 'zz'"),
    Case(
        "fit-exclude-everything", ["fit", BLOBS, "--exclude", "id,x,y", "-o", "{out}"], 2, r"no columns left"
    ),
    Case("fit-zero-components", ["fit", BLOBS, "-k", "0", "-o", "{out}"], 2, r"-k must be at least 1"),
    Case(
        "fit-k-not-a-number",
        ["fit", BLOBS, "-k", "many", "-o", "{out}"],
        2,
        r"Invalid value for '--n-components' / '-k'.*valid int(eger)?",
    ),
    Case(
        "fit-bad-covariance-type",
        ["fit", BLOBS, "-t", "round", "-o", "{out}"],
        2,
        r"unknown covariance type 'round'",
    ),
    Case("fit-zero-max-iter", ["fit", BLOBS, "--max-iter", "0", "-o", "{out}"], 2, r"--max-iter"),
    Case("fit-negative-tol", ["fit", BLOBS, "--tol", "-1", "-o", "{out}"], 2, r"must not be negative"),
    Case(
        "fit-seed-out-of-range",
        ["fit", BLOBS, "--seed", "-1", "-o", "{out}"],
        2,
        r"--seed must be between 0 and 4294967295",
    ),
    Case("fit-tol-nan", ["fit", BLOBS, "--tol", "nan", "-o", "{out}"], 2, r"must be finite"),
    Case(
        "fit-absurd-components",
        ["fit", BLOBS, "-x", "id", "-k", "99999999999999999999", "-o", "{out}"],
        65,
        r"400 rows cannot fit 99999999999999999999 components",
    ),
    Case("fit-bad-init", ["fit", BLOBS, "--init", "magic", "-o", "{out}"], 2, r"unknown --init 'magic'"),
    Case(
        "fit-bad-delimiter",
        ["fit", BLOBS, "-d", "::", "-o", "{out}"],
        2,
        r"--delimiter must be one character",
    ),
    Case(
        "fit-max-memory-exceeded",
        ["fit", BLOBS, "-x", "id", "-k", "3", "--max-memory", "1K", "-o", "{out}"],
        65,
        r"needs about .* of memory but --max-memory is 1K .*fewer components",
    ),
    Case(
        "fit-max-memory-garbage",
        ["fit", BLOBS, "--max-memory", "lots", "-o", "{out}"],
        2,
        r"--max-memory must be a size",
    ),
    Case(
        "fit-strict-not-converged",
        ["fit", BLOBS, "-x", "id", "-k", "4", "--max-iter", "1", "--tol", "0", "--strict", "-o", "{out}"],
        3,
        r"did not converge",
    ),
    Case("fit-model-to-stdout", ["fit", BLOBS, "-o", "-"], 2, r"give -o a file name", out=None),
    Case("fit-no-output-option", ["fit", BLOBS], 2, r"Missing option '--output'", out=None),
    Case("fit-unknown-option", ["fit", BLOBS, "--colour", "-o", "{out}"], 2, r"No such option: --colour"),
    Case("unknown-command", ["fitt", BLOBS], 2, r"No such command 'fitt'", out=None),
    # ---------------------------------------------------------------- models (predict, proba, score, info)
    Case(
        "predict-model-missing",
        ["predict", "{tmp}/nope.joblib", BLOBS, "-o", "{out}"],
        66,
        r"model file .*nope\.joblib does not exist",
    ),
    Case("predict-model-is-directory", ["predict", "{tmp}", BLOBS, "-o", "{out}"], 66, r"is a directory"),
    Case(
        "predict-model-is-csv",
        ["predict", "{tmp}/bad.joblib", BLOBS, "-o", "{out}"],
        65,
        r"not a gmmcli model",
        setup=_model_variant("csv"),
    ),
    Case(
        "predict-model-empty",
        ["predict", "{tmp}/bad.joblib", BLOBS, "-o", "{out}"],
        65,
        r"not a gmmcli model",
        setup=_model_variant("empty"),
    ),
    Case(
        "predict-model-truncated",
        ["predict", "{tmp}/bad.joblib", BLOBS, "-o", "{out}"],
        65,
        r"truncated|corrupt",
        setup=_model_variant("truncated"),
    ),
    Case(
        "proba-model-bit-flipped",
        ["proba", "{tmp}/bad.joblib", BLOBS, "-o", "{out}"],
        65,
        r"corrupt",
        setup=_model_variant("bitflip"),
    ),
    Case(
        "score-model-from-newer-gmmcli",
        ["score", "{tmp}/bad.joblib", BLOBS, "-o", "{out}"],
        65,
        r"made by gmmcli 9\.0\.0 .*upgrade gmmcli",
        setup=_model_variant("newer"),
    ),
    Case(
        "predict-model-with-payload",
        ["predict", "{tmp}/bad.joblib", BLOBS, "-o", "{out}"],
        65,
        r"refusing to load posix\.system",
        setup=_model_variant("payload"),
    ),
    Case(
        "predict-model-other-joblib",
        ["predict", "{tmp}/bad.joblib", BLOBS, "-o", "{out}"],
        65,
        r"not a gmmcli model",
        setup=_model_variant("wrong_dict"),
    ),
    Case("info-model-missing", ["info", "{tmp}/nope.joblib"], 66, r"does not exist", out=None),
    Case(
        "info-model-with-payload",
        ["info", "{tmp}/bad.joblib", "--json"],
        65,
        r"refusing",
        setup=_model_variant("payload"),
        out=None,
    ),
    # ---------------------------------------------------------------- data vs model, options (scoring)
    Case(
        "predict-column-missing",
        ["predict", "{model}", "-", "-o", "{out}"],
        65,
        r"no column 'y', which the model needs",
        stdin="x,z\n1,2\n",
    ),
    Case(
        "predict-headerless-without-names",
        ["predict", "{model}", "-", "--no-header", "-o", "{out}"],
        65,
        r"no column 'x'",
        stdin="1,2\n3,4\n",
    ),
    Case(
        "predict-keep-unknown",
        ["predict", "{model}", BLOBS, "--keep", "name", "-o", "{out}"],
        2,
        r"--keep names unknown column 'name'",
    ),
    Case(
        "predict-keep-clashes",
        ["predict", "{model}", BLOBS, "--keep", "label", "-o", "{out}"],
        2,
        r"name of an output column",
    ),
    Case(
        "proba-bad-format",
        ["proba", "{model}", BLOBS, "-f", "xml", "-o", "{out}"],
        2,
        r"unknown format 'xml'",
    ),
    Case(
        "score-nan-in-stdin",
        ["score", "{model}", "-", "-o", "{out}"],
        65,
        r"row 3 has a missing",
        stdin="x,y\n1,2\n3,4\nnan,1\n",
    ),
    Case(
        "predict-text-in-data",
        ["predict", "{model}", "-", "-o", "{out}"],
        65,
        r"column 'x' is not numeric",
        stdin="x,y\none,2\n",
    ),
    Case(
        "predict-data-missing", ["predict", "{model}", "{tmp}/nope.csv", "-o", "{out}"], 66, r"does not exist"
    ),
    # ---------------------------------------------------------------- output paths
    Case(
        "predict-output-folder-missing",
        ["predict", "{model}", BLOBS, "-o", "{tmp}/no/such/out.csv"],
        73,
        r"folder .* does not exist",
        out="{tmp}/no/such/out.csv",
    ),
    Case(
        "predict-output-is-directory",
        ["predict", "{model}", BLOBS, "-o", "{tmp}"],
        73,
        r"it is a directory",
        out=None,
    ),
    Case(
        "predict-output-folder-unwritable",
        ["predict", "{model}", BLOBS, "-o", "{tmp}/ro/out.csv"],
        73,
        r"Permission denied",
        setup=_readonly_folder,
        out="{tmp}/ro/out.csv",
    ),
    Case(
        "fit-output-folder-unwritable",
        ["fit", BLOBS, "-x", "id", "-o", "{tmp}/ro/m.joblib"],
        73,
        r"Permission denied",
        setup=_readonly_folder,
        out="{tmp}/ro/m.joblib",
    ),
    Case(
        "predict-disk-full-on-flush",
        ["predict", "{model}", BLOBS, "-o", "{out}"],
        74,
        r"writing .*out\.csv failed: No space left",
        setup=_disk_full,
    ),
    Case(
        "fit-disk-full-on-flush",
        ["fit", BLOBS, "-x", "id", "-o", "{tmp}/m.joblib"],
        74,
        r"No space left on device",
        setup=_disk_full,
        out="{tmp}/m.joblib",
    ),
    Case(
        "proba-disk-full-on-write",
        ["proba", "{model}", BLOBS, "-o", "{out}"],
        74,
        r"No space left on device",
        setup=_disk_full_on_write,
    ),
    Case(
        "predict-to-dev-full",
        ["predict", "{model}", BLOBS, "-o", "/dev/full"],
        74,
        r"writing /dev/full failed: No space left",
        out=None,
    ),
    # ------------------------------------------- sample, plot, digits-demo (merged from generative)
    Case("sample-zero-rows", ["sample", "{model}", "-n", "0", "-o", "{out}"], 2, r"-n must be at least 1"),
    Case(
        "sample-bad-format",
        ["sample", "{model}", "-n", "5", "-f", "xml", "-o", "{out}"],
        2,
        r"unknown format 'xml'",
    ),
    Case(
        "sample-model-with-payload",
        ["sample", "{tmp}/bad.joblib", "-n", "5", "-o", "{out}"],
        65,
        r"refusing",
        setup=_model_variant("payload"),
    ),
    Case(
        "sample-to-dev-full",
        ["sample", "{model}", "-n", "50000", "-o", "/dev/full"],
        74,
        r"No space left on device",
        out=None,
    ),
    Case(
        "sample-disk-full-on-flush",
        ["sample", "{model}", "-n", "5", "-o", "{out}"],
        74,
        r"No space left",
        setup=_disk_full,
    ),
    Case(
        "plot-unknown-axis-column",
        ["plot", "{model}", BLOBS, "--x", "nope", "-o", "{tmp}/p.png"],
        2,
        r"unknown --x column 'nope'",
        out="{tmp}/p.png",
    ),
    Case(
        "plot-data-missing",
        ["plot", "{model}", "{tmp}/nope.csv", "-o", "{tmp}/p.png"],
        66,
        r"does not exist",
        out="{tmp}/p.png",
    ),
    Case(
        "plot-bit-flipped-model",
        ["plot", "{tmp}/bad.joblib", BLOBS, "-o", "{tmp}/p.png"],
        65,
        r"corrupt",
        setup=_model_variant("bitflip"),
        out="{tmp}/p.png",
    ),
    Case(
        "plot-output-folder-missing",
        ["plot", "{model}", BLOBS, "-o", "{tmp}/no/p.png"],
        73,
        r"does not exist",
        out="{tmp}/no/p.png",
    ),
    Case(
        "plot-disk-full",
        ["plot", "{model}", BLOBS, "-o", "{tmp}/p.png"],
        74,
        r"No space left",
        setup=_disk_full,
        out="{tmp}/p.png",
    ),
    Case(
        "digits-demo-zero-components",
        ["digits-demo", "-k", "0", "--out-dir", "{tmp}/dd"],
        2,
        r"-k must be at least 1",
        out="{tmp}/dd",
    ),
    Case(
        "digits-demo-out-dir-is-a-file",
        ["digits-demo", "--out-dir", "{tmp}/f.txt"],
        73,
        r"it is a file",
        files={"f.txt": "x"},
        out=None,
    ),
]


def _fill(value: str, tmp: Path, model: Path) -> str:
    return (
        value.replace("{tmp}", str(tmp)).replace("{out}", str(tmp / "out.csv")).replace("{model}", str(model))
    )


def test_matrix_is_big_and_distinct():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, gmm, tmp_path, model_file, monkeypatch):
    for name, content in case.files.items():
        target = tmp_path / name
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    if case.setup:
        case.setup(tmp_path, monkeypatch)
    before = {p.name for p in tmp_path.rglob("*")}
    args = [_fill(str(a), tmp_path, model_file) for a in case.args]

    result = gmm(*args, stdin=case.stdin)

    assert result.code == case.code, result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {result.err!r}"
    assert lines[0].startswith("error: ")
    assert re.search(case.message, lines[0]), lines[0]
    assert "Traceback" not in result.err
    if case.out:
        assert not Path(_fill(case.out, tmp_path, model_file)).exists()
    leftovers = [
        p.name
        for p in tmp_path.rglob("*")
        if p.name.endswith(".tmp") or (p.name not in before and p.name != "PWNED")
    ]
    assert not leftovers, leftovers
    assert not (tmp_path / "PWNED").exists(), "a model file ran code"


def test_no_traceback_under_verbose_only(gmm, tmp_path):
    """--verbose is the one way to see the traceback, for bug reports."""
    plain = gmm("fit", tmp_path / "nope.csv", "-o", tmp_path / "m.joblib")
    verbose = gmm("--verbose", "fit", tmp_path / "nope.csv", "-o", tmp_path / "m.joblib")
    assert "Traceback" not in plain.err and "Traceback" in verbose.err
    assert plain.code == verbose.code == 66
    assert verbose.err.rstrip().splitlines()[-1] == plain.err.strip()


# ----------------------------------------------------------------------------- property-based
_cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "nan", "NA", "inf", "-", "1e999", "0x10", " 3", '"4"', "a,b", '"', "\r", "é"]),
    st.text(max_size=4),
)
_csvish = st.lists(st.lists(_cell, min_size=1, max_size=4), min_size=0, max_size=12).map(
    lambda rows: "\n".join(",".join(r) for r in rows)
)
_any_text = st.one_of(
    st.text(max_size=200), _csvish, st.binary(max_size=64).map(lambda b: b.decode("latin-1"))
)


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_any_text)
def test_any_text_to_fit_is_success_or_clean_error(gmm, tmp_path, text):
    out = tmp_path / "h.joblib"
    result = gmm("fit", "-", "-k", "2", "--seed", "0", "-o", out, stdin=_bytes(text))
    assert result.code in DOCUMENTED_CODES, result.err
    assert "Traceback" not in result.err
    if result.code:
        assert result.err.startswith("error: ") and len(result.err.splitlines()) == 1, result.err
        assert not out.exists()
    else:
        assert out.exists()
        out.unlink()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_any_text)
def test_any_text_to_predict_is_success_or_clean_error(gmm, model_file, text):
    result = gmm(
        "predict",
        model_file,
        "-",
        "--keep",
        "x",
        stdin=_bytes("x,y\n" + text) if text[:1] != "x" else _bytes(text),
    )
    assert result.code in DOCUMENTED_CODES, result.err
    assert "Traceback" not in result.err
    if result.code:
        assert result.err.startswith("error: ") and len(result.err.splitlines()) == 1, result.err
    else:
        assert result.out.startswith("x,label\n")


# --- the foundation's fit cases (merged from test_errors.py) -------------------------------------

FOUNDATION_CASES = {
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


@pytest.mark.parametrize("name", FOUNDATION_CASES)
def test_fit_bad_input(gmm, tmp_path, name):
    content, extra, code, message = FOUNDATION_CASES[name]
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
