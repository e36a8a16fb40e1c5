"""The bootstrap likelihood-ratio test (gmmcli lrt) against mclust's mclustBootstrapLRT."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, read_csv_text
from mclust_fits import mclust_params

from gmmcli import bootstrap_lrt as lr
from gmmcli import parallel
from gmmcli.engine import em

REFERENCE = ROOT / "tests" / "reference"
LRT = json.loads((REFERENCE / "mclust_lrt.json").read_text())
FITS = {
    (r["dataset"], r["model"]): r
    for r in json.loads((REFERENCE / "mclust_lrt_fits.json").read_text())["runs"]
}
RUNS = [(r["dataset"], r["model"]) for r in LRT["runs"]]
FAITHFUL = REFERENCE / "data" / "faithful.csv"
QUICK = ("--n-init", "1", "--jobs", "1", "--seed", "3", "--tol", "1e-3")
LOOSE = lr.RefitSettings(tol=1e-3, max_iter=200)  # tests of the logic, not of EM's precision


def data(name: str) -> np.ndarray:
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv").to_numpy(float)


def fits_of(dataset: str, model: str, own: bool = False) -> dict[int, lr.Fit]:
    """mclust's fits, with mclust's log-likelihoods or (own) ours of its parameters."""
    X, out = data(dataset), {}
    for f in FITS[(dataset, model)]["fits"]:
        params = mclust_params(model, f)
        out[f["G"]] = lr.Fit(f["G"], params, em.log_likelihood(X, params, threads=1) if own else f["loglik"])
    return out


@pytest.mark.parametrize("dataset, model", RUNS)
def test_statistics_equal_mclusts_given_the_same_fits(dataset, model):
    run = next(r for r in LRT["runs"] if (r["dataset"], r["model"]) == (dataset, model))
    mclust, ours = fits_of(dataset, model), fits_of(dataset, model, own=True)
    stored = {f["G"]: f for f in FITS[(dataset, model)]["fits"]}
    for test in run["tests"]:
        g = test["g0"]
        assert lr.statistic(mclust[g].log_likelihood, mclust[g + 1].log_likelihood) == pytest.approx(
            test["obs"], rel=1e-6
        )
        # our log-likelihood of mclust's parameters is estep()'s, so the statistic of those fits is too
        for j in (g, g + 1):
            assert ours[j].log_likelihood == pytest.approx(stored[j]["loglik_of_parameters"], rel=1e-9)
        expected = 2 * (stored[g + 1]["loglik_of_parameters"] - stored[g]["loglik_of_parameters"])
        assert lr.statistic(ours[g].log_likelihood, ours[g + 1].log_likelihood) == pytest.approx(
            expected, rel=1e-6
        )
    # and a step run from mclust's fits reports mclust's statistic
    step = lr.bootstrap_step(mclust[1], mclust[2], run["n"], n_boot=3, seed=0, jobs=1)
    assert step.lrts == pytest.approx(run["tests"][0]["obs"], rel=1e-6)
    assert (step.model, step.k0, step.k1) == (model, 1, 2)


def test_p_value_is_mclusts_formula():
    boot = np.array([1.0, 2.0, 3.0, 4.0, 2.5])
    assert lr.p_value(boot, 2.5) == (1 + 3) / 6
    assert lr.p_value(boot, 10.0) == 1 / 6
    assert lr.p_value(boot, -1.0) == 1.0


def test_p_values_with_a_few_replicates():
    """From mclust's faithful EEE fits: 1 vs 2 (LRTS 299) is beyond every replicate, so p is the
    floor 1/(B+1); 3 vs 4 (LRTS -0.09, mclust's p 0.978) is not rejected."""
    fits, n = fits_of("faithful", "EEE"), 272
    first = lr.bootstrap_step(fits[1], fits[2], n, n_boot=19, seed=0, jobs=1, refit=LOOSE)
    assert first.n_boot_ge == 0 and first.p_value == pytest.approx(1 / 20) and first.rejected
    assert 0 < first.boot_median < 20  # a chi-square-like spread, far below 299
    third = lr.bootstrap_step(fits[3], fits[4], n, n_boot=19, seed=0, jobs=1, level=0.05, refit=LOOSE)
    assert third.p_value > 0.5 and not third.rejected


def test_the_same_replicates_for_any_jobs():
    """Replicate b draws from its own seed: one process, two worker processes, threads agree."""
    fits, n = fits_of("faithful", "EEE"), 272
    one = lr.bootstrap_step(fits[2], fits[3], n, n_boot=6, seed=5, jobs=1, refit=LOOSE).boot
    two = lr.bootstrap_step(fits[2], fits[3], n, n_boot=6, seed=5, jobs=2, refit=LOOSE).boot
    assert np.array_equal(one, two)
    work = [(fits[2], fits[3], n, 5, [b], LOOSE) for b in range(6)]
    threads = list(parallel.unordered(lr._replicates, work, 2, "threads"))
    assert np.array_equal(np.array([v for _, (v,), _ in sorted(threads)]), one)
    other = lr.bootstrap_step(fits[2], fits[3], n, n_boot=6, seed=6, jobs=1, refit=LOOSE).boot
    assert not np.array_equal(one, other)


def test_sequence_stops_at_the_first_k_not_rejected():
    fits = fits_of("faithful", "VVV")  # mclust: 1 vs 2 rejected, 2 vs 3 not (p 0.577)
    X = data("faithful")
    settings = dict(n_boot=9, level=0.1, seed=0, fits=fits, jobs=1, refit=LOOSE)
    result = lr.sequential(X, "VVV", max_k=3, **settings)
    assert [s.k0 for s in result.steps] == [1, 2] and result.n_components == 2
    every = lr.sequential(X, "VVV", max_k=3, run_all=True, **settings)
    assert [s.k0 for s in every.steps] == [1, 2, 3] and every.n_components == 2
    assert [s.record() for s in every.steps[:2]] == [s.record() for s in result.steps]
    assert list(every.records()[0]) == list(lr.FIELDS)


def test_cli_lrt_csv_and_verdict(gmm):
    r = gmm("lrt", FAITHFUL, "-t", "EEE", "--max-k", "2", "-B", "9", "--all", "--level", "0.2", *QUICK)
    assert r.code == 0, r.err
    grid = read_csv_text(r.out)
    assert list(grid.columns) == list(lr.FIELDS)
    assert list(grid.k0) == [1, 2] and list(grid.k1) == [2, 3] and set(grid.model) == {"EEE"}
    assert grid.lrts.tolist() == pytest.approx((2 * (grid.log_likelihood1 - grid.log_likelihood0)).tolist())
    assert (grid.p_value == (1 + grid.n_boot_ge) / 10).all()
    assert grid.rejected[0]  # 1 vs 2 on faithful: LRTS ~300
    assert "lrt: EEE, " in r.err
    again = gmm(
        "lrt",
        FAITHFUL,
        "-t",
        "EEE",
        "--max-k",
        "2",
        "-B",
        "9",
        "--all",
        "-f",
        "json",
        "--level",
        "0.2",
        *QUICK,
    )
    assert [json.loads(line)["lrts"] for line in again.out.splitlines()] == pytest.approx(grid.lrts.tolist())


def test_cli_lrt_table(gmm):
    r = gmm("lrt", FAITHFUL, "-t", "tied", "--max-k", "1", "-B", "4", "--format", "table", *QUICK)
    assert r.code == 0, r.err
    assert "Bootstrap LRT, EEE: 4 replicates per test" in r.out and "1 vs 2" in r.out
    assert "kept *" in r.out and "the first k not rejected" in r.out
    # 4 replicates: p >= 1/5, so nothing can be rejected at 0.05, and gmmcli says so
    assert "lrt: EEE, 1 component (1 vs 2: p = 0.2 > 0.05)" in r.err
    assert "warning: with 4 replicates the smallest p-value is 0.2" in r.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["-t", "all"], "-t takes one covariance model"),
        (["-t", "full,tied"], "-t takes one covariance model"),
        (["-t", "XYZ"], "unknown covariance type"),
        (["-B", "0"], "--n-boot must be a positive number"),
        (["--level", "1.5"], "--level must lie strictly between 0 and 1"),
        (["--max-k", "0"], "--max-k must be at least 1"),
        (["--format", "xml"], "unknown format"),
        (["--tol", "-1"], "--tol must not be negative"),
        (["--rtol", "-1"], "--rtol must be a finite number >= 0"),
    ],
)
def test_cli_lrt_bad_options(gmm, args, message):
    r = gmm("lrt", FAITHFUL, *args)
    assert r.code == 2, r.err
    assert r.err.startswith("error: ") and message in r.err and len(r.err.strip().splitlines()) == 1
    assert r.out == ""


def test_cli_lrt_no_test_possible(gmm, tmp_path):
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("a,b\n1,2\n3,5\n4,4\n")
    r = gmm("lrt", tiny, "-t", "VVV", "--max-k", "2", "-B", "3", *QUICK)
    assert r.code == 65, r.err
    assert "no test can be run: 2 components cannot be fitted" in r.err
    assert r.out == ""


def test_em_stops_as_mclusts_by_default():
    """mclust's relative rule |dL| < rtol (1 + |L|) as gmmcli's per-row tolerance; --tol replaces it."""
    assert lr.RefitSettings().tol_for(-1130.0, 272) == pytest.approx(1e-5 * 1131 / 272)
    assert lr.RefitSettings(rtol=1e-4).tol_for(2000.0, 100) == pytest.approx(1e-4 * 2001 / 100)
    assert lr.RefitSettings(tol=1e-3).tol_for(-1130.0, 272) == 1e-3
