"""gmmcli select: the grid sweep, its criteria, outputs, failures and interruption."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, default_signals, load_xy, read_csv_text

from gmmcli import selection as sel
from gmmcli.errors import FitFailed, UsageError
from gmmcli.parallel import THREADS_MIN_WORK

MOONS = SAMPLE / "moons.csv"
FAST = ("--n-init", "1", "--init", "kmeans", "--jobs", "1")  # one EM run per cell, in-process
SKLEARN = ("--tol", "1e-3", "--max-iter", "100")  # scikit-learn's stopping rule (select's is tighter)
SK = dict(tol=1e-3, max_iter=100)


def records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def one_blas_thread():
    """Reference fits with one BLAS thread: small matrices with two are many times slower."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


# --- -k parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1-10", list(range(1, 11))),
        ("1-200:10", list(range(1, 200, 10))),
        ("2,4,8", [2, 4, 8]),
        ("5", [5]),
        ("8,2,2-4", [2, 3, 4, 8]),
        (" 3 - 5 ", [3, 4, 5]),
    ],
)
def test_parse_ks(text, expected):
    assert sel.parse_ks(text) == expected


@pytest.mark.parametrize("text", ["", "0-3", "a", "5-2", "1-10:0", "2:3", "-1", "1-", ","])
def test_parse_ks_rejects_nonsense(text):
    with pytest.raises(UsageError):
        sel.parse_ks(text)


# --- agreement with scikit-learn ----------------------------------------------------------------


def test_moons_full_k1_to_20_equals_sklearn(gmm):
    """The notebook's curve: every AIC/BIC equals GaussianMixture(k, random_state=seed)'s."""
    from sklearn.mixture import GaussianMixture

    seed = 7
    r = gmm("select", MOONS, "-k", "1-20", "-t", "full", "--seed", seed, "--format", "json", *FAST, *SKLEARN)
    assert r.code == 0, r.err
    grid = records(r.out)
    assert [c["k"] for c in grid] == list(range(1, 21))
    X = load_xy("moons.csv")
    for cell in grid:
        with one_blas_thread():
            gm = GaussianMixture(cell["k"], covariance_type="full", random_state=seed).fit(X)
        assert cell["aic"] == pytest.approx(gm.aic(X), rel=1e-6)
        assert cell["bic"] == pytest.approx(gm.bic(X), rel=1e-6)
        assert cell["log_likelihood"] == pytest.approx(gm.score(X) * len(X), rel=1e-6)
        assert cell["n_parameters"] == gm._n_parameters()
        assert cell["converged"] is True and cell["error"] is None


def test_n_init_above_one_equals_sklearn_with_the_same_n_init():
    from sklearn.mixture import GaussianMixture

    X = load_xy("blobs.csv")
    cells = sel.sweep(X, [2, 5], ["tied", "diag", "spherical"], n_init=3, init="kmeans", seed=1, jobs=1, **SK)
    for c in cells:
        with one_blas_thread():
            gm = GaussianMixture(c.k, covariance_type=c.covariance_type, n_init=3, random_state=1).fit(X)
        assert c.bic == pytest.approx(gm.bic(X), rel=1e-6)
        assert c.aic == pytest.approx(gm.aic(X), rel=1e-6)


def test_second_init_method_has_its_own_seed_and_the_best_wins():
    """With two methods, the first runs with the seed itself, the second with a derived one."""
    from gmmcli.engine import density, em

    X = load_xy("blobs.csv")
    [cell] = sel.sweep(X, [6], ["full"], n_init=2, init="kmeans,random_from_data", seed=3, jobs=1, **SK)
    assert sel.method_seed(3, 0) == 3 and sel.method_seed(3, 1) != 3
    lls = {}
    for index, method in enumerate(("kmeans", "random_from_data")):
        result = em.fit(X, 6, covariance_type="full", n_init=2, init=method, seed=sel.method_seed(3, index))
        lls[method] = density.score_samples(X, result.params).sum()
    assert cell.log_likelihood == pytest.approx(max(lls.values()), rel=1e-12)
    assert cell.init == max(lls, key=lls.get)
    assert cell.seed == sel.method_seed(3, ("kmeans", "random_from_data").index(cell.init))


