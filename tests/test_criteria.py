"""ICL against mclust's icl(), and ICL in select's records and as its --criterion."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, SAMPLE, read_csv_text
from mclust_fits import mclust_params

from gmmcli import selection as sel
from gmmcli.engine import criteria, em

REFERENCE = ROOT / "tests" / "reference"
ICL = json.loads((REFERENCE / "mclust_icl.json").read_text())
FITS = [(name, fit) for name, ds in ICL["datasets"].items() for fit in ds["fits"]]


def data(name: str) -> np.ndarray:
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv").to_numpy(float)


@pytest.mark.parametrize("name, fit", FITS, ids=[f"{n}-{f['model']}{f['G']}" for n, f in FITS])
def test_icl_equals_mclust_icl_from_its_parameters(name, fit):
    """Our ICL of mclust's fitted parameters (our E-step, our log-likelihood) = mclust's icl() of
    the same parameters (``of_parameters``: estep()'s z and loglik)."""
    X, params, own = data(name), mclust_params(fit["model"], fit), fit["of_parameters"]
    entropy = criteria.classification_entropy(X, params)
    assert entropy == pytest.approx(-own["entropy_term"], rel=1e-6, abs=1e-12)
    ll = em.log_likelihood(X, params, threads=1)
    assert ll == pytest.approx(own["loglik"], rel=1e-9)
    assert params.n_parameters == fit["df"]
    icl = criteria.icl(ll, params.n_parameters, len(X), entropy)
    assert icl == pytest.approx(own["icl_lower_better"], rel=1e-6)
    assert icl >= criteria.bic(ll, params.n_parameters, len(X))  # lower is better: ICL never below BIC


@pytest.mark.parametrize("name, fit", FITS, ids=[f"{n}-{f['model']}{f['G']}" for n, f in FITS])
def test_icl_formula_on_mclusts_own_z(name, fit):
    """From Mclust's own z and loglik (which belong to its parameters before the last M-step),
    the formula gives Mclust's icl() exactly."""
    with np.errstate(divide="ignore"):
        log_z = np.log(np.array(fit["z"], dtype=float))
    entropy = criteria.map_entropy(log_z)
    assert entropy == pytest.approx(-fit["entropy_term"], rel=1e-12, abs=1e-15)
    icl = criteria.icl(fit["loglik"], fit["df"], fit["n"], entropy)
    assert icl == pytest.approx(fit["icl_lower_better"], rel=1e-12)


def test_classification_entropy_weights_and_blocks(monkeypatch):
    """Integer weights count as repeated rows, and the block size does not change the sum."""
    name, fit = FITS[0]
    X, params = data(name), mclust_params(fit["model"], fit)
    w = np.arange(len(X)) % 3
    repeated = np.repeat(X, w, axis=0)
    whole = criteria.classification_entropy(X, params, w.astype(float))
    assert whole == pytest.approx(criteria.classification_entropy(repeated, params), rel=1e-12)
    monkeypatch.setattr(criteria, "ENTROPY_BLOCK_ROWS", 7)
    assert criteria.classification_entropy(X, params, w.astype(float)) == pytest.approx(whole, rel=1e-12)


def test_select_records_icl_and_picks_by_it(gmm):
    """icl = bic + 2 x the entropy of the cell's own fit; --criterion icl names the lowest."""
    args = ("select", SAMPLE / "blobs.csv", "-x", "id", "-k", "1-4", "-t", "full,EII")
    args += ("--n-init", "1", "--jobs", "1")
    r = gmm(*args, "--criterion", "icl")
    assert r.code == 0, r.err
    grid = read_csv_text(r.out)
    assert list(grid.columns)[11:13] == ["model", "icl"] and list(grid.columns) == list(sel.FIELDS)
    assert (grid.icl >= grid.bic - 1e-9).all()
    assert (grid.icl[grid.k == 1] == grid.bic[grid.k == 1]).all()  # one component: no entropy
    best = grid.loc[grid.icl.idxmin()]
    assert f"best: {best.covariance_type}, k={best.k}, ICL {best.icl:.2f}" in r.err
    cells = sel.sweep(
        pd.read_csv(SAMPLE / "blobs.csv").drop(columns="id").to_numpy(float), [3], "full", n_init=1, jobs=1
    )
    X = pd.read_csv(SAMPLE / "blobs.csv").drop(columns="id").to_numpy(float)
    entropy = criteria.classification_entropy(X, cells[0].params)
    assert cells[0].icl == pytest.approx(cells[0].bic + 2 * entropy, rel=1e-12)
    assert grid.icl[(grid.k == 3) & (grid.covariance_type == "full")].item() == pytest.approx(cells[0].icl)
