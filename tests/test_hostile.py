"""Hostile inputs, round two (issues 16 and 19): what a hostile model file, data file or command
line can make gmmcli do. Every case ends as README promises: a documented exit code (never 1),
one ``error:`` line, nothing raw reaching the terminal, no partial output, inputs intact.

Matrices, in-process (``gmm``) unless a process is needed; the few slow cases are marked.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE, gmm_process

from gmmcli.io.model_file import dump_sealed, load_plain

DOCUMENTED = {0, 2, 3, 65, 66, 73, 74}
BLOBS = (SAMPLE / "blobs.csv").read_text()

HOSTILE_TEXTS = {
    "clear-screen": "\x1b[2J",
    "title": "\x1b]0;pwned\x07",
    "blink": "\x1b[5mblink\x1b[0m",
    "c1-csi": "\x9b31mred",
    "close-tag": "[/]",
    "style": "[red]x[/red]",
    "link": "[link=http://x]click[/link]",
    "newline": "a\nerror: forged",
    "carriage-return": "ok\rFAKE",
    "rtl-override": "\u202eevil",
    "nul": "a\x00b",
    "tab-and-bell": "a\tb\x07",
    "mathtext": "$\\frac{$",
    "long": "w" * 100_000,
    "empty": "",
}


def _raw_controls(text: str) -> list[str]:
    """Characters that act on a terminal: C0 (but newline and tab), DEL, C1, bidi overrides."""
    return [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 or c == "\u202e"]


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("hostile") / "good.joblib"
    assert (
        run(["-q", "fit", str(SAMPLE / "blobs.csv"), "-k", "2", "-x", "id", "--seed", "0", "-o", str(path)])
        == 0
    )
    return path


def _edited(good: Path, tmp_path: Path, name: str = "m.joblib", **changes) -> Path:
    data = load_plain(good)
    for key, value in changes.items():
        data[key] = value
    path = tmp_path / name
    seal_unchecked(data, path)
    return path


def seal_unchecked(data, path: Path) -> None:
    """What dump_sealed writes, without its checks: how a hostile (validly sealed) file is made."""
    import hashlib
    import io

    import joblib

    buffer = io.BytesIO()
    joblib.dump(data, buffer, compress=0)
    body = buffer.getvalue()
    path.write_bytes(body + b"#gmmcli-sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n")


def _every_string(value, text):
    """``value`` with every string in it (keys kept) replaced by ``text``."""
    if isinstance(value, str):
        return text
    if isinstance(value, dict):
        return {k: _every_string(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_every_string(v, text) for v in value]
    return value


def _one_error_line(err: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err[:500]
    assert "internal error" not in err and "Traceback" not in err


# --- 1. terminal and markup injection from a model file --------------------------------------


@pytest.mark.parametrize("label", list(HOSTILE_TEXTS))
def test_info_shows_hostile_metadata_as_text(gmm, good, tmp_path, label):
    """Every string field of the model (versions, created, fingerprint, fit settings, feature
    names) holds the hostile text: info's table is text, --json is exact JSON."""
    text = HOSTILE_TEXTS[label]
    data = load_plain(good)
    names = [f"{text}{i}" for i in range(2)]  # unique even when text is empty
    meta = {
        k: _every_string(v, text) for k, v in data.items() if k in ("versions", "created", "data_fingerprint")
    }
    settings = {k: (text if isinstance(v, str) else v) for k, v in data["fit_settings"].items()}
    path = _edited(good, tmp_path, feature_names=names, fit_settings=settings, note=text, **meta)
    table = gmm("info", path)
    assert table.code == 0, table.err
    assert not _raw_controls(table.out), label
    assert "\x1b" not in table.out and "MarkupError" not in table.err
    if label in ("close-tag", "style", "link"):
        assert text in table.out  # shown, not rendered as a style
    as_json = gmm("info", path, "--json")
    assert as_json.code == 0
    parsed = json.loads(as_json.out)
    assert parsed["feature_names"] == names and parsed["note"] == text
    assert not _raw_controls(as_json.out)