# --- outputs ------------------------------------------------------------------------------------


def test_json_has_one_record_per_cell_and_failed_cells_are_null(gmm):
    rows = "x,y\n" + "\n".join(f"{i * 0.7:.3f},{(i * i) % 5 * 0.3:.3f}" for i in range(6)) + "\n"
    r = gmm("select", "-", "-k", "1-6", "-t", "full,spherical", "--format", "json", *FAST, stdin=rows)
    assert r.code == 0, r.err
    grid = records(r.out)
    assert len(grid) == 12
    assert all(list(c) == list(sel.FIELDS) for c in grid)
    assert [(c["covariance_type"], c["k"]) for c in grid] == [
        (t, k) for t in ("full", "spherical") for k in range(1, 7)
    ]
    failed = [c for c in grid if c["error"] is not None]
    assert any(c["k"] == 6 for c in failed)  # 6 components on 6 rows: each on one row
    for c in failed:  # 6 rows: a component on 1 or 2 of them in 2 dimensions is degenerate
        assert c["k"] >= 2 and c["error"].startswith("degenerate: component")
        assert c["aic"] is None and c["bic"] is None and c["log_likelihood"] is None
        assert c["converged"] is None
    assert all(isinstance(c["bic"], float) for c in grid if c["error"] is None)
    assert [c["error"] for c in grid if c["k"] == 1] == [None] * 2
    assert "cells failed" in r.err and "degenerate" in r.err


def test_default_output_is_csv_when_piped_and_the_verdict_goes_to_stderr(gmm):
    r = gmm("select", MOONS, "-k", "1-4", "-t", "tied,full", *FAST)
    assert r.code == 0, r.err
    grid = read_csv_text(r.out)
    assert list(grid.columns) == list(sel.FIELDS)
    assert list(zip(grid.covariance_type, grid.k)) == [(t, k) for t in ("tied", "full") for k in range(1, 5)]
    best = grid.loc[grid.bic.idxmin()]
    verdict = re.search(r"best: (\w+), k=(\d+), BIC (-?[\d.]+)", r.err)
    assert verdict, r.err
    assert (verdict[1], int(verdict[2])) == (best.covariance_type, best.k)
    assert float(verdict[3]) == pytest.approx(best.bic, abs=0.005)
    assert "best" not in r.out


def test_table_marks_the_winner(gmm):
    r = gmm("select", MOONS, "-k", "1-3", "-t", "full,diag", "--format", "table", "--criterion", "aic", *FAST)
    assert r.code == 0, r.err
    assert "AIC (lower is better)" in r.out
    assert re.search(r"\b3\b.*\d+\.\d\d \*", r.out), r.out  # the best AIC at k=3 carries the mark
    assert "* best" in r.out
    assert re.search(r"best: full, k=3, AIC \d+\.\d\d", r.err)


