"""A model file cannot run code, and a damaged one is refused: every hostile or broken file.

Each hostile payload would create a marker file if it ran; every test asserts the marker does not
exist after gmmcli has refused the file with exit 65 and a one-line message.
"""

from __future__ import annotations

import builtins
import os
import pathlib
import pickle
import random
import subprocess

import joblib
import numpy as np
import pytest
from conftest import SAMPLE

from gmmcli.errors import DataError
from gmmcli.io.model_file import UnsafeFile, check_plain, dump_sealed, load_plain
from gmmcli.model import FORMAT_VERSION, load_model, save_model


@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    """A sealed model file written by gmmcli fit, and its bytes."""
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("good") / "good.joblib"
    assert (
        run(["-q", "fit", str(SAMPLE / "blobs.csv"), "-k", "3", "-x", "id", "--seed", "0", "-o", str(path)])
        == 0
    )
    return path


class Reduce:
    """An object whose unpickling calls ``func(*args)``."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _payloads(marker):
    m = str(marker)
    return {
        "os.system": Reduce(os.system, f"touch {m}"),
        "subprocess.Popen": Reduce(subprocess.Popen, ["touch", m]),
        "subprocess.call": Reduce(subprocess.call, ["touch", m]),
        "subprocess.check_output": Reduce(subprocess.check_output, ["touch", m]),
        "builtins.eval": Reduce(eval, f"open({m!r}, 'w').close()"),
        "builtins.exec": Reduce(exec, f"open({m!r}, 'w').close()"),
        "builtins.open": Reduce(builtins.open, m, "w"),
        "os.popen": Reduce(os.popen, f"touch {m}"),
        "pathlib.Path.touch": Reduce(pathlib.Path.touch, pathlib.Path(m)),
    }


PAYLOAD_NAMES = list(_payloads("x"))


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_payloads_are_real(tmp_path, name):
    """Control: with plain pickle each payload does create its marker, so the tests below,
    which assert the marker is absent, test something."""
    marker = tmp_path / "PWNED"
    result = pickle.loads(pickle.dumps(_payloads(marker)[name], protocol=4))
    for method in ("wait", "close"):  # Popen runs in the background; popen/open need closing
        if hasattr(result, method):
            getattr(result, method)()
    assert marker.exists()


def _model_dict(good_model) -> dict:
    return load_model(good_model).to_dict()


def _assert_refused(gmm, path, marker):
    result = gmm("info", path, "--json")
    assert result.code == 65, result.err
    assert result.err.startswith("error: ") and len(result.err.splitlines()) == 1, result.err
    assert "Traceback" not in result.err
    assert not marker.exists(), "the payload ran"
    with pytest.raises(DataError):
        load_model(path)
    assert not marker.exists(), "the payload ran"
    return result.err


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_reduce_payload_in_pickle_is_refused(gmm, tmp_path, good_model, name, protocol):
    marker = tmp_path / "PWNED"
    data = _model_dict(good_model)
    data["fit_settings"] = {"seed": [1, {"hidden": _payloads(marker)[name]}]}  # buried deep
    path = tmp_path / "evil.joblib"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    err = _assert_refused(gmm, path, marker)
    assert "refusing" in err or "not an uncompressed joblib file" in err


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_reduce_payload_written_by_joblib_and_sealed_is_refused(gmm, tmp_path, good_model, name):
    """A valid checksum proves the file is intact, not that it is harmless."""
    import hashlib

    marker = tmp_path / "PWNED"
    data = _model_dict(good_model)
    data["evil"] = _payloads(marker)[name]
    path = tmp_path / "evil.joblib"
    joblib.dump(data, path)
    body = path.read_bytes()
    path.write_bytes(body + b"#gmmcli-sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n")
    assert "refusing" in _assert_refused(gmm, path, marker)


def test_protocol0_inst_opcode_is_refused(gmm, tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "inst.joblib"
    # protocol 0: MARK, string arg, INST os system  -> os.system("touch marker")
    path.write_bytes(b"\x80\x02(S'touch " + str(marker).encode() + b"'\nios\nsystem\n.")
    _assert_refused(gmm, path, marker)


def test_object_dtype_array_is_refused(gmm, tmp_path, good_model):
    marker = tmp_path / "PWNED"
    data = _model_dict(good_model)
    data["means"] = np.array([_payloads(marker)["os.system"], 1.0], dtype=object)
    path = tmp_path / "objarray.joblib"
    joblib.dump(data, path)
    assert "dtype object" in _assert_refused(gmm, path, marker)


@pytest.mark.parametrize("dtype", ["U3", "S3", "M8[s]", "V8", [("a", "f8"), ("b", "f8")]])
def test_non_numeric_dtype_arrays_are_refused(gmm, tmp_path, good_model, dtype):
    data = _model_dict(good_model)
    data["weights"] = np.zeros(3, dtype=dtype)
    path = tmp_path / "dtype.joblib"
    joblib.dump(data, path)
    _assert_refused(gmm, path, tmp_path / "none")


@pytest.mark.parametrize("obj", ["class", "sklearn", "numpy-scalar", "set", "pandas"])
def test_joblib_files_of_objects_are_refused(gmm, tmp_path, good_model, obj):
    import pandas as pd

    data = _model_dict(good_model)
    if obj == "class":
        data = Reduce(print, "hi")  # an arbitrary object as the whole file
    elif obj == "sklearn":
        data = load_model(good_model).to_sklearn()
    elif obj == "numpy-scalar":
        data["aic"] = np.float64(1.0)
    elif obj == "set":
        data["extra"] = {1, 2}
    else:
        data["frame"] = pd.DataFrame({"a": [1.0]})
    path = tmp_path / "object.joblib"
    joblib.dump(data, path)
    _assert_refused(gmm, path, tmp_path / "none")


def test_compressed_joblib_is_refused(gmm, tmp_path, good_model):
    path = tmp_path / "z.joblib"
    joblib.dump(_model_dict(good_model), path, compress=3)
    assert "not an uncompressed joblib file" in _assert_refused(gmm, path, tmp_path / "none")


def test_newer_format_says_which_gmmcli_and_to_upgrade(gmm, tmp_path, good_model):
    data = _model_dict(good_model)
    data["format_version"] = FORMAT_VERSION + 1
    data["versions"]["gmmcli"] = "7.3.0"
    path = tmp_path / "future.joblib"
    dump_sealed(data, path)
    err = _assert_refused(gmm, path, tmp_path / "none")
    assert "made by gmmcli 7.3.0" in err and "upgrade gmmcli" in err


def test_every_truncation_is_refused(gmm, tmp_path, good_model):
    body = good_model.read_bytes()
    cuts = sorted(set(range(0, 64)) | set(random.Random(0).sample(range(len(body)), 60)) | {len(body) - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.joblib"
        path.write_bytes(body[:cut])
        result = gmm("predict", path, SAMPLE / "blobs.csv")
        assert result.code == 65, (cut, result.err)
        assert len(result.err.splitlines()) == 1 and result.out == "", (cut, result.err)


def test_every_bit_flip_is_refused(tmp_path, good_model):
    """300 random single-bit flips anywhere (header, metadata, arrays, checksum line)."""
    body = good_model.read_bytes()
    rng = random.Random(1)
    path = tmp_path / "flip.joblib"
    positions = [rng.randrange(len(body)) for _ in range(300)] + list(range(len(body) - 80, len(body)))
    for position in positions:
        flipped = bytearray(body)
        flipped[position] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(flipped))
        with pytest.raises(DataError):
            load_model(path)


def test_bit_flip_in_array_data_is_caught_by_the_checksum(tmp_path, good_model):
    """A flip in a float's mantissa parses fine: only the checksum can tell."""
    body = good_model.read_bytes()
    means = load_model(good_model).params.means
    offset = body.find(means.tobytes())
    assert offset > 0
    flipped = bytearray(body)
    flipped[offset] ^= 0x01
    path = tmp_path / "mantissa.joblib"
    path.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="checksum mismatch"):
        load_model(path)