@pytest.mark.parametrize(
    "label", ["clear-screen", "title", "close-tag", "newline", "rtl-override", "mathtext"]
)
@pytest.mark.parametrize("command", ["predict", "score", "plot", "sample"])
def test_hostile_feature_names_in_every_command(gmm, good, tmp_path, label, command):
    """Feature names reach messages (a missing column), output headers and plot labels."""
    text = HOSTILE_TEXTS[label]
    names = [f"{text}a", f"{text}b"]
    path = _edited(good, tmp_path, feature_names=names)
    if command == "sample":
        r = gmm("sample", path, "-n", "2", "--seed", "0", "--format", "json")
        assert r.code == 0, r.err
        assert list(json.loads(r.out.splitlines()[0])) == names  # data: exact, as JSON escapes it
        return
    args = {
        "predict": ["predict", path, SAMPLE / "blobs.csv"],
        "score": ["score", path, SAMPLE / "blobs.csv"],
    }
    args["plot"] = ["plot", path, SAMPLE / "blobs.csv", "-o", tmp_path / "p.png"]
    r = gmm(*args[command])
    assert r.code == 65  # blobs.csv has no such columns
    _one_error_line(r.err)
    assert not _raw_controls(r.err)
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("label", ["mathtext", "close-tag", "clear-screen", "long"])
def test_plot_draws_hostile_names_and_titles_as_text(gmm, good, tmp_path, label):
    text = HOSTILE_TEXTS[label][:200]
    path = _edited(good, tmp_path, feature_names=[f"{text}x", f"{text}y"])
    data = tmp_path / "d.csv"
    data.write_text(
        "\n".join(["id," + f"{text}x,{text}y".replace("\n", " ")] + BLOBS.splitlines()[1:]) + "\n"
    )
    if "\n" in text:
        pytest.skip("a header with a newline is not a CSV header")
    r = gmm("-q", "plot", path, data, "-o", tmp_path / "p.png", "--title", text)
    assert r.code == 0, r.err
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info_with_escapes_in_every_string_prints_no_control_byte(tmp_path, good):
    """The issue's "must show": a process's real stdout, bytes below 0x20 only \\n and \\t."""
    data = load_plain(good)
    evil = "\x1b[2J\x1b]0;t\x07\x1b[5m[/]\r\x00\x08"
    data = {
        k: (_every_string(v, evil) if k not in ("format", "covariance_type", "model") else v)
        for k, v in data.items()
    }
    data["feature_names"] = [evil + "1", evil + "2"]
    path = tmp_path / "evil.joblib"
    dump_sealed(data, path)
    proc = subprocess.run(
        [sys.executable, "-m", "gmmcli", "info", str(path)], capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert not [b for b in proc.stdout if b < 0x20 and b not in (0x0A, 0x09)]
    assert b"\\x1b[2J" in proc.stdout  # shown escaped


def test_info_json_has_null_for_nan_and_infinity(gmm, good, tmp_path):
    path = _edited(good, tmp_path, aic=float("nan"), bic=float("inf"), extra={"v": float("-inf")})
    r = gmm("info", path, "--json")
    assert r.code == 0
    parsed = json.loads(r.out)  # strict: json.loads accepts NaN, so check the text as well
    assert "NaN" not in r.out and "Infinity" not in r.out
    assert parsed["aic"] is None and parsed["bic"] is None and parsed["extra"] == {"v": None}


# --- hostile model files ----------------------------------------------------------------------


def _negated_diagonal(good):
    pc = load_plain(good)["precisions_cholesky"].copy()
    pc[0, 0, 0] = -pc[0, 0, 0]
    return {"precisions_cholesky": pc}


MODEL_CASES = {
    "format-version-5000-digits": lambda good: {"format_version": 10**5000},
    "n-iter-5000-digits": lambda good: {"n_iter": 10**5000},
    "seed-5000-digits": lambda good: {
        "fit_settings": {**load_plain(good)["fit_settings"], "seed": -(10**5000)}
    },
    "precision-sign-flipped": _negated_diagonal,
    "precision-scaled": lambda good: {"precisions_cholesky": load_plain(good)["precisions_cholesky"] * 1.01},
    "nan-means": lambda good: {"means": np.full((2, 2), np.nan)},
    "negative-weights": lambda good: {"weights": np.array([1.5, -0.5])},
    "not-positive-definite": lambda good: {"covariances": -load_plain(good)["covariances"]},
    "mismatched-shapes": lambda good: {"means": np.zeros((3, 2))},
    "deep-nesting": lambda good: {"versions": _nested(60)},
    "too-deep": lambda good: {"versions": _nested(70)},
    "huge-declared-shape": lambda good: {"weights": np.zeros(0)},
    "feature-names-not-text": lambda good: {"feature_names": [1, 2]},
}


def _nested(depth):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return {"nest": value}


@pytest.mark.parametrize("case", list(MODEL_CASES))
@pytest.mark.parametrize("command", ["info", "predict", "sample"])
def test_hostile_model_files_are_damaged_models(gmm, good, tmp_path, case, command):
    path = _edited(good, tmp_path, **MODEL_CASES[case](good))
    args = {
        "info": ["info", path, "--json"],
        "predict": ["predict", path, SAMPLE / "blobs.csv"],
        "sample": ["sample", path, "-n", "2"],
    }[command]
    r = gmm(*args)
    if case == "deep-nesting":  # 60 levels is within the reader's limit: a valid model
        assert r.code == 0, r.err
        return
    assert r.code == 65, (case, r.err)
    _one_error_line(r.err)
    assert r.out == ""


def test_a_model_declaring_a_huge_array_is_refused_before_allocating(tmp_path, good):
    """A record claiming 2**40 elements (the bytes are not there): refused, nothing allocated."""
    raw = good.read_bytes()[:-80]  # unsealed
    from gmmcli.io import model_file

    assert model_file._MAX_ELEMENTS < 2**40
    path = tmp_path / "huge.joblib"
    path.write_bytes(raw.replace(b"K\x02\x85", b"J\x00\x00\x00\x40\x85", 1))
    code = (
        "import sys\nfrom gmmcli.cli import run\n"
        f"rc = run(['info', {str(path)!r}])\n"
        "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(peak, rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    peak_kb, rc = proc.stdout.split()[-2:]
    assert rc == "65" and int(peak_kb) < 200_000, proc.stderr  # 2**40 floats would be 8 TB


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_model_file_that_is_not_a_regular_file_is_refused_without_waiting(gmm, tmp_path, kind):
    path = {"fifo": tmp_path / "m.joblib", "device": Path("/dev/zero"), "directory": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    started = time.monotonic()
    r = gmm("info", path)
    assert r.code == 66 and time.monotonic() - started < 5
    _one_error_line(r.err)


def test_model_bytes_do_not_depend_on_jobs(tmp_path, monkeypatch):
    from gmmcli.cli import run

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    files = []
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}.joblib"
        args = ["-q", "fit", str(SAMPLE / "blobs.csv"), "-x", "id", "-k", "3", "--n-init", "4", "--seed", "0"]
        assert run([*args, "--jobs", jobs, "-o", str(out)]) == 0
        files.append(out.read_bytes())
    assert files[0] == files[1]


# --- 3. an output over its own input ----------------------------------------------------------


def _same_file_paths(tmp_path: Path, original: Path) -> dict[str, Path]:
    """Names for the file ``original``: itself, a relative path, a symlink, a hard link."""
    link = tmp_path / "link"
    link.symlink_to(original)
    hard = tmp_path / "hard"
    os.link(original, hard)
    return {"same": original, "relative": Path(os.path.relpath(original)), "symlink": link, "hardlink": hard}


CLOBBER = {
    "predict-data": (["predict", "{model}", "{data}", "-o", "{out}"], "data"),
    "proba-data": (["proba", "{model}", "{data}", "-o", "{out}"], "data"),
    "score-model": (["score", "{model}", "{data}", "-o", "{out}"], "model"),
    "sample-model": (["sample", "{model}", "-n", "3", "-o", "{out}"], "model"),
    "fit-data": (["fit", "{data}", "-x", "id", "-o", "{out}"], "data"),
    "select-model": (["select", "{data}", "-x", "id", "-k", "1-2", "-o", "{out}"], "data"),
    "select-plot": (["select", "{data}", "-x", "id", "-k", "1-2", "--plot", "{out}"], "data"),
    "plot-model": (["plot", "{model}", "{data}", "-o", "{out}"], "model"),
}


@pytest.mark.parametrize("how", ["same", "relative", "symlink", "hardlink"])
@pytest.mark.parametrize("case", list(CLOBBER))
def test_output_that_is_an_input_is_refused_before_reading(gmm, good, tmp_path, monkeypatch, case, how):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data.csv"
    data.write_text(BLOBS)
    model = tmp_path / "model.joblib"
    model.write_bytes(good.read_bytes())
    args, victim = CLOBBER[case]
    target = data if victim == "data" else model
    before = target.read_bytes()
    out = _same_file_paths(tmp_path, target)[how]
    r = gmm(*[a.format(model=model, data=data, out=out) for a in args])
    assert r.code == 2, r.err
    _one_error_line(r.err)
    assert "would be overwritten" in r.err
    assert target.read_bytes() == before and r.out == ""


# --- 4. a pathological line, in bounded memory ------------------------------------------------

WIDE_ROW = "x,y\n" + ",".join(["1"] * 500_000) + "\n1,2\n"
EXTRA_FIELD = "x,y\n" + "".join(f"{i},{i * 0.1:.2f},{i * 0.7 % 3:.2f}\n" for i in range(40))
LONG_LINE = "x,y\n" + "1" * (5 << 20) + "\n"


def _compressed(text: str, how: str) -> bytes:
    data = text.encode()
    return {"plain": bytes, "gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[how](data)


@pytest.mark.parametrize("how", ["plain", "gz", "bz2", "xz"])
@pytest.mark.parametrize(
    "text, message",
    [
        (WIDE_ROW, r"expected 2 fields in line 2, saw 500,000"),
        (EXTRA_FIELD, r"expected 2 fields in line 2, saw 3"),
        (LONG_LINE, r"line 2 is longer than 4 MiB"),
        (
            "x,y\n" + "1,2\n" * 600_000 + "3,4,5\n",
            r"expected 2 fields in line 600,002, saw 3",
        ),  # pandas' path
    ],
    ids=["500k-fields", "extra-field-every-row", "5MiB-line", "late-wide-row-past-read-ahead"],
)
@pytest.mark.parametrize("command", ["predict", "fit"])
def test_lines_beyond_the_limits_are_refused_naming_line_and_counts(
    gmm, good, tmp_path, how, text, message, command
):
    path = tmp_path / f"d.csv.{how}"
    path.write_bytes(_compressed(text, how))
    out = tmp_path / "out"
    args = ["predict", good, path, "-o", out] if command == "predict" else ["fit", path, "-o", out]
    r = gmm(*args)
    assert r.code == 65, r.err
    _one_error_line(r.err)
    assert re.search(message, r.err), r.err
    assert not out.exists()


def test_extra_field_in_quoted_input_is_refused_too(gmm, good):
    r = gmm("predict", good, "-", stdin='"x","y"\n0,2.3,4.3\n1,0.4,5.1\n')
    assert r.code == 65 and "more fields than the header" in r.err


@pytest.mark.parametrize(
    "text",
    [WIDE_ROW, "x,y\n" + "1" * (6 << 20)],
    ids=["500k-fields", "endless-line"],
)
def test_pathological_lines_use_bounded_memory_and_time(tmp_path, good, text):
    path = tmp_path / "d.csv"
    path.write_text(text)
    code = (
        "import resource, sys\nfrom gmmcli.cli import run\n"
        f"rc = run(['predict', {str(good)!r}, {str(path)!r}])\n"
        # VmHWM, not ru_maxrss: that starts at the RSS of the pytest process this was forked from
        "peak = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(peak, rc, file=sys.stderr)\n"
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    peak_kb, rc = proc.stderr.strip().splitlines()[-1].split()
    assert rc == "65" and int(peak_kb) < 300_000, proc.stderr  # was 1.4 GB and 60 s
    assert time.monotonic() - started < 20


def test_dev_zero_as_data_is_refused_in_bounded_memory(good):
    r = gmm_process("predict", good, "/dev/zero")
    assert r.code == 65 and "longer than 4 MiB" in r.err


# --- issue 19: silent misreads ----------------------------------------------------------------


def test_keep_copies_bytes_verbatim_on_both_readers(gmm, good, tmp_path):
    text = "id,x,y\nNA,0.1,0.2\nnan,0.3,0.1\nNULL,1.5,0.2\n  DE,0.5,0.5\n,1,1\n"
    small = tmp_path / "small.csv"
    small.write_text(text)
    big = tmp_path / "big.csv"  # past the plain reader's 4 MiB: pandas reads it
    big.write_text(text + ("A" * 1000 + ",1,1\n") * 4400)  # long rows, not many: JSON costs per row
    assert big.stat().st_size > 4 << 20
    for path in (small, big):
        r = gmm("predict", good, path, "--keep", "id")
        assert r.code == 0, r.err
        assert [line.rsplit(",", 1)[0] for line in r.out.splitlines()[:6]] == [
            "id",
            "NA",
            "nan",
            "NULL",
            "  DE",
            "",
        ]
        j = gmm("predict", good, path, "--keep", "id", "--format", "json")
        assert [json.loads(line)["id"] for line in j.out.splitlines()[:5]] == [
            "NA",
            "nan",
            "NULL",
            "  DE",
            None,
        ]


def test_kept_feature_with_spaces_is_verbatim_and_still_scored(gmm, good):
    r = gmm("predict", good, "-", "--keep", "x", stdin="x, y\n 1.5, 2\n2,  3\n")
    plain = gmm("predict", good, "-", stdin="x,y\n1.5,2\n2,3\n")
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:] == [f" 1.5,{plain.out.splitlines()[1]}", f"2,{plain.out.splitlines()[2]}"]


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_true_false_columns_are_refused_not_fitted_as_one_and_zero(gmm, good, tmp_path, command):
    text = "x,y\n" + "".join(f"{i * 0.1},{'True' if i % 2 else 'False'}\n" for i in range(20))
    args = ["fit", "-", "-o", tmp_path / "m.joblib"] if command == "fit" else ["predict", good, "-"]
    r = gmm(*args, stdin=text)
    assert r.code == 65
    _one_error_line(r.err)
    assert "column 'y' holds True/False values" in r.err


# --- the red-team matrix: hostile data and options, each ending with a documented code --------

XY = "".join(f"{i * 0.37 % 5:.3f},{i * 0.71 % 3:.3f}\n" for i in range(30))
RED_TEAM_DATA = {
    # column names
    "duplicate-names": ("x,x\n" + XY, 0),
    "empty-name": (",y\n" + XY, 0),
    "unicode-names": ("größe,ñ\n" + XY, 0),
    "rtl-name": ("\u202ex,y\n" + XY, 0),
    "quoted-newline-name": ('"x\ny",z\n' + XY, 0),
    "quotes-in-name": ('"x""q",y\n' + XY, 0),
    "100kB-name": ("n" * 100_000 + ",y\n" + XY, 0),
    "bom-and-crlf": ("\ufeffx,y\r\n" + XY.replace("\n", "\r\n"), 0),
    "mixed-line-endings": ("x,y\r\n" + XY.replace("\n", "\r", 3), 65),
    "nul-byte-in-field": ("x,y\n1,\x002\n" + XY, 65),
    "nul-bytes-only": ("\x00" * 5000, 65),
    "header-only": ("x,y\n", 65),
    "empty": ("", 65),
    "blank-lines-only": ("\n\n\n", 65),
    # numbers
    "1e308": ("x,y\n1e308,1\n" + XY, 65),
    "subnormal": ("x,y\n5e-324,1\n" + XY, 0),
    "negative-zero": ("x,y\n-0,1\n-0.0,2\n" + XY, 0),
    "hex": ("x,y\n0x10,1\n" + XY, 65),
    "underscores": ("x,y\n1_000,1\n" + XY, 65),
    "plus-inf": ("x,y\n+inf,1\n" + XY, 65),
    "NA-and-null": ("x,y\nNA,1\nnull,2\n" + XY, 65),
    "decimal-commas": ('x,y\n"1,5","2,5"\n' + XY, 65),
    "decimal-commas-semicolon": ("x;y\n1,5;2,5\n3,1;4,2\n1,1;1,2\n", 65),
    "bool-column": ("x,y\nTrue,1\nFalse,2\nTrue,3\n", 65),
    "20-digit-integers": ("x,y\n12345678901234567890,1\n" + XY, 0),
    "one-column-with-text": ("x,y\nabc,1\n" + XY, 65),
    "unterminated-quote": ('x,y\n"1,2\n' + XY, 65),
    "binary-garbage": (bytes(range(256)) * 40, 65),
    "latin1": ("x,y\n\xe9,1\n".encode("latin-1") + XY.encode(), 65),
}


@pytest.mark.parametrize("case", list(RED_TEAM_DATA))
@pytest.mark.parametrize("command", ["fit", "predict"])
def test_red_team_data(gmm, good, tmp_path, case, command):
    text, fit_code = RED_TEAM_DATA[case]
    data = text if isinstance(text, bytes) else text.encode()
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    out = tmp_path / "out"
    if command == "fit":
        r = gmm("fit", path, "-k", "1", "-o", out)
        expected = fit_code
    else:
        r = gmm("predict", good, path, "-o", out)
        expected = {0: 65}.get(fit_code, fit_code)  # good's columns are x and y
        if case in ("bom-and-crlf", "subnormal", "negative-zero", "20-digit-integers"):
            expected = 0
    assert r.code == expected, (case, r.err)
    if r.code:
        _one_error_line(r.err)
        assert not out.exists()
    else:
        assert out.stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


RED_TEAM_OPTIONS = {
    "n-init-10**9": (["fit", "{data}", "-x", "id", "--n-init", str(10**9), "-o", "{out}"], 2),
    "max-iter-10**9": (["fit", "{data}", "-x", "id", "--max-iter", str(10**9), "-o", "{out}"], 2),
    "seed-2**64": (["fit", "{data}", "-x", "id", "--seed", str(2**64), "-o", "{out}"], 2),
    "seed-negative": (["fit", "{data}", "-x", "id", "--seed", "-1", "-o", "{out}"], 2),
    "k-10**20": (["fit", "{data}", "-x", "id", "-k", str(10**20), "-o", "{out}"], 65),
    "tol-nan": (["fit", "{data}", "-x", "id", "--tol", "nan", "-o", "{out}"], 2),
    "reg-covar-inf": (["fit", "{data}", "-x", "id", "--reg-covar", "inf", "-o", "{out}"], 2),
    "max-memory-1B": (["fit", "{data}", "-x", "id", "--max-memory", "1B", "-o", "{out}"], 65),
    "max-memory-junk": (["fit", "{data}", "-x", "id", "--max-memory", "lots", "-o", "{out}"], 2),
    "select-k-10**8": (["select", "{data}", "-x", "id", "-k", "1-100000000", "-o", "{out}"], 2),
    "select-k-list-of-20000": (
        ["select", "{data}", "-k", ",".join(map(str, range(1, 20_001))), "-o", "{out}"],
        2,
    ),
    "select-k-over-the-rows": (["select", "{data}", "-x", "id", "-k", "1-10000", "-o", "{out}"], 65),
    "select-seed-negative": (["select", "{data}", "-x", "id", "--seed", "-1", "-o", "{out}"], 2),
    "select-seed-2**64": (["select", "{data}", "-x", "id", "--seed", str(2**64), "-o", "{out}"], 2),
    "select-cv-10**9": (["select", "{data}", "-x", "id", "-k", "1", "--cv", str(10**9), "-o", "{out}"], 2),
    "select-n-init-10**9": (["select", "{data}", "-x", "id", "--n-init", str(10**9), "-o", "{out}"], 2),
    "sample-n-10**9": (["sample", "{model}", "-n", str(10**9), "-o", "{out}"], 65),
    "sample-n-2**63": (["sample", "{model}", "-n", str(2**63), "-o", "{out}"], 2),
    "sample-n-0": (["sample", "{model}", "-n", "0", "-o", "{out}"], 2),
    "sample-seed-negative": (["sample", "{model}", "-n", "2", "--seed", "-1", "-o", "{out}"], 2),
    "plot-samples-10**9": (["plot", "{model}", "{data}", "--samples", str(10**9), "-o", "{out}"], 65),
    "plot-seed-negative": (["plot", "{model}", "{data}", "--samples", "5", "--seed", "-5", "-o", "{out}"], 2),
    "delimiter-two-chars": (["predict", "{model}", "{data}", "-d", "ab", "-o", "{out}"], 2),
    "format-unknown": (["predict", "{model}", "{data}", "-f", "xml", "-o", "{out}"], 2),
    "output-name-300-bytes": (["predict", "{model}", "{data}", "-o", "{long}"], 73),
    "output-into-missing-folder": (["predict", "{model}", "{data}", "-o", "{missing}"], 73),
    "data-is-directory": (["predict", "{model}", "{tmp}", "-o", "{out}"], 66),
    "model-missing": (["predict", "{tmp}/nope.joblib", "{data}", "-o", "{out}"], 66),
}


@pytest.mark.parametrize("case", list(RED_TEAM_OPTIONS))
def test_red_team_options_are_checked_before_any_work(gmm, good, tmp_path, case):
    args, expected = RED_TEAM_OPTIONS[case]
    out = tmp_path / "out.png"
    values = dict(
        data=SAMPLE / "blobs.csv",
        model=good,
        out=out,
        tmp=tmp_path,
        long=tmp_path / ("o" * 300 + ".csv"),
        missing=tmp_path / "no" / "out.csv",
    )
    started = time.monotonic()
    r = gmm(*[a.format(**values) for a in args])
    assert r.code == expected, (case, r.err)
    _one_error_line(r.err)
    assert not out.exists() and r.out == ""
    assert time.monotonic() - started < 10  # refused up front, not after the work


# --- atomic writes: symlinks, names, full disks, killed writers, races -------------------------


def test_output_through_a_symlink_replaces_the_file_it_points_to(gmm, tmp_path):
    """The README's "current model" link: -o follows it (like the shell's >), the link stays."""
    real = tmp_path / "blobs-1.joblib"
    real.write_bytes(b"old")
    link = tmp_path / "blobs.joblib"
    link.symlink_to(real.name)
    r = gmm("-q", "fit", SAMPLE / "blobs.csv", "-x", "id", "-k", "2", "-o", link)
    assert r.code == 0, r.err
    assert link.is_symlink() and os.readlink(link) == real.name
    assert real.read_bytes()[:1] == b"\x80" and gmm("info", link).code == 0


def test_output_through_a_dangling_symlink_creates_its_target(gmm, good, tmp_path):
    link = tmp_path / "out.csv"
    link.symlink_to("made.csv")
    assert gmm("sample", good, "-n", "2", "-o", link).code == 0
    assert link.is_symlink() and (tmp_path / "made.csv").read_text().startswith("x,y")


@pytest.mark.parametrize("length", [240, 250])
def test_long_but_legal_output_names_work(gmm, good, tmp_path, length):
    out = tmp_path / ("n" * (length - 4) + ".csv")
    r = gmm("sample", good, "-n", "2", "-o", out)
    assert r.code == 0, r.err
    assert out.exists() and len(os.listdir(tmp_path)) == 1


def test_output_to_a_full_disk_is_74_and_leaves_nothing(gmm, good):
    r = gmm("sample", good, "-n", "100", "-o", "/dev/full")
    assert r.code == 74
    _one_error_line(r.err)


def test_temp_file_of_a_killed_writer_is_removed_by_the_next_write(gmm, good, tmp_path):
    from gmmcli.io.atomic import temp_prefix

    out = tmp_path / "out.csv"
    stale = tmp_path / f"{temp_prefix(out.name)}abcd1234.tmp"
    stale.write_text("half a file")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / f"{temp_prefix(out.name)}efgh5678.tmp"  # a writer that has just started
    fresh.write_text("")
    other = tmp_path / ".other.csv.abcd1234.tmp"  # another target's: not ours to remove
    other.write_text("")
    os.utime(other, (time.time() - 3600, time.time() - 3600))
    assert gmm("sample", good, "-n", "2", "-o", out).code == 0
    assert not stale.exists() and fresh.exists() and other.exists()


def test_temp_file_held_by_a_live_writer_is_kept(tmp_path):
    import fcntl

    from gmmcli.io.atomic import atomic_text, temp_prefix

    out = tmp_path / "out.csv"
    held = tmp_path / f"{temp_prefix(out.name)}live0000.tmp"
    held.write_text("")
    os.utime(held, (time.time() - 3600, time.time() - 3600))
    with open(held) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with atomic_text(out) as w:
            w.write("x\n")
        assert held.exists()


@pytest.mark.slow
def test_sigkill_during_a_write_leaves_a_temp_file_the_next_run_removes(good, tmp_path):
    """A predict killed with SIGKILL half-way: the old output is intact; the leftover temp file
    (a minute later) goes with the next write of the same target."""
    data = tmp_path / "big.csv"
    data.write_text("x,y\n" + "1.5,2.5\n" * 3_000_000)
    out = tmp_path / "out.csv"
    out.write_text("old\n")
    proc = subprocess.Popen([sys.executable, "-m", "gmmcli", "predict", str(good), str(data), "-o", str(out)])
    deadline = time.monotonic() + 30
    while (
        not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p.stat().st_size]
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers and out.read_text() == "old\n"
    for p in leftovers:
        os.utime(p, (time.time() - 120, time.time() - 120))
    r = gmm_process("sample", good, "-n", "2", "-o", out)
    assert r.code == 0 and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
def test_concurrent_writers_and_50_readers(good, tmp_path):
    """Four writers replace one model while 50 readers load it: every reader sees a complete
    model (exit 0), every writer succeeds, and no temp file is left."""
    target = tmp_path / "m.joblib"
    target.write_bytes(good.read_bytes())
    fit = [sys.executable, "-m", "gmmcli", "-q", "fit", str(SAMPLE / "blobs.csv"), "-x", "id", "-k", "2"]
    writers = [subprocess.Popen([*fit, "--seed", str(i), "-o", str(target)]) for i in range(4)]
    info = [sys.executable, "-c", "from gmmcli.cli import main; main()", "-q", "info", str(target), "--json"]
    readers = [subprocess.Popen(info, stdout=subprocess.DEVNULL) for _ in range(50)]
    assert [w.wait(timeout=240) for w in writers] == [0] * 4
    assert [r.wait(timeout=240) for r in readers] == [0] * 50
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --- closed streams and pipes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["select", str(SAMPLE / "moons.csv"), "-k", "1-2"],
        ["info", "{model}"],
        ["predict", "{model}", str(SAMPLE / "blobs.csv")],
        ["sample", "{model}", "-n", "2"],
    ],
    ids=["select", "info", "predict", "sample"],
)
def test_closed_stdout_is_73_before_any_work(good, args):
    cmd = [sys.executable, "-m", "gmmcli", *[a.format(model=good) for a in args]]
    proc = subprocess.run(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
        close_fds=True,
        preexec_fn=lambda: os.close(1),
    )
    assert proc.returncode == 73, proc.stderr
    assert proc.stderr.decode().startswith("error: stdout is closed")


@pytest.mark.parametrize("args", [["--help"], ["fit", "--help"]], ids=["help", "fit-help"])
def test_help_into_a_closed_pipe_exits_0_quietly(args):
    proc = subprocess.Popen(
        [sys.executable, "-m", "gmmcli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.readline()
    proc.stdout.close()  # | head -1
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"Traceback" not in err and b"error" not in err
    # bare 'gmmcli' writes its help on stderr, not stdout, and exits 2 (tests/test_shell_manners.py)


def test_read_only_home_leaves_stderr_empty_under_quiet(good, tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
    }
    env["HOME"] = "/proc"  # not writable even for root: matplotlib cannot make ~/.config there
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "gmmcli",
            "-q",
            "plot",
            str(good),
            str(SAMPLE / "blobs.csv"),
            "-o",
            str(tmp_path / "p.png"),
        ],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stderr == b""
    assert (tmp_path / "p.png").exists()


# --- the Dask engine --------------------------------------------------------------------------

DASK = ["--engine", "dask", "--worker-memory", "600MB"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scheduler", "zzz://::"], r"--scheduler 'zzz://::' is not a Dask scheduler address"),
        (["--worker-memory", "lots"], r"--worker-memory must be a size"),
        (["--worker-memory", "1KB"], r"--worker-memory 1KB is too small .* at least 256 MiB"),
    ],
    ids=["bad-scheduler", "worker-memory-junk", "worker-memory-1KB"],
)
def test_dask_options_refused_before_a_cluster_starts(gmm, tmp_path, args, message):
    pytest.importorskip("distributed")
    started = time.monotonic()
    r = gmm("fit", "--engine", "dask", *args, SAMPLE / "moons.csv", "-k", "2", "-o", tmp_path / "m.joblib")
    assert r.code == 2, r.err
    _one_error_line(r.err)
    assert re.search(message, r.err) and time.monotonic() - started < 10


@pytest.mark.slow
def test_dask_hostile_inputs(tmp_path):
    """xz input fits; a truncated .gz, rows wider than the header and a column that turns to
    text after the sample are exit 65 with one line, and --quiet keeps the workers' tracebacks
    off stderr."""
    pytest.importorskip("distributed")
    moons = (SAMPLE / "moons.csv").read_bytes()
    (tmp_path / "m.csv.xz").write_bytes(lzma.compress(moons))
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress((SAMPLE / "blobs.csv").read_bytes())[:3000])
    (tmp_path / "wide.csv").write_text(EXTRA_FIELD)
    (tmp_path / "late.csv").write_text("x,y\n" + "1.5,2\n" * 3000 + "abc,1\n")
    (tmp_path / "nan.csv").write_text("x,y\n" + "1.5,2\n" * 3000 + "inf,1\n")
    out = tmp_path / "out.joblib"
    r = gmm_process("-q", "fit", *DASK, tmp_path / "m.csv.xz", "-k", "2", "--seed", "0", "-o", out)
    assert r.code == 0 and r.err == "", r.err
    for name, message in [
        ("cut.csv.gz", r"compressed input ends early"),
        ("wide.csv", r"expected 2 fields in line 2, saw 3"),
        ("late.csv", r"column 'x' is not numeric"),
        ("nan.csv", r"row 3001 has a missing or infinite value"),
    ]:
        r = gmm_process("-q", "fit", *DASK, tmp_path / name, "-k", "1", "-o", tmp_path / "bad.joblib")
        assert r.code == 65, (name, r.err)
        _one_error_line(r.err)
        assert re.search(message, r.err), r.err
        assert not (tmp_path / "bad.joblib").exists()