def test_plot_and_winning_model(gmm, tmp_path):
    """--plot draws a real figure; -o saves the winner, which 'gmmcli fit' reproduces."""
    from matplotlib.image import imread

    from gmmcli.model import load_model

    png, model_path = tmp_path / "criteria.png", tmp_path / "best.joblib"
    r = gmm(
        "select",
        SAMPLE / "blobs.csv",
        "--exclude",
        "id",
        "-k",
        "1-6",
        "-t",
        "full,tied",
        "--n-init",
        "2",
        "--jobs",
        "1",
        "--plot",
        png,
        "-o",
        model_path,
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    image = imread(png)
    assert image.shape[0] >= 400 and image.shape[1] >= 600
    assert image[..., :3].std() > 0.05  # not blank
    assert len(np.unique(image[..., :3].reshape(-1, 3), axis=0)) > 50  # lines, text, colours

    grid = records(r.out)
    winner = min(grid, key=lambda c: c["bic"])
    model = load_model(model_path)
    assert (model.covariance_type, model.n_components) == (winner["covariance_type"], winner["k"])
    assert model.meta["bic"] == pytest.approx(winner["bic"], rel=1e-9)
    assert model.meta["selection"]["criterion"] == "bic"
    settings = model.meta["fit_settings"]
    refit = tmp_path / "refit.joblib"
    r2 = gmm(
        "fit",
        SAMPLE / "blobs.csv",
        "--exclude",
        "id",
        "-k",
        settings["n_components"],
        "-t",
        settings["covariance_type"],
        "--n-init",
        settings["n_init"],
        "--init",
        settings["init"],
        "--seed",
        settings["seed"],
        "--tol",
        settings["tol"],
        "--max-iter",
        settings["max_iter"],
        "-o",
        refit,
    )
    assert r2.code == 0, r2.err
    np.testing.assert_allclose(load_model(refit).params.means, model.params.means, rtol=1e-10)


def test_cross_validation_scores_and_picks_the_highest(gmm):
    r = gmm(
        "select",
        MOONS,
        "-k",
        "1-5",
        "-t",
        "full",
        "--cv",
        "3",
        "--criterion",
        "cv",
        "--format",
        "json",
        *FAST,
    )
    assert r.code == 0, r.err
    grid = records(r.out)
    assert all(isinstance(c["cv_log_likelihood"], float) for c in grid)
    winner = max(grid, key=lambda c: c["cv_log_likelihood"])
    assert f"best: full, k={winner['k']}, held-out log-likelihood {winner['cv_log_likelihood']:.4f}" in r.err


def test_cross_validation_by_hand():
    """Each row is held out once; the score is the mean held-out log-density per row."""
    from gmmcli.engine import density, em

    X = load_xy("moons.csv")
    [cell] = sel.sweep(X, [3], ["diag"], n_init=1, init="kmeans", seed=5, cv=4, jobs=1, **SK)
    folds = sel._fold_labels(len(X), 4, 5)
    total = 0.0
    for f in range(4):
        fit = em.fit(X[folds != f], 3, covariance_type="diag", n_init=1, init="kmeans", seed=5)
        total += density.score_samples(X[folds == f], fit.params).sum()
    assert cell.cv_log_likelihood == pytest.approx(total / len(X), rel=1e-12)


# --- parallel -----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", ["moons", "wide"])
def test_jobs_2_gives_the_same_grid_as_jobs_1(data):
    """Small data (worker processes) and data large enough for threads (THREADS_MIN_WORK)."""
    if data == "moons":
        X = load_xy("moons.csv")
    else:
        X = np.random.default_rng(1).normal(size=(1200, 30)) + np.repeat(np.arange(4), 300)[:, None] * 2.0
        assert X.shape[0] * X.shape[1] ** 2 >= THREADS_MIN_WORK
    done = []
    serial = sel.sweep(
        X,
        [1, 3, 6],
        ["full", "spherical"],
        n_init=2,
        init="kmeans",
        seed=4,
        cv=2,
        jobs=1,
        on_done=done.append,
        **SK,
    )
    parallel = sel.sweep(
        X, [1, 3, 6], ["full", "spherical"], n_init=2, init="kmeans", seed=4, cv=2, jobs=2, **SK
    )
    strip = [{**c.record(), "seconds": None} for c in serial]
    assert strip == [{**c.record(), "seconds": None} for c in parallel]
    assert sorted((c.covariance_type, c.k) for c in done) == sorted((c.covariance_type, c.k) for c in serial)
    for a, b in zip(serial, parallel):
        np.testing.assert_array_equal(a.params.covariances, b.params.covariances)


# --- failures -----------------------------------------------------------------------------------


def test_degenerate_cell_is_marked_failed_and_the_sweep_goes_on(gmm):
    # Four points, each repeated three times: with --reg-covar 0, four components collapse.
    points = [(0.0, 0.0), (3.0, 1.0), (1.0, 4.0), (5.0, 5.0)]
    rows = "x,y\n" + "".join(f"{x},{y}\n" for x, y in points for _ in range(3))
    r = gmm(
        "select", "-", "-k", "1,4", "-t", "full", "--reg-covar", "0", "--format", "json", *FAST, stdin=rows
    )
    assert r.code == 0, r.err
    one, four = records(r.out)
    assert one["error"] is None and math.isfinite(one["bic"])
    assert "ill-defined covariance" in four["error"] and four["bic"] is None
    assert "best: full, k=1" in r.err


def test_a_grid_where_nothing_fits_exits_65_and_saves_nothing(gmm, tmp_path):
    model = tmp_path / "m.joblib"
    r = gmm(
        "select", "-", "-k", "2-3", "-t", "diag", "-o", model, "--format", "json", *FAST, stdin="x\n1\n2\n3\n"
    )
    assert r.code == 65
    assert "error: no cell of the grid has a BIC score" in r.err
    assert [c["error"][:11] for c in records(r.out)] == ["degenerate:"] * 2  # the grid is still written
    assert not model.exists()


# --- counts over the rows: refused whole, before any fit ----------------------------------------


@pytest.mark.parametrize(
    "ks, cv, message",
    [
        ("5-6", None, "-k goes up to 6 but the data has 3 rows: the largest k allowed is 3"),
        ("1-4", None, "-k goes up to 4 but the data has 3 rows: the largest k allowed is 3"),
        ("2,200", None, "-k goes up to 200 but the data has 3 rows: the largest k allowed is 3"),
        (
            "1-3",
            "2",
            "-k goes up to 3 but the data has 3 rows (the smallest training split of --cv 2 has 1): "
            "the largest k allowed is 1",
        ),
    ],
)
def test_counts_over_the_rows_are_refused_before_any_fit(gmm, tmp_path, monkeypatch, ks, cv, message):
    # Changed by issue 19 item 7: such a grid used to fit (and fail) cell by cell.
    import gmmcli.selection_workers as workers

    monkeypatch.setattr(workers, "_fit_task", lambda *a, **k: pytest.fail("a cell was fitted"))
    model = tmp_path / "m.joblib"
    extra = ["--cv", cv] if cv else []
    r = gmm("select", "-", "-k", ks, *extra, "-t", "diag", "-o", model, *FAST, stdin="x\n1\n2\n3\n")
    assert r.code == 65
    assert r.err.strip().splitlines() == [f"error: {message}"]
    assert r.out == "" and not model.exists()


def test_counts_up_to_the_rows_are_fitted(gmm):
    r = gmm("select", MOONS, "-k", "199,200", "-t", "EII", "--format", "json", *FAST)
    assert r.code == 0, r.err
    assert [c["k"] for c in records(r.out)] == [199, 200]
    r = gmm("select", MOONS, "-k", "1,160", "--cv", "5", "-t", "EII", "--format", "json", *FAST)
    assert r.code == 0, r.err  # 200 rows, 5 folds: every training split has 160
    r = gmm("select", MOONS, "-k", "1,161", "--cv", "5", "-t", "EII", *FAST)
    assert r.code == 65 and "the largest k allowed is 160" in r.err


def test_a_huge_count_range_is_refused_at_once(tmp_path):
    from conftest import gmm_process

    model = tmp_path / "m.joblib"
    start = time.perf_counter()
    r = gmm_process("select", MOONS, "-k", "1-100000000", "-o", model)
    assert time.perf_counter() - start < 20
    assert r.code == 2 and r.err.startswith("error: -k asks for 100,000,000 or more component counts")
    r = gmm_process("select", MOONS, "-k", "1-10000", "-o", model)
    assert r.code == 65 and r.err == (
        "error: -k goes up to 10000 but the data has 200 rows: the largest k allowed is 200\n"
    )
    assert time.perf_counter() - start < 30
    assert r.out == "" and not model.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--criterion", "cv"], "--criterion cv needs --cv K"),
        (["--criterion", "hqic"], "unknown --criterion"),
        (["-k", "0-4"], "at least 1"),
        (["-t", "full,round"], "unknown covariance type 'round'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["--init", "kmeans,magic"], "unknown --init 'magic'"),
        (["--cv", "1"], "--cv needs at least 2 folds"),
    ],
)
def test_usage_errors_exit_2(gmm, args, message):
    r = gmm("select", MOONS, *args)
    assert r.code == 2 and message in r.err and r.out == ""


