"""gmmcli digits-demo: the notebook's digits pipeline, with a small -k so that it stays quick."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from gmmcli.digits import DigitsSettings, run_digits_demo
from gmmcli.model import load_model


def grey_pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L")).astype(int)


def assert_digit_grid(path) -> None:
    """800x800 pixels, and ink in every one of the 100 cells (not a blank or half-drawn grid)."""
    pixels = grey_pixels(path)
    assert pixels.shape == (800, 800)
    dark = pixels < 128
    assert 0.15 < dark.mean() < 0.6
    # the axes span pixels 16..784 (subplots_adjust 0.02..0.98): 10 cells of 76.8 pixels each way
    starts = [16 + round(i * 76.8) for i in range(10)]
    cells = [dark[r + 10 : r + 60, c + 10 : c + 60] for r in starts for c in starts]
    assert sum(cell.mean() > 0.1 for cell in cells) >= 95


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """One quick run of the whole pipeline (k=8), shared by the checks below."""
    out = tmp_path_factory.mktemp("digits") / "demo"
    messages = []
    result = run_digits_demo(
        out, DigitsSettings(n_components=8, seed=0, n_samples=400), progress=messages.append
    )
    return result, "\n".join(messages), out


def test_demo_reports_41_dimensions_and_convergence(small_demo):
    result, messages, _ = small_demo
    assert "keeps 41 of 64 dimensions" in messages
    assert f"converged: {result.summary['converged']} after {result.summary['n_iter']} iterations" in messages


def test_demo_writes_two_digit_grids(small_demo):
    _, _, out = small_demo
    assert_digit_grid(out / "digits_original.png")
    assert_digit_grid(out / "digits_generated.png")
    assert (out / "digits_original.png").read_bytes() != (out / "digits_generated.png").read_bytes()


def test_demo_writes_the_model_and_summary(small_demo):
    _, _, out = small_demo
    summary = json.loads((out / "digits_summary.json").read_text())
    assert summary["pca_dimensions"] == 41
    assert summary["n_images"] == 1797 and summary["n_pixels"] == 64
    assert summary["n_components"] == 8 and summary["covariance_type"] == "full"
    assert isinstance(summary["converged"], bool) and summary["n_samples"] == 400
    assert summary["files"] == {
        "original": "digits_original.png",
        "generated": "digits_generated.png",
        "model": "digits_gmm.joblib",
        "summary": "digits_summary.json",
    }
    model = load_model(out / "digits_gmm.joblib")
    assert (
        model.n_components == 8
        and model.feature_names[:2] == ["pc1", "pc2"]
        and len(model.feature_names) == 41
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(summary["files"].values())  # no temp files left


def test_generated_digits_live_on_the_pixel_scale(small_demo):
    """Inverse-transformed samples: mean image close to the data's, values mostly within 0..16."""
    from sklearn.datasets import load_digits

    result, _, _ = small_demo
    generated = result.generated
    assert generated.shape == (400, 64)
    assert np.abs(generated.mean(axis=0) - load_digits().data.mean(axis=0)).max() < 2.0
    assert np.mean((generated > -3) & (generated < 19)) > 0.95


