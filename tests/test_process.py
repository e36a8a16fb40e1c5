"""Behaviour only a real process shows: entry points, start-up imports, pipes, signals, locales,
closed streams and concurrent processes."""

from __future__ import annotations

import os
import pty
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SAMPLE, default_signals, gmm_process

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


# --- hardening: signals, locales, streams, concurrency (merged from test_hardening_process.py) ------

PY = sys.executable
ANSI = "\x1b["


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with a small model, a 200k-row CSV (slow to fit with -k 20) and its model."""
    folder = tmp_path_factory.mktemp("proc")
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=8, size=(20, 2))
    X = centres[rng.integers(0, 20, 200_000)] + rng.normal(size=(200_000, 2))
    big = folder / "big.csv"
    with open(big, "w") as fh:
        fh.write("x,y\n")
        np.savetxt(fh, X, delimiter=",", fmt="%.6f")
    model = folder / "blobs.joblib"
    result = gmm_process("-q", "fit", SAMPLE / "blobs.csv", "-k", "3", "-x", "id", "--seed", "0", "-o", model)
    assert result.code == 0, result.err
    return folder


def _cmd(*args) -> list[str]:
    return [PY, "-m", "gmmcli", *map(str, args)]


def _no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# ----------------------------------------------------------------------------- pipes
@pytest.mark.parametrize("args", [("predict",), ("score", "-f", "json"), ("proba", "--keep", "x")])
def test_closed_pipe_ends_quietly(work, args):
    """``gmmcli predict ... | head -1`` in a real shell: nothing on stderr, no traceback."""
    command = " ".join(
        shlex.quote(c) for c in _cmd(args[0], work / "blobs.joblib", work / "big.csv", *args[1:])
    )
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command} | head -1"], capture_output=True, timeout=120
    )
    assert proc.stderr == b""
    assert len(proc.stdout.splitlines()) == 1
    assert proc.returncode == 0  # a reader that leaves is not a failure: `set -o pipefail` holds


def test_closed_pipe_on_an_output_file_that_is_stdout(work):
    command = " ".join(
        shlex.quote(c) for c in _cmd("predict", work / "blobs.joblib", work / "big.csv", "-o", "/dev/stdout")
    )
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command} | head -1"], capture_output=True, timeout=120
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (0, b"", b"label\n")


def test_help_in_a_pipe_has_no_escape_codes_even_when_colour_is_forced():
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "PY_COLORS"):
        proc = subprocess.run(
            _cmd("fit", "--help"), capture_output=True, env={**os.environ, var: "1"}, timeout=60
        )
        assert proc.returncode == 0 and b"--n-components" in proc.stdout
        assert ANSI.encode() not in proc.stdout + proc.stderr, var


def test_closed_standard_streams(work, tmp_path):
    """A cron wrapper may start gmmcli with stdin, stdout or stderr closed."""
    closed_in = subprocess.run(
        _cmd("fit", "-", "-o", tmp_path / "m.joblib"),
        capture_output=True,
        stdin=None,
        preexec_fn=lambda: os.close(0),
        timeout=60,
    )
    assert closed_in.returncode == 66 and b"stdin is closed" in closed_in.stderr
    closed_out = subprocess.run(
        _cmd("predict", work / "blobs.joblib", SAMPLE / "blobs.csv"),
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
        timeout=60,
    )
    assert closed_out.returncode == 73 and b"stdout is closed" in closed_out.stderr
    closed_err = subprocess.run(
        _cmd("predict", work / "blobs.joblib", tmp_path / "absent.csv"),
        stdout=subprocess.PIPE,
        preexec_fn=lambda: os.close(2),
        timeout=60,
    )
    assert closed_err.returncode == 66 and closed_err.stdout == b""  # the message is not moved into the data


def test_stderr_reader_gone_does_not_fail_the_job_or_lose_the_data(work, tmp_path):
    """``2>&1 | head -1``-style: stderr's reader leaves; the fit must still finish and save."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    model = tmp_path / "m.joblib"
    proc = subprocess.Popen(
        _cmd(
            "fit", SAMPLE / "blobs.csv", "-x", "id", "-k", "4", "--max-iter", "1", "--tol", "0", "-o", model
        ),
        stderr=write_end,
    )
    os.close(write_end)
    assert proc.wait(timeout=120) == 0
    assert model.exists()
    read_end, write_end = os.pipe()
    os.close(read_end)
    proc = subprocess.Popen(_cmd("info", model), stdout=subprocess.PIPE, stderr=write_end)
    os.close(write_end)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"n_components" in out