def test_unwritable_outputs_fail_before_fitting(gmm, tmp_path):
    r = gmm("select", MOONS, "--plot", tmp_path / "missing" / "p.png")
    assert r.code == 73 and "does not exist" in r.err and r.out == ""


def test_best_and_criteria_directions():
    a = sel.Cell(1, "full", aic=10.0, bic=30.0, cv_log_likelihood=-2.0)
    b = sel.Cell(2, "full", aic=5.0, bic=40.0, cv_log_likelihood=-1.0)
    c = sel.Cell(3, "full", error="failed")
    assert sel.best([a, b, c], "bic") is a
    assert sel.best([a, b, c], "aic") is b
    assert sel.best([a, b, c], "cv") is b
    with pytest.raises(FitFailed):
        sel.best([c], "bic")


def test_sample_weight_reaches_the_engine_and_weights_the_criteria(monkeypatch):
    """The engine's sample_weight parameter is passed through, and only when given."""
    from gmmcli.engine import density, em

    real_fit, seen = em.fit, []

    def fit(X, n_components, **kwargs):
        seen.append("sample_weight" in kwargs)
        return real_fit(X, n_components, **kwargs)

    monkeypatch.setattr(em, "fit", fit)
    X = load_xy("moons.csv")
    w = np.linspace(0.5, 1.5, len(X))
    sel.sweep(X, [2], ["full"], n_init=1, init="kmeans", jobs=1)
    assert seen and not any(seen)  # (a warm-up fit may come first) no weights, no keyword
    seen.clear()
    [cell] = sel.sweep(X, [2], ["full"], n_init=1, init="kmeans", jobs=1, sample_weight=w)
    assert seen == [True]
    ll = float(np.dot(w, density.score_samples(X, cell.params)))
    assert cell.log_likelihood == pytest.approx(ll)
    assert cell.bic == pytest.approx(-2 * ll + cell.n_parameters * math.log(w.sum()))


