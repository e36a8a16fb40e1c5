"""Degenerate components (held up only by reg_covar) never win a grid, and fit says so.

tests/data/degenerate_integers.csv: two integer-valued blobs of 60 rows in 3 dimensions, and 3
rows far away (3 rows in 3 dimensions always lie on a plane). k-means puts those 3 rows into a
component of their own once k >= 4: a covariance eigenvalue of exactly 0, a spurious maximum of
the likelihood whose BIC beats every sound fit.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from gmmcli import selection as sel
from gmmcli.engine import criteria, em

DATA = ROOT / "tests" / "data" / "degenerate_integers.csv"


@pytest.fixture(scope="module")
def X():
    return pd.read_csv(DATA).to_numpy(dtype=float)


def test_kmeans_restarts_find_a_spurious_maximum_that_would_win(X):
    spurious = em.fit(X, 4, covariance_type="full", n_init=10, seed=0, score=True)
    sound = em.fit(X, 2, covariance_type="full", n_init=10, seed=0, score=True)
    assert spurious.degenerate and not sound.degenerate
    assert (
        spurious.degenerate[0].startswith("component ")
        and "holds 3.0 rows in 3 dimensions" in spurious.degenerate[0]
    )
    p4, p2 = (em.covariance.get("full").n_parameters(k, 3) for k in (4, 2))
    # without the rule the degenerate fit would be the BIC winner
    assert criteria.bic(spurious.log_likelihood, p4, len(X)) < criteria.bic(sound.log_likelihood, p2, len(X))


def test_the_grid_never_crowns_a_degenerate_fit(X):
    cells = sel.sweep(
        X, range(1, 6), ["full", "tied"], n_init=10, init="kmeans", tol=1e-3, max_iter=100, seed=0, jobs=1
    )
    winner = sel.best(cells, "bic")
    failed = [c for c in cells if c.error]
    assert failed and all(c.error.startswith("degenerate: component") for c in failed)
    assert all(math.isnan(c.bic) and math.isnan(c.aic) for c in failed)
    assert winner.error is None and (winner.covariance_type, winner.k) == ("tied", 3)  # the 3 rows pooled
    assert all(c.k >= 4 for c in failed if c.covariance_type == "full")


def test_the_default_search_never_crowns_a_degenerate_fit_either(X):
    cells = sel.sweep(X, range(1, 6), "all", seed=0, jobs=1)
    winner = sel.best(cells, "bic")
    assert winner.error is None and not math.isnan(winner.bic)
    assert any(c.error for c in cells) and all(
        c.error is None or c.error.startswith("degenerate: ") for c in cells
    )


def test_a_pooled_covariance_is_not_degenerate_for_a_small_component(X):
    fit = em.fit(X, 4, covariance_type="tied", n_init=10, seed=0)
    assert fit.degenerate == ()


def test_fit_warns_and_strict_refuses(gmm, tmp_path):
    out = tmp_path / "m.joblib"
    loose = gmm("fit", DATA, "-k", "4", "--n-init", "10", "--seed", "0", "-o", out)
    assert loose.code == 0 and "warning: degenerate fit: component" in loose.err and out.exists()
    out.unlink()
    strict = gmm("fit", DATA, "-k", "4", "--n-init", "10", "--seed", "0", "--strict", "-o", out)
    assert strict.code == 3 and not out.exists()
    assert strict.err.count("\n") == 1 and strict.err.startswith("error: degenerate fit: component")


def test_restarts_prefer_a_sound_fit_to_a_degenerate_one():
    a = em.FitResult(None, True, 3, -1.0, degenerate=("component 0 holds 1.0 rows in 2 dimensions",))
    b = em.FitResult(None, True, 3, -5.0)
    c = em.FitResult(None, False, 0, -math.inf, failed="ill-defined")
    assert em.best_restart([a, b, c]) is b
    assert em.best_restart([c, a]) is a
    with pytest.raises(em.IllDefinedCovariance):
        em.best_restart([c])
    assert np.isfinite(b.lower_bound)
