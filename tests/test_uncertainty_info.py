"""predict --uncertainty (mclust's 1 - max_k p) and info's components (size, mean, volume /
shape / orientation)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SAMPLE, read_csv_text
from test_process import _imported_modules

from gmmcli.components import decompose, describe
from gmmcli.model import load_model

BLOBS = SAMPLE / "blobs.csv"


@pytest.fixture(scope="module")
def blobs_vvv(tmp_path_factory):
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("vvv") / "m.joblib"
    assert run(["-q", "fit", str(BLOBS), "-k", "3", "-x", "id", "--seed", "0", "-o", str(path)]) == 0
    return path


def test_uncertainty_is_one_minus_the_largest_probability(gmm, blobs_vvv):
    r = gmm("predict", blobs_vvv, BLOBS, "--keep", "id", "--uncertainty")
    assert r.code == 0, r.err
    out = read_csv_text(r.out)
    assert list(out.columns) == ["id", "label", "uncertainty"]
    proba = read_csv_text(gmm("proba", blobs_vvv, BLOBS).out).to_numpy()
    assert out.uncertainty.to_numpy() == pytest.approx(1 - proba.max(axis=1), abs=1e-12)
    assert (out.label.to_numpy() == proba.argmax(axis=1)).all()
    assert out.uncertainty.between(0, 1 - 1 / 3).all() and out.uncertainty.max() > 0.1
    plain = read_csv_text(gmm("predict", blobs_vvv, BLOBS, "--keep", "id").out)
    assert plain.equals(out[["id", "label"]])  # the labels do not change


def test_uncertainty_with_noise_counts_the_noise_component(gmm, tmp_path):
    path = tmp_path / "noise.joblib"
    assert gmm("fit", BLOBS, "-x", "id", "-k", "3", "--noise", "-o", path).code == 0
    out = read_csv_text(gmm("predict", path, BLOBS, "--uncertainty").out)
    proba = read_csv_text(gmm("proba", path, BLOBS).out).to_numpy()  # p0..p2 and p_noise
    assert out.uncertainty.to_numpy() == pytest.approx(1 - proba.max(axis=1), abs=1e-12)


def test_uncertainty_bad_uses(gmm, blobs_vvv):
    r = gmm("predict", blobs_vvv, BLOBS, "--keep", "uncertainty", "--uncertainty")
    assert r.code == 2 and "has the name of an output column" in r.err
    r = gmm("predict", blobs_vvv, BLOBS, "--uncertainty", "--engine", "dask", "-o", "out")
    assert r.code == 2 and "--uncertainty is not available with --engine dask" in r.err


def test_predict_uncertainty_stays_light(blobs_vvv):
    modules = _imported_modules("predict", blobs_vvv, BLOBS, "--uncertainty")
    heavy = {m.split(".")[0] for m in modules} & {"sklearn", "scipy", "pandas"}
    assert not heavy, sorted(heavy)


@pytest.mark.parametrize("seed", range(4))
def test_decompose_rebuilds_the_covariance(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((3, 3))
    sigma = a @ a.T + 0.1 * np.eye(3)
    volume, shape, d = decompose(sigma)
    assert volume == pytest.approx(np.linalg.det(sigma) ** (1 / 3), rel=1e-12)
    assert np.prod(shape) == pytest.approx(1.0, rel=1e-12)
    assert np.all(np.diff(shape) <= 0)
    assert d.T @ d == pytest.approx(np.eye(3), abs=1e-12)
    assert volume * d @ np.diag(shape) @ d.T == pytest.approx(sigma, rel=1e-10, abs=1e-12)
    assert np.all(d[np.argmax(np.abs(d), axis=0), range(3)] > 0)  # signs fixed


def test_decompose_of_the_restricted_models():
    volume, shape, d = decompose(np.diag([1.0, 4.0]))  # diagonal: axes are the features
    assert volume == pytest.approx(2.0) and shape == pytest.approx([2.0, 0.5])
    assert d == pytest.approx(np.array([[0.0, 1.0], [1.0, 0.0]]))
    volume, shape, _ = decompose(3.0 * np.eye(2))  # spherical: shape all ones
    assert volume == pytest.approx(3.0) and shape == pytest.approx([1.0, 1.0])


@pytest.mark.parametrize("model", ["EII", "VVI", "EEE", "VEV"])
def test_info_json_has_the_components(gmm, tmp_path, model):
    path = tmp_path / f"{model}.joblib"
    assert gmm("fit", BLOBS, "-x", "id", "-k", "3", "-t", model, "-o", path).code == 0
    r = gmm("info", path, "--json")
    assert r.code == 0, r.err
    components = json.loads(r.out)["components"]
    m = load_model(path)
    assert components == describe(m) and len(components) == 3
    p = m.params
    cov = p.structure.matrices(p.covariances, 3, 2)
    for j, c in enumerate(components):
        assert c["weight"] == pytest.approx(p.weights[j]) and c["mean"] == pytest.approx(p.means[j].tolist())
        assert c["expected_rows"] == pytest.approx(p.weights[j] * 400)
        d = np.array(c["orientation"])
        assert c["volume"] * d @ np.diag(c["shape"]) @ d.T == pytest.approx(cov[j], rel=1e-9)
    volumes = [c["volume"] for c in components]
    shapes = np.array([c["shape"] for c in components])
    if model[0] == "E":
        assert volumes == pytest.approx([volumes[0]] * 3, rel=1e-9)  # equal volume
    if model[1] in "EI":
        assert shapes == pytest.approx(np.repeat(shapes[:1], 3, axis=0), rel=1e-9)  # equal shape
    if model == "EII":
        assert shapes == pytest.approx(np.ones((3, 2)))


def test_info_table_shows_the_components(gmm, blobs_vvv):
    r = gmm("info", blobs_vvv)
    assert r.code == 0, r.err
    assert "components: Sigma = volume x D diag(shape) D^T" in r.out
    for name in ("label", "weight", "rows", "mean", "volume", "shape", "orientation"):
        assert name in r.out