# --- Ctrl-C -------------------------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    kids = [int(c) for c in fh.read().split()]
                found.update(kids)
                todo.extend(kids)
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _start_select(args, model, png) -> subprocess.Popen:
    """``gmmcli select ARGS --n-init 20 --jobs 2 -o MODEL --plot PNG``: long enough to interrupt,
    in a process group of its own, as a terminal starts a job."""
    cmd = [sys.executable, "-m", "gmmcli", "select", *map(str, args), "--n-init", "20", "--jobs", "2"]
    return subprocess.Popen(
        [*cmd, "-o", str(model), "--plot", str(png)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        start_new_session=True,
        preexec_fn=default_signals,
    )


def _interrupt(proc: subprocess.Popen) -> tuple[bytes, bytes, float]:
    """Ctrl-C as a terminal sends it (SIGINT to the whole group): (stdout, stderr, seconds to exit).
    The process is killed if it does not end."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        interrupted = time.monotonic()
        out, err = proc.communicate(timeout=60)
        return out, err, time.monotonic() - interrupted
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _assert_stopped_cleanly(proc, out, err, model, png, folder) -> None:
    assert proc.returncode == 130, err.decode()
    assert out == b""
    assert not model.exists() and not png.exists()
    assert not [p for p in folder.iterdir()], "no temporary files left behind"


def _wait_until(proc: subprocess.Popen, ready) -> None:
    """Poll ``ready()`` for up to 60 s while the process runs; it must still run afterwards."""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None and not ready():
            time.sleep(0.2)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_ctrl_c_stops_the_workers_and_writes_nothing(tmp_path):
    model, png = tmp_path / "m.joblib", tmp_path / "p.png"
    proc = _start_select([SAMPLE / "blobs.csv", "--exclude", "id", "-k", "1-80"], model, png)
    workers: set[int] = set()

    def two_workers() -> bool:
        workers.update(_descendants(proc.pid))
        return len(workers) >= 2

    _wait_until(proc, two_workers)
    time.sleep(1.0)  # let the workers get into their fits
    out, err, _ = _interrupt(proc)
    _assert_stopped_cleanly(proc, out, err, model, png, tmp_path)
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), "worker processes outlived the interrupt"


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_ctrl_c_stops_threaded_fits_at_once_and_writes_nothing(tmp_path):
    """Data large enough for the fits to run on threads: Ctrl-C must not wait for the fits in
    flight (minutes here), and no worker process is started."""
    data = tmp_path / "wide.csv"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(size=(3000, 20)) + rng.integers(0, 4, size=(3000, 1)) * 3,
        columns=[f"c{i}" for i in range(20)],
    )
    frame.to_csv(data, index=False)  # 3000 x 20^2 = 1.2e6 >= THREADS_MIN_WORK
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    model, png = out_dir / "m.joblib", out_dir / "p.png"
    proc = _start_select([data, "-k", "1-120"], model, png)
    # start-up takes under a second of CPU: by 4 s the fits are running
    _wait_until(proc, lambda: _cpu_seconds(proc.pid) >= 4)
    spawned = _descendants(proc.pid)
    if spawned:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not spawned, "threads, not worker processes"
    out, err, took = _interrupt(proc)
    _assert_stopped_cleanly(proc, out, err, model, png, out_dir)
    assert took < 5, f"exit took {took:.1f} s after Ctrl-C"


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) used so far by a process."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_cli_defaults_are_the_library_defaults():
    import inspect

    from gmmcli.commands.select import select

    params = inspect.signature(select).parameters
    assert params["n_init"].default == sel.DEFAULT_N_INIT
    assert tuple(sel.parse_inits(params["init"].default)) == sel.DEFAULT_INIT
    assert params["ks"].default == "1-10" and params["covariance_types"].default == "all"


def test_select_weights_equal_repeated_rows(gmm, tmp_path):
    """select --weights: integer weights give the grid that repeating the rows gives (one component)."""
    import pandas as pd

    frame = pd.read_csv(SAMPLE / "moons.csv")
    w = np.random.default_rng(0).integers(1, 4, size=len(frame))
    weighted, repeated = tmp_path / "w.csv", tmp_path / "r.csv"
    frame.assign(n=w).to_csv(weighted, index=False)
    frame.loc[frame.index.repeat(w)].to_csv(repeated, index=False)
    a = gmm("select", weighted, "-k", "1", "-t", "full,diag", "--weights", "n", "-j", "1", "-f", "json")
    b = gmm("select", repeated, "-k", "1", "-t", "full,diag", "-j", "1", "-f", "json")
    assert a.code == 0 and b.code == 0, a.err + b.err
    for ra, rb in zip(map(json.loads, a.out.splitlines()), map(json.loads, b.out.splitlines())):
        np.testing.assert_allclose([ra["aic"], ra["bic"]], [rb["aic"], rb["bic"]], rtol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("extra", [(), ("--noise",)], ids=["plain", "noise"])
def test_select_on_dask_equals_local(gmm, extra):
    args = (
        "select",
        SAMPLE / "moons.csv",
        "-k",
        "1-3",
        "-t",
        "full,spherical",
        "--n-init",
        "2",
        "-f",
        "json",
        *extra,
    )
    local = gmm(*args, "-j", "1")
    dask = gmm(*args, "--engine", "dask", "--worker-memory", "600MB")
    assert local.code == 0 and dask.code == 0, dask.err
    fields = ("bic", "noise_weight")
    assert [[json.loads(r)[f] for f in fields] for r in local.out.splitlines()] == [
        [json.loads(r)[f] for f in fields] for r in dask.out.splitlines()
    ]
    assert all((json.loads(r)["noise_weight"] is not None) == bool(extra) for r in dask.out.splitlines())