def test_closed_pipe_on_info(work):
    command = " ".join(shlex.quote(c) for c in _cmd("info", work / "blobs.joblib"))
    proc = subprocess.run(
        ["bash", "-c", f"{command} | head -c 10 >/dev/null"], capture_output=True, timeout=60
    )
    assert proc.stderr == b""


def test_stdout_on_a_full_disk_is_exit_74(work):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            _cmd("predict", work / "blobs.joblib", work / "big.csv"),
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert proc.returncode == 74
    assert proc.stderr.decode().startswith("error: ") and len(proc.stderr.splitlines()) == 1
    assert "No space left on device" in proc.stderr.decode()


def test_output_to_a_device_writes_through_and_keeps_the_device(work):
    before = os.stat("/dev/full")
    result = gmm_process("fit", SAMPLE / "blobs.csv", "-x", "id", "-o", "/dev/full")
    assert result.code == 74 and "No space left on device" in result.err
    after = os.stat("/dev/full")
    assert (after.st_mode, after.st_rdev) == (before.st_mode, before.st_rdev)  # still the device
    ok = gmm_process("predict", work / "blobs.joblib", SAMPLE / "blobs.csv", "-o", "/dev/null")
    assert ok.code == 0 and ok.err == ""


# ----------------------------------------------------------------------------- signals
def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_busy(proc, cpu: float = 1.5, timeout: float = 120) -> None:
    """Until the process has used ``cpu`` seconds: past start-up and reading, inside EM."""
    deadline = time.monotonic() + timeout
    while _cpu_seconds(proc.pid) < cpu:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "fit never got busy"
        time.sleep(0.05)
    time.sleep(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_fit_stops_promptly_and_keeps_the_old_model(work, tmp_path, signum, code):
    target = tmp_path / "model.joblib"
    shutil.copy(work / "blobs.joblib", target)
    original = target.read_bytes()
    proc = subprocess.Popen(
        _cmd(
            "fit",
            work / "big.csv",
            "-k",
            "20",
            "--max-iter",
            "1000",
            "--tol",
            "0",
            "--seed",
            "0",
            "-o",
            target,
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_signals,
    )
    try:
        _wait_until_busy(proc)
        sent = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
        stopped_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert stopped_after < 5
    assert err.decode().splitlines() == [
        f"error: {'terminated' if code == 143 else 'interrupted'} ({signal.Signals(signum).name})"
    ]
    assert target.read_bytes() == original
    assert _no_temp_files(tmp_path)


def test_signal_while_the_model_is_being_written_removes_the_temp_file(gmm, tmp_path, monkeypatch):
    """SIGTERM arriving half-way through writing the model (in-process, so it is deterministic)."""
    import gmmcli.io.model_file

    target = tmp_path / "m.joblib"
    target.write_bytes(b"the old model")
    real = gmmcli.io.model_file.dump_sealed

    def dump_then_die(data, path):
        Path(path).write_bytes(b"half a mod")
        os.kill(os.getpid(), signal.SIGTERM)
        real(data, path)  # not reached: the handler raises at the next bytecode

    monkeypatch.setattr(gmmcli.io.model_file, "dump_sealed", dump_then_die)
    handler_before = signal.getsignal(signal.SIGTERM)
    result = gmm("fit", SAMPLE / "blobs.csv", "-x", "id", "-o", target)
    assert result.code == 143
    assert result.err == "error: terminated (SIGTERM)\n"
    assert target.read_bytes() == b"the old model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.joblib"]
    assert signal.getsignal(signal.SIGTERM) == handler_before  # run() restored the handler


@pytest.mark.slow
def test_two_processes_writing_the_same_model_leave_one_complete_file(tmp_path, monkeypatch):
    """Two fits race to the same -o path, twice: each time the file is exactly one of the two."""
    from gmmcli.cli import run

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # byte-identical files for equal fits
    refs = {}
    for k in ("2", "3"):
        ref = tmp_path / f"ref{k}.joblib"
        assert (
            run(["-q", "fit", str(SAMPLE / "blobs.csv"), "-x", "id", "-k", k, "--seed", "1", "-o", str(ref)])
            == 0
        )
        refs[k] = ref.read_bytes()
    assert refs["2"] != refs["3"]
    target = tmp_path / "shared.joblib"
    for _ in range(2):
        procs = [
            subprocess.Popen(
                _cmd("-q", "fit", SAMPLE / "blobs.csv", "-x", "id", "-k", k, "--seed", "1", "-o", target),
                stderr=subprocess.PIPE,
            )
            for k in ("2", "3")
        ]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
        assert target.read_bytes() in (refs["2"], refs["3"])
        assert _no_temp_files(tmp_path)


# ----------------------------------------------------------------------------- environment
def _readonly_runner(tmp_path):
    """Run a command with some folders truly read-only: chmod for a normal user; for root (who
    ignores permissions) a read-only bind mount in a private mount namespace."""
    if os.geteuid() != 0:

        def run(cmd, ro, **kw):
            for d in ro:
                d.chmod(0o555)
            try:
                return subprocess.run(cmd, capture_output=True, timeout=120, **kw)
            finally:
                for d in ro:
                    d.chmod(0o755)

        return run
    probe = tmp_path / "probe"
    probe.mkdir()
    ok = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind -o ro {probe} {probe} && ! touch {probe}/x"],
        capture_output=True,
    )
    if ok.returncode != 0:
        pytest.skip("running as root without mount namespaces: cannot make a folder read-only")

    def run(cmd, ro, **kw):
        mounts = " && ".join(f"mount --bind -o ro {shlex.quote(str(d))} {shlex.quote(str(d))}" for d in ro)
        script = f"{mounts} && exec {' '.join(shlex.quote(str(c)) for c in cmd)}"
        return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, timeout=120, **kw)

    return run


