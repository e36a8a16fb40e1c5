"""gmmcli plot: the plot_gmm figure; marginal ellipses for every covariance type; one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAMPLE
from PIL import Image
from test_sample import COVARIANCES, MEANS, WEIGHTS, full_covariance, known_params

from gmmcli.engine.covariance import SKLEARN_TYPES as COVARIANCE_TYPES
from gmmcli.engine.params import MixtureParams
from gmmcli.model import Model, save_model
from gmmcli.plots.mixture import ellipse_axes, feature_pair, marginal_covariances, model_figure

BLOBS = SAMPLE / "blobs.csv"


@pytest.fixture(scope="module")
def blobs_model(tmp_path_factory):
    """A 4-component model of the notebook's blobs (fitted once for the module)."""
    from gmmcli.cli import run

    path = tmp_path_factory.mktemp("plot") / "blobs.joblib"
    assert run(["-q", "fit", str(BLOBS), "-k", "4", "--exclude", "id", "--seed", "0", "-o", str(path)]) == 0
    return path


def three_feature_files(tmp_path, covariance_type="full"):
    """A known 3-feature model and 300 rows drawn from it, as files."""
    params = known_params(covariance_type)
    model = tmp_path / f"three-{covariance_type}.joblib"
    save_model(Model(params, ["a", "b", "c"], {}), model)
    X = Model(params, ["a", "b", "c"]).sample(300, seed=0)[0]
    data = tmp_path / "three.csv"
    data.write_text("a,b,c\n" + "\n".join(",".join(map(repr, row)) for row in X.tolist()) + "\n")
    return model, data


def png_pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def colourful_pixels(pixels: np.ndarray) -> int:
    """Pixels that are clearly coloured (not white, grey or black)."""
    return int(np.count_nonzero(pixels.max(axis=2) - pixels.min(axis=2) > 60))


# --- the maths of the ellipses -------------------------------------------------------------------


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("pair", [(0, 1), (2, 0), (1, 2)])
def test_marginal_covariance_is_the_sub_block_for_every_type(covariance_type, pair):
    params = known_params(covariance_type)
    got = marginal_covariances(params, *pair)
    assert got.shape == (3, 2, 2)
    for k in range(3):
        expected = full_covariance(params, k)[np.ix_(pair, pair)]
        np.testing.assert_allclose(got[k], expected)


def test_marginal_covariance_matches_drawn_points():
    """The 2x2 marginal of a full-covariance component is what its points show on that pair."""
    params = known_params("full")
    X, labels = Model(params, ["a", "b", "c"]).sample(40_000, seed=4)
    cov = marginal_covariances(params, 2, 0)[0]
    np.testing.assert_allclose(np.cov(X[labels == 0][:, [2, 0]], rowvar=False), cov, atol=0.06)


def test_ellipse_axes():
    width, height, angle = ellipse_axes(np.diag([4.0, 1.0]))
    assert (width, height) == pytest.approx((4.0, 2.0))
    assert angle % 180 == pytest.approx(0.0, abs=1e-9)
    width, height, angle = ellipse_axes(np.diag([1.0, 9.0]))
    assert (width, height) == pytest.approx((6.0, 2.0)) and angle % 180 == pytest.approx(90.0)
    rotated = np.array([[5.0, 4.0], [4.0, 5.0]])  # eigenvalues 9 along (1, 1) and 1 along (1, -1)
    width, height, angle = ellipse_axes(rotated)
    assert (width, height) == pytest.approx((6.0, 2.0)) and angle % 180 == pytest.approx(45.0)


def test_figure_has_three_ellipses_per_component_centred_on_the_means():
    from matplotlib.patches import Ellipse

    params = known_params("diag")
    model = Model(params, ["a", "b", "c"])
    X = model.sample(200, seed=1)[0]
    fig = model_figure(model, X, (2, 1), n_samples=30, seed=2)
    ax = fig.axes[0]
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 3 * params.n_components
    for k in range(params.n_components):
        mine = ellipses[3 * k : 3 * k + 3]
        for e in mine:
            np.testing.assert_allclose(e.center, params.means[k, [2, 1]])
        widths = sorted(e.width for e in mine)
        assert widths == pytest.approx([w * widths[0] for w in (1, 2, 3)])
        assert mine[0].get_alpha() == pytest.approx(0.2 * params.weights[k] / params.weights.max())
    assert ax.get_xlabel() == "c" and ax.get_ylabel() == "b"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["data", "generated (30)"]
    sizes = ax.collections[0].get_sizes()
    assert sizes.max() <= 50 and sizes.min() > 0
    fig.clf()