def test_sealed_file_round_trips_and_stays_joblib_compatible(tmp_path, good_model):
    model = load_model(good_model)
    path = tmp_path / "again.joblib"
    save_model(model, path)
    again = load_model(path)
    np.testing.assert_array_equal(again.params.covariances, model.params.covariances)
    assert again.meta == model.meta
    assert joblib.load(path)["format"] == "gmmcli-model"  # joblib ignores the trailer
    assert path.read_bytes()[-80:].startswith(b"#gmmcli-sha256:")


def test_unsealed_file_still_loads_but_not_with_trailing_garbage(tmp_path, good_model):
    data = _model_dict(good_model)
    path = tmp_path / "plain.joblib"
    joblib.dump(data, path)
    assert load_model(path).n_components == 3
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(DataError, match="after the end"):
        load_model(path)


def test_cycles_and_reference_bombs_are_refused(tmp_path):
    cyclic: list = [1]
    cyclic.append(cyclic)
    path = tmp_path / "cycle.joblib"
    path.write_bytes(pickle.dumps({"format": "gmmcli-model", "x": cyclic}, protocol=4))
    with pytest.raises(UnsafeFile):
        load_plain(path)
    bomb: list = ["x"]
    for _ in range(40):  # 2**40 leaves once expanded, a few hundred bytes on disk
        bomb = [bomb, bomb]
    path.write_bytes(pickle.dumps({"format": "gmmcli-model", "x": bomb}, protocol=4))
    with pytest.raises(UnsafeFile):
        load_plain(path)