# --- memory: big draws, wide data, reading under a budget ---------------------------------------


def test_sample_memory_estimate_bounds_a_real_draw(good):
    """The estimate sample and plot check up front is above what a draw really takes."""
    from gmmcli import memory

    code = (
        "import os\nimport pandas\nfrom gmmcli.cli import run\n"
        "base = int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
        f"assert run(['sample', {str(good)!r}, '-n', '500000', '--seed', '0', '-o', '/dev/null']) == 0\n"
        "peak = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(peak - base)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) < memory.sample_bytes(500_000, 2)


def test_fit_budget_is_checked_while_reading(gmm, tmp_path):
    """A small .xz of 3 M rows under --max-memory 100M: refused after reading a part of it."""
    path = tmp_path / "rows.csv.xz"
    path.write_bytes(lzma.compress(b"x,y\n" + b"1.5,2.5\n" * 3_000_000))
    r = gmm("fit", path, "-k", "2", "--max-memory", "100M", "-o", tmp_path / "m.joblib")
    assert r.code == 65
    _one_error_line(r.err)
    rows = int(re.search(r"to (\d+) rows", r.err).group(1))
    assert rows < 3_000_000  # stopped before the end of the input


def test_wide_data_estimate_counts_the_per_block_features():
    from gmmcli import memory

    assert memory.fit_bytes(50, 3000, 2) > 1_500_000_000  # measured peak 1.4 GB (was estimated 0.6)
    assert memory.fit_bytes(1_000_000, 2, 16) < 300 << 20  # long, narrow data: unchanged


@pytest.mark.slow
def test_wide_fit_peak_is_within_the_estimate(tmp_path):
    """50 rows x 1,000 columns, k=2: the peak RSS of the fit stays below the estimate."""
    from gmmcli import memory

    X = np.random.default_rng(0).normal(size=(50, 1000))
    np.save(tmp_path / "X.npy", X)
    code = (
        "import numpy as np, resource\nfrom gmmcli.engine import em\n"
        "import sklearn.cluster, scipy.linalg\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        "base = int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()\n"
        "em.fit(X, 2, covariance_type='full', seed=0, max_iter=5)\n"
        "peak = next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(peak - base)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) < memory.fit_bytes(50, 1000, 2)


# --- digits-demo: all files or none ---------------------------------------------------------------


def test_digits_demo_failing_half_way_leaves_the_old_files(tmp_path, monkeypatch):
    """A failure after the PNGs are drawn (the model cannot be written: a full disk, a signal)
    leaves the folder exactly as it was: no new PNG beside the old model and summary."""
    from gmmcli import digits, model
    from gmmcli.errors import IOFailure

    out = tmp_path / "demo"
    settings = digits.DigitsSettings(n_components=4, seed=0, n_samples=10, max_iter=5)
    digits.run_digits_demo(out, settings)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(*args, **kwargs):
        raise IOFailure("writing digits_gmm.joblib failed: No space left on device")

    monkeypatch.setattr(model, "save_model", full_disk)
    with pytest.raises(IOFailure):
        digits.run_digits_demo(out, digits.DigitsSettings(n_components=5, seed=1, n_samples=10, max_iter=5))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no staging folder either


def test_digits_demo_replaces_the_whole_set(tmp_path):
    from gmmcli import digits

    out = tmp_path / "demo"
    out.mkdir()
    (out / digits.AIC_PNG).write_bytes(b"from an earlier --sweep run")
    (out / "notes.txt").write_text("mine")
    result = digits.run_digits_demo(
        out, digits.DigitsSettings(n_components=4, seed=0, n_samples=10, max_iter=5)
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [digits.ORIGINAL_PNG, digits.GENERATED_PNG, digits.MODEL_FILE, digits.SUMMARY_FILE, "notes.txt"]
    )
    assert all(Path(p).exists() for p in result.files.values())


def test_digits_demo_failure_removes_a_folder_it_created(tmp_path, monkeypatch):
    from gmmcli import digits, model

    monkeypatch.setattr(model, "save_model", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        digits.run_digits_demo(
            tmp_path / "new", digits.DigitsSettings(n_components=4, n_samples=10, max_iter=5)
        )
    assert not (tmp_path / "new").exists()


def test_a_fifo_as_data_is_read_like_a_pipe(gmm, good, tmp_path):
    """Data from a named pipe (process substitution, mkfifo) is a stream, read as stdin is."""
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "w") as fh:
            fh.write(BLOBS)

    writer = threading.Thread(target=feed)
    writer.start()
    r = gmm("predict", good, fifo)
    writer.join(timeout=30)
    assert r.code == 0, r.err
    assert len(r.out.splitlines()) == 401
