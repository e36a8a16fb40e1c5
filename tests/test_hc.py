"""gmmcli.engine.hc against R mclust 6.0.0's hc / hclass (tests/reference/mclust_hc.json).

The reference holds, per data set and for use = "SVD" (what Mclust passes) and "VARS" (hc()'s own
default), mclust's transformed data z, its merge pairs, its merge costs and hclass(h, 2:9). The
agglomeration is checked on mclust's own z (same bits in, so the same merges out, ties included)
and end to end from the raw rows (our SVD, then the agglomeration). R is not needed to run these.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from numpy.testing import assert_allclose, assert_array_equal

from gmmcli.engine.hc import MAX_ROWS, hc_partitions, hc_start, hc_transform, hc_tree

REF = ROOT / "tests" / "reference"
DOC = json.loads((REF / "mclust_hc.json").read_text())
SETS = DOC["sets"]
REAL = ["diabetes", "iris", "faithful", "banknote", "thyroid", "wreath"]
KS = range(2, 10)


def _data(name):
    if "x" in SETS[name]:
        return np.array(SETS[name]["x"], dtype=float)
    return np.loadtxt(REF / "data" / f"{name}.csv", delimiter=",", skiprows=1)


def _ref(name, use):
    r = SETS[name][use]
    return (np.array(r["z"]), np.array(r["merges"]) - 1, np.array(r["costs"]), np.array(r["hclass"]) - 1)


_TREES: dict = {}


def _tree(name, use):
    """Our merges from the raw rows (cached: several tests look at the same trees)."""
    if (name, use) not in _TREES:
        _TREES[name, use] = hc_tree(_data(name), use=use)
    return _TREES[name, use]


def _same_partition(a, b):
    """The contingency table of two labellings is a permutation matrix."""
    ka, kb = a.max() + 1, b.max() + 1
    table = np.zeros((ka, kb), dtype=int)
    np.add.at(table, (a, b), 1)
    return ka == kb and ((table > 0).sum(axis=0) == 1).all() and ((table > 0).sum(axis=1) == 1).all()


def test_reference_is_mclust_6_defaults():
    assert DOC["mclust"].startswith("6.")
    assert DOC["options"] == {"hcModelName": "VVV", "hcUse": "SVD", "subset": MAX_ROWS}


@pytest.mark.parametrize("name", REAL + ["ties"])
@pytest.mark.parametrize("use", ["SVD", "VARS"])
def test_transformed_data_equals_mclust(name, use):
    z = _ref(name, use)[0]
    ours = hc_transform(_data(name), use)
    assert ours.shape == z.shape
    assert_allclose(ours, z, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", REAL + ["ties"])
@pytest.mark.parametrize("use", ["SVD", "VARS"])
def test_agglomeration_of_mclusts_data_is_mclusts(name, use):
    """On the very data hcvvv agglomerated: every merge equal, costs to 1e-10."""
    z, merges, costs, _ = _ref(name, use)
    ours, our_costs = hc_tree(z, use="VARS", costs=True)
    assert_array_equal(ours, merges)
    assert_allclose(our_costs, costs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize("use", ["SVD", "VARS"])
def test_partitions_from_raw_rows_equal_hclass(name, use):
    _, merges, _, hclass = _ref(name, use)
    ours = _tree(name, use)
    assert_array_equal(ours, merges)  # the whole sequence, not only its last eight merges
    parts = hc_partitions(ours, len(ours) + 1, KS)
    for k in KS:
        assert _same_partition(parts[k], hclass[:, k - 2]), k
        assert_array_equal(parts[k], hclass[:, k - 2])  # numbered as partconv numbers them, too


def test_ties_from_raw_rows_break_on_rounding():
    """Documented limit: on a small-integer grid, SVD'd rows tie up to rounding, and our SVD's last
    bits are not R's; the raw-row VARS tree, whose ties are exact, is mclust's to the last merge."""
    X = _data("ties")
    assert_array_equal(hc_tree(X, use="VARS"), _ref("ties", "VARS")[1])
    tree = hc_tree(X)
    assert sorted(np.unique(tree[:, 1])) == sorted(set(range(len(X))) - {0})  # still one full tree


def test_deterministic():
    X = _data("thyroid")
    a, ca = hc_tree(X, costs=True)
    b, cb = hc_tree(X.copy(), costs=True)
    assert_array_equal(a, b)
    assert_array_equal(ca, cb)


def test_partitions_nest_and_number_in_order_of_appearance():
    merges = _tree("iris", "SVD")
    n = len(merges) + 1
    parts = hc_partitions(merges, n, [1, 2, 3, 5, 150, 3])
    assert sorted(parts) == [1, 2, 3, 5, 150]
    assert_array_equal(parts[1], np.zeros(n))
    assert_array_equal(parts[n], np.arange(n))
    for k in (2, 3, 5):
        lab = parts[k]
        assert set(lab) == set(range(k))
        _, first = np.unique(lab, return_index=True)
        assert (np.diff(first) > 0).all()  # label l first appears before label l + 1
    for fine, coarse in ((3, 2), (5, 3)):  # each cluster at k + 1 lies inside one at k
        pairs = set(zip(parts[fine], parts[coarse]))
        assert len(pairs) == fine


def test_start_on_all_rows_below_the_threshold():
    X = _data("banknote")
    start = hc_start(X, [2, 3])
    assert_array_equal(start.rows, np.arange(len(X)))
    _, _, _, hclass = _ref("banknote", "SVD")
    assert_array_equal(start.labels[2], hclass[:, 0])
    assert_array_equal(start.labels[3], hclass[:, 1])


def test_start_on_a_seeded_subset_above_it():
    X = _data("wreath")  # 1000 rows
    a = hc_start(X, [3, 7], max_rows=300, seed=5)
    b = hc_start(X, [3, 7], max_rows=300, seed=5)
    c = hc_start(X, [3, 7], max_rows=300, seed=6)
    assert len(a.rows) == 300 and (np.diff(a.rows) > 0).all() and a.rows[-1] < len(X)
    assert_array_equal(a.rows, b.rows)
    assert not np.array_equal(a.rows, c.rows)
    assert_array_equal(a.labels[7], b.labels[7])
    # the partition is the agglomeration of those rows, transformed on their own (as Mclust does)
    assert_array_equal(a.labels[3], hc_partitions(hc_tree(X[a.rows]), 300, [3])[3])
    assert set(a.labels[3]) == {0, 1, 2} and len(a.labels[7]) == 300


def test_degenerate_columns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Xc = np.column_stack([X, np.full(40, 2.5)])  # a constant column: dropped, as mclust drops it
    assert_allclose(hc_transform(Xc), hc_transform(X), atol=1e-12)
    Xd = np.column_stack([X, X[:, 0] * 2 + X[:, 1]])  # a collinear column: its null direction goes
    Z = hc_transform(Xd)
    assert Z.shape == (40, 3) and np.isfinite(Z).all()
    assert_array_equal(hc_tree(np.vstack([X[:5], X[:5]])).shape, (9, 2))  # all rows duplicated


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((np.array([1.0, 2.0, 3.0]),), {}),
        ((np.array([[1.0, np.nan], [2.0, 3.0]]),), {}),
        ((np.ones((1, 2)),), {}),
        ((np.ones((5, 2)),), {}),  # no column varies
        ((np.eye(3),), {"use": "PCS"}),
    ],
)
def test_bad_input(args, kwargs):
    with pytest.raises(ValueError):
        hc_tree(*args, **kwargs)


def test_bad_ks():
    merges = _tree("iris", "SVD")
    for ks in ([0], [151]):
        with pytest.raises(ValueError):
            hc_partitions(merges, 150, ks)
    with pytest.raises(ValueError):
        hc_partitions(merges, 149, [2])


def test_fit_path_imports_numpy_only():
    code = "import sys, gmmcli.engine.hc; print(sorted({m.split('.')[0] for m in sys.modules}))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert not {"scipy", "sklearn", "pandas"} & set(eval(out.stdout))