def test_huge_length_fields_fail_fast(tmp_path):
    """A string that claims to be 4 GB, a frame that claims 2**60 bytes: refused, no allocation."""
    path = tmp_path / "len.joblib"
    path.write_bytes(b"\x80\x04\x8d" + (4 << 30).to_bytes(8, "little") + b"abc")  # BINUNICODE8
    with pytest.raises(UnsafeFile):
        load_plain(path)
    path.write_bytes(b"\x80\x04\x95" + (1 << 60).to_bytes(8, "little") + b"}.")  # FRAME
    with pytest.raises((UnsafeFile, EOFError)):
        load_plain(path)
    path.write_bytes(b"\x80\x04X" + (0xFFFFFFF0).to_bytes(4, "little") + b"abc")  # BINUNICODE
    with pytest.raises((UnsafeFile, EOFError)):
        load_plain(path)


def test_check_plain_refuses_what_save_must_not_write():
    check_plain({"a": [1, 2.0, "x", None, True, (1, 2)], "b": np.zeros(3)})
    for bad in ({"a": np.float64(1)}, {1: "x"}, {"a": object()}, {"a": np.array(["x"], dtype=object)}):
        with pytest.raises(UnsafeFile):
            check_plain(bad)


def test_save_refuses_non_plain_metadata_before_writing(tmp_path, good_model):
    """A numpy scalar in the metadata would make an unloadable file: caught at save time."""
    model = load_model(good_model)
    model.meta["aic"] = np.float64(model.meta["aic"])
    with pytest.raises(UnsafeFile):
        save_model(model, tmp_path / "m.joblib")
    assert not list(tmp_path.iterdir())  # no model, no temp file


def test_model_file_stays_readable_by_other_users(tmp_path, good_model):
    """mkstemp makes 0600 files; a model written by cron must be readable like any new file."""
    path = tmp_path / "perm.joblib"
    old = os.umask(0o022)
    try:
        save_model(load_model(good_model), path)
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


def test_api_load_model_is_the_safe_loader(tmp_path):
    import gmmcli

    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.joblib"
    path.write_bytes(pickle.dumps(Reduce(os.system, f"touch {marker}")))
    with pytest.raises(DataError):
        gmmcli.load_model(path)
    assert not marker.exists()


def test_plain_but_malformed_models_never_crash_a_command(gmm, tmp_path, good_model):
    """Hand-edited files (valid checksum, plain data, wrong schema): every command answers with
    a documented exit code, never 'internal error'. 150 random edits of a good model's dict."""
    good = _model_dict(good_model)
    values = [
        None,
        0,
        -1,
        10**20,
        1.5,
        float("nan"),
        "",
        "full",
        [],
        ["x", "y"],
        {},
        {"gmmcli": 5},
        np.zeros(0),
        np.zeros(3),
        np.zeros((3, 2)),
        np.ones((3, 2, 2)),
        np.zeros((2, 2), dtype=np.int64),
        np.array([np.nan, 1.0, 1.0]),
        True,
        2,
        np.full(3, -1.0),
        -np.ones((3, 2, 2)),
    ]
    rng = random.Random(7)
    path = tmp_path / "edited.joblib"
    for _ in range(150):
        data = dict(good)
        for _ in range(rng.choice([1, 1, 2, 3])):
            data[rng.choice(list(data) + ["versions", "created"])] = rng.choice(values)
        dump_sealed(data, path)
        for args in (
            ("info", path, "--json"),
            ("predict", path, SAMPLE / "blobs.csv"),
            ("sample", path, "-n", "3"),
        ):
            result = gmm(*args)
            assert result.code in (0, 65), (args[0], result.err)
            assert "internal error" not in result.err and "Traceback" not in result.err
