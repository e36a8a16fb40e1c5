"""The model file: plain data only, refused when it is anything else, and a usable Python API."""

from __future__ import annotations

import json
import os
import pickle

import joblib
import numpy as np
import pytest
from conftest import SAMPLE, load_xy

from gmmcli import load_model
from gmmcli.errors import DataError


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("m") / "blobs.joblib"
    assert (
        run(["-q", "fit", str(SAMPLE / "blobs.csv"), "-k", "4", "-x", "id", "--seed", "0", "-o", str(path)])
        == 0
    )
    return path


def test_file_is_a_plain_joblib_dict(model_path):
    data = joblib.load(model_path)  # joblib itself reads it: the format is standard
    assert data["format"] == "gmmcli-model"
    assert data["covariance_type"] == "full"
    assert data["means"].shape == (4, 2)


def test_load_model_api(model_path):
    model = load_model(model_path)
    X = load_xy("blobs.csv")
    assert model.predict(X).shape == (400,)
    assert np.allclose(model.predict_proba(X).sum(axis=1), 1.0)
    draws, labels = model.sample(10, seed=1)
    assert draws.shape == (10, 2) and set(labels) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(model.to_sklearn().predict(X), model.predict(X))


def test_info_table_and_json(gmm, model_path):
    res = gmm("info", model_path)
    assert res.code == 0 and "covariance_type" in res.out and "bic" in res.out
    res = gmm("info", model_path, "--json", "--params")
    info = json.loads(res.out)
    assert info["n_components"] == 4 and len(info["weights"]) == 4


class _Payload:
    """A pickle that would create a file when loaded."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def _assert_refused(gmm, path, message):
    res = gmm("predict", path, SAMPLE / "blobs.csv")
    assert res.code == 65, res.err
    assert res.err.startswith("error: ") and res.err.count("\n") == 1
    assert message in res.err
    assert res.out == ""


def test_malicious_pickle_never_runs(gmm, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    joblib.dump({"format": "gmmcli-model", "x": _Payload(marker)}, evil)
    with pytest.raises(DataError):
        load_model(evil)
    _assert_refused(gmm, evil, "refusing to load posix.system")
    assert not marker.exists()


def test_plain_pickle_payload_never_runs(gmm, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    _assert_refused(gmm, evil, "not a gmmcli model")
    assert not marker.exists()


def test_truncated_model_is_refused(gmm, model_path, tmp_path):
    cut = tmp_path / "cut.joblib"
    cut.write_bytes(model_path.read_bytes()[:300])
    _assert_refused(gmm, cut, "")


def test_foreign_joblib_is_refused(gmm, tmp_path):
    other = tmp_path / "other.joblib"
    joblib.dump({"weights": np.ones(3)}, other)
    _assert_refused(gmm, other, "is not a gmmcli model")


def test_newer_format_asks_for_upgrade(gmm, model_path, tmp_path):
    data = joblib.load(model_path)
    data["format_version"] = 99
    data["versions"]["gmmcli"] = "9.0.0"
    newer = tmp_path / "newer.joblib"
    joblib.dump(data, newer)
    _assert_refused(gmm, newer, "made by gmmcli 9.0.0")