def test_same_seed_same_files(tmp_path):
    settings = DigitsSettings(n_components=2, seed=5, n_samples=20, max_iter=3)
    a = run_digits_demo(tmp_path / "a", settings)
    b = run_digits_demo(tmp_path / "b", settings)
    assert a.summary == b.summary
    for name in ("digits_generated.png", "digits_original.png", "digits_summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_cli_progress_on_stderr_and_nothing_on_stdout(gmm, tmp_path):
    out = tmp_path / "d"
    r = gmm("digits-demo", "-k", "2", "--max-iter", "2", "--out-dir", out)
    assert r.code == 0, r.err
    assert r.out == ""
    assert "keeps 41 of 64 dimensions" in r.err
    assert "converged: False after 2 iterations" in r.err
    assert "warning: EM did not converge in 2 iterations" in r.err
    assert_digit_grid(out / "digits_generated.png")
    quiet = gmm("-q", "digits-demo", "-k", "2", "-n", "10", "--max-iter", "2", "--out-dir", tmp_path / "q")
    assert quiet.code == 0 and quiet.err == ""


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["-k", "0"], 2, "-k must be at least 1"),
        (["-n", "0"], 2, "--n-samples must be at least 1"),
        (["--variance", "1.5"], 2, "--variance must be between 0 and 1"),
    ],
)
def test_bad_options(gmm, tmp_path, args, code, message):
    r = gmm("digits-demo", "--out-dir", tmp_path / "d", *args)
    assert r.code == code
    assert r.err.startswith("error: ") and message in r.err and len(r.err.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()


def test_out_dir_that_is_a_file_is_73(gmm, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    r = gmm("digits-demo", "-k", "2", "--out-dir", target)
    assert r.code == 73 and "it is a file" in r.err


# --- the AIC sweep --------------------------------------------------------------------------------


@dataclass
class FakeCell:
    k: int
    covariance_type: str
    aic: float
    bic: float
    error: str | None = None


def test_sweep_follows_the_select_api(monkeypatch, tmp_path):
    """Against a stand-in for select.sweep with the agreed signature: arguments, progress, figure."""
    calls = {}

    def sweep(
        X,
        ks,
        covariance_types,
        *,
        n_init,
        init,
        seed,
        tol,
        reg_covar,
        max_iter,
        cv=None,
        jobs=None,
        sample_weight=None,
        on_done=None,
    ):
        calls.update(shape=X.shape, ks=list(ks), types=list(covariance_types), seed=seed, jobs=jobs)
        cells = [FakeCell(k, "full", 1e5 - 900 * k + 6 * k * k, 0.0) for k in ks]
        cells[-1].error, cells[-1].aic = "ill-defined covariance", float("nan")
        for cell in reversed(cells):  # parallel fits finish in any order
            on_done(cell)
        return cells

    import gmmcli

    stub = types.SimpleNamespace(sweep=sweep)
    monkeypatch.setitem(sys.modules, "gmmcli.selection", stub)
    monkeypatch.setattr(gmmcli, "selection", stub, raising=False)  # in case the real one was imported already
    messages = []
    result = run_digits_demo(
        tmp_path,
        DigitsSettings(n_components=2, seed=0, n_samples=10, max_iter=3, sweep=True, jobs=2),
        progress=messages.append,
    )
    assert calls == {
        "shape": (1797, 41),
        "ks": list(range(1, 200, 10)),
        "types": ["full"],
        "seed": 0,
        "jobs": 2,
    }
    sweep_rows = result.summary["aic_sweep"]
    assert [row["k"] for row in sweep_rows] == list(range(1, 200, 10))
    assert sweep_rows[-1]["aic"] is None and sweep_rows[0]["aic"] == pytest.approx(1e5 - 894)
    assert any("lowest AIC at k=71" in m for m in messages)
    assert sum("[" in m and "/20] k=" in m for m in messages) == 20
    pixels = grey_pixels(tmp_path / "digits_aic.png")
    assert pixels.shape == (500, 800) and (pixels < 128).mean() > 0.005
    assert result.summary["files"]["aic"] == "digits_aic.png"


def test_sweep_with_the_real_select_module(tmp_path):
    # needs select branch: gmmcli/select.py is written in parallel; this test fails until it is merged.
    result = run_digits_demo(
        tmp_path,
        DigitsSettings(n_components=3, seed=0, n_samples=10, sweep=True, sweep_ks=(1, 6, 11), jobs=2),
    )
    rows = result.summary["aic_sweep"]
    assert [row["k"] for row in rows] == [1, 6, 11]
    assert all(row["aic"] is not None and np.isfinite(row["aic"]) for row in rows)
    assert rows[1]["aic"] < rows[0]["aic"]  # more components fit the digits far better than one Gaussian
    assert (tmp_path / "digits_aic.png").exists()