def test_feature_pair_defaults_and_choices():
    names = ["a", "b", "c"]
    assert feature_pair(names, None, None) == (0, 1)
    assert feature_pair(names, "c", None) == (2, 0)
    assert feature_pair(names, None, "a") == (1, 0)
    assert feature_pair(names, "b", "c") == (1, 2)


# --- the command ---------------------------------------------------------------------------------


def test_plot_writes_a_coloured_png(gmm, blobs_model, tmp_path):
    out = tmp_path / "blobs.png"
    r = gmm("plot", blobs_model, BLOBS, "-o", out)
    assert r.code == 0, r.err
    assert r.out == ""
    assert "400 rows" in r.err and str(out) in r.err
    pixels = png_pixels(out)
    assert pixels.shape == (600, 800, 3)
    assert colourful_pixels(pixels) > 5000  # viridis points and tinted ellipses, not a blank canvas
    assert [p.name for p in tmp_path.iterdir()] == ["blobs.png"]  # no temp file left behind


def test_samples_overlay_and_same_seed_same_png(gmm, blobs_model, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for path in (a, b):
        r = gmm("plot", blobs_model, BLOBS, "--samples", "200", "--seed", "3", "--no-labels", "-o", path)
        assert r.code == 0, r.err
    assert "200 generated points" in r.err
    assert a.read_bytes() == b.read_bytes()
    reds = np.count_nonzero(
        (lambda p: (p[..., 0] > 150) & (p[..., 1] < 80) & (p[..., 2] < 100))(png_pixels(a))
    )
    assert reds > 200  # the crimson crosses of the generated points


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_more_than_two_features_with_x_and_y(gmm, tmp_path, covariance_type):
    model, data = three_feature_files(tmp_path, covariance_type)
    out = tmp_path / "pair.png"
    r = gmm("plot", model, data, "--x", "c", "--y", "a", "-o", out)
    assert r.code == 0, r.err
    assert "(c, a)" in r.err
    assert colourful_pixels(png_pixels(out)) > 2000


def test_data_from_stdin(gmm, blobs_model, tmp_path):
    out = tmp_path / "stdin.png"
    r = gmm("plot", blobs_model, "-", "-o", out, stdin=BLOBS.read_text())
    assert r.code == 0, r.err
    assert out.exists()


@pytest.mark.parametrize(
    "extra, code, message",
    [
        (["--x", "nope"], 2, "unknown --x column 'nope' (model features: x, y)"),
        (["--y", "nope"], 2, "unknown --y column 'nope'"),
        (["--x", "x", "--y", "x"], 2, "two different features"),
        (["--samples", "-1"], 2, "--samples must not be negative"),
    ],
)
def test_bad_options_are_one_line_usage_errors(gmm, blobs_model, tmp_path, extra, code, message):
    out = tmp_path / "x.png"
    r = gmm("plot", blobs_model, BLOBS, "-o", out, *extra)
    assert r.code == code
    assert r.err.startswith("error: ") and message in r.err and len(r.err.strip().splitlines()) == 1
    assert not out.exists()


def test_output_must_be_a_file(gmm, blobs_model):
    r = gmm("plot", blobs_model, BLOBS, "-o", "-")
    assert r.code == 2 and "-o FILE.png" in r.err


def test_data_without_the_model_columns_is_65(gmm, blobs_model, tmp_path):
    data = tmp_path / "other.csv"
    data.write_text("x,z\n1,2\n3,4\n")
    out = tmp_path / "x.png"
    r = gmm("plot", blobs_model, data, "-o", out)
    assert r.code == 65 and "no column 'y'" in r.err
    assert not out.exists()


def test_one_feature_model_is_65(gmm, tmp_path):
    model = tmp_path / "one.joblib"
    params = MixtureParams.from_covariances(
        "full", WEIGHTS[:1] / WEIGHTS[0], MEANS[:1, :1], COVARIANCES["full"][:1, :1, :1]
    )
    save_model(Model(params, ["a"], {}), model)
    r = gmm("plot", model, BLOBS, "-o", tmp_path / "x.png")
    assert r.code == 65 and "at least two features" in r.err


def test_missing_inputs_are_66(gmm, blobs_model, tmp_path):
    assert gmm("plot", tmp_path / "nope.joblib", BLOBS, "-o", tmp_path / "x.png").code == 66
    assert gmm("plot", blobs_model, tmp_path / "nope.csv", "-o", tmp_path / "x.png").code == 66


def test_unwritable_output_is_73(gmm, blobs_model, tmp_path):
    r = gmm("plot", blobs_model, BLOBS, "-o", tmp_path / "no" / "dir.png")
    assert r.code == 73 and r.err.startswith("error: ")