def test_runs_with_c_locale_no_home_readonly_cwd_and_no_terminal(work, tmp_path):
    cwd, home, out = tmp_path / "cwd", tmp_path / "home", tmp_path / "out"
    for d in (cwd, home, out):
        d.mkdir()
    run = _readonly_runner(tmp_path)
    data = tmp_path / "données.csv"  # a non-ASCII name and column under LANG=C
    data.write_text((SAMPLE / "blobs.csv").read_text().replace("id,x,y", "numéro,x,y"))
    base = {k: v for k, v in os.environ.items() if k not in ("HOME", "LANG", "LC_ALL", "NO_COLOR")}
    envs = (
        {**base, "LANG": "C", "LC_ALL": "C", "HOME": str(home), "FORCE_COLOR": "1", "TERM": "xterm-256color"},
        {**base, "LANG": "C"},  # no HOME at all
        {**base, "HOME": "/nonexistent-gmmcli-home"},
    )
    model = out / "m.joblib"
    fit = run(
        _cmd("fit", data, "-x", "numéro", "-k", "3", "--seed", "0", "--max-iter", "2", "-o", model),
        [cwd, home],
        cwd=cwd,
        env=envs[0],
        stdin=subprocess.DEVNULL,
    )
    assert fit.returncode == 0, fit.stderr
    assert ANSI not in fit.stderr.decode()
    assert b"warning: EM did not converge" in fit.stderr  # messages still arrive, as plain text
    for env in envs:
        pred = run(
            _cmd("predict", model, data, "--keep", "numéro"),
            [cwd, home],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        assert pred.returncode == 0, pred.stderr
        assert pred.stdout.decode("utf-8").startswith("numéro,label\n")
        info = run(_cmd("info", model), [cwd, home], cwd=cwd, env=env)
        assert info.returncode == 0 and ANSI not in info.stdout.decode() and "…" not in info.stdout.decode()
        bad = run(_cmd("predict", model, tmp_path / "absent.csv"), [cwd, home], cwd=cwd, env=env)
        assert (
            bad.returncode == 66 and bad.stderr.decode().count("\n") == 1 and ANSI not in bad.stderr.decode()
        )
    assert not list(cwd.iterdir()) and not list(home.iterdir())
    assert not Path("/nonexistent-gmmcli-home").exists()


def test_matplotlib_needs_no_writable_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    run = _readonly_runner(tmp_path)
    env = {**{k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}, "HOME": str(home)}
    code = "from gmmcli.plots import pyplot; plt = pyplot(); fig = plt.figure(); print(plt.get_backend())"
    proc = run([PY, "-c", code], [home], env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().strip().lower() == "agg"
    assert proc.stderr == b""
    assert not list(home.iterdir())


def test_writing_into_a_readonly_folder_is_exit_73(work, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "m.joblib").write_bytes(b"old")
    run = _readonly_runner(tmp_path)
    proc = run(_cmd("fit", SAMPLE / "blobs.csv", "-x", "id", "-o", ro / "m.joblib"), [ro])
    assert proc.returncode == 73, proc.stderr
    assert proc.stderr.decode().startswith("error: cannot write") and len(proc.stderr.splitlines()) == 1
    assert (ro / "m.joblib").read_bytes() == b"old"


def _on_a_terminal(args, env) -> str:
    """Run with stderr on a pseudo-terminal; return what it printed there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        _cmd(*args), stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL, env=env
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_colour_only_on_a_terminal_and_never_with_no_color(tmp_path):
    args = (
        "fit",
        SAMPLE / "blobs.csv",
        "-x",
        "id",
        "-k",
        "4",
        "--max-iter",
        "1",
        "--tol",
        "0",
        "-o",
        tmp_path / "m.joblib",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    coloured = _on_a_terminal(args, env)
    assert "warning: EM did not converge" in coloured and ANSI in coloured
    plain = _on_a_terminal(args, {**env, "NO_COLOR": "1"})
    assert "warning: EM did not converge" in plain and ANSI not in plain


def test_quiet_leaves_only_errors(gmm, tmp_path):
    args = ["fit", SAMPLE / "blobs.csv", "-x", "id", "-k", "4", "--max-iter", "1", "--tol", "0"]
    loud = gmm(*args, "-o", tmp_path / "a.joblib")
    assert "warning: EM did not converge" in loud.err and "fit: 4 components" in loud.err
    quiet = gmm(*args, "--quiet", "-o", tmp_path / "b.joblib")
    assert quiet.code == 0 and quiet.err == ""
    failing = gmm("--quiet", "fit", tmp_path / "nope.csv", "-o", tmp_path / "c.joblib")
    assert failing.code == 66 and failing.err.startswith("error: ")


def test_global_flags_work_after_the_command_too(gmm, tmp_path):
    result = gmm("info", tmp_path / "nope.joblib", "--verbose")
    assert "Traceback" in result.err and result.code == 66
    keep_value = gmm("predict", tmp_path / "m.joblib", "-", "--keep", "-q", stdin="x\n")
    assert keep_value.code == 66  # "-q" was --keep's value, not --quiet: the model error still shows
    assert keep_value.err.startswith("error: model file")


@pytest.mark.slow
def test_memory_guard_refuses_under_a_small_address_space_limit(work):
    """With ulimit -v set, a fit that cannot fit is refused with a message, not a MemoryError."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    proc = subprocess.run(
        _cmd("fit", work / "big.csv", "-k", "5000", "-o", work / "never.joblib"),  # needs ~5 GB
        capture_output=True,
        preexec_fn=limit,
        timeout=120,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 65, err
    assert "needs about" in err and "available" in err and "--max-memory" in err
    assert not (work / "never.joblib").exists()
