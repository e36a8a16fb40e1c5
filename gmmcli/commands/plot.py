"""gmmcli plot: the notebook's figures: a model's points and ellipses, k-means and its circles, or
the data alone; PNG, SVG or PDF by the output's name."""

from __future__ import annotations

from typing import Annotated

import typer

from .grouping import grouped
from .options import Inputs, SeedOpt, read_features, unset

#: What matplotlib keeps per scattered point (paths, colours, sizes), beyond the points themselves.
PLOT_BYTES_PER_POINT = 400

EPILOG = """Examples:

  gmmcli plot blobs.joblib sample_data/blobs.csv -o blobs.png

  gmmcli plot moons16.joblib sample_data/moons.csv --samples 400 --seed 1 --no-labels -o moons.svg

  gmmcli plot sample_data/stretched.csv --kmeans 4 --seed 2018 -o stretched-kmeans.png

  gmmcli plot sample_data/blobs.csv --exclude id -o blobs-data.pdf

  gmmcli plot model.joblib big.csv --x height --y weight --point-size 4 --alpha 0.3 -o pair.png

With a MODEL, points are coloured by their most probable component and sized by how sure that
is (p_max squared), with each component's 1, 2 and 3 sigma ellipses, more opaque for heavier
components. With --kmeans K (and no MODEL), the notebook's k-means figure: points coloured by
k-means label and each cluster's circle, whose radius is its farthest point. With DATA alone, a
plain scatter. Point size and opacity follow the number of rows (50 pt^2 and opaque up to 400
rows, smaller and fainter beyond); above --max-points rows a sample of that many is drawn over a
grey density of all rows.
"""


@grouped
def plot(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="[MODEL] DATA",
            help="A model file written by 'gmmcli fit' (optional), then the data: a file, or - for stdin.",
            show_default=False,
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Figure to write (atomically); its extension picks the format: .png, .svg, .pdf.",
            show_default=False,
        ),
    ],
    kmeans: unset(
        int,
        "--kmeans",
        metavar="K",
        help="Cluster DATA with k-means (K clusters, seeded by --seed) and draw its labels and "
        "circles, as the notebook does; no MODEL.",
    ) = None,
    x: unset(
        str, "--x", metavar="COLUMN", help="Feature on the horizontal axis (default: the first)."
    ) = None,
    y: unset(str, "--y", metavar="COLUMN", help="Feature on the vertical axis (default: the next).") = None,
    samples: Annotated[
        int, typer.Option("--samples", metavar="N", help="Overlay N points generated from the model.")
    ] = 0,
    seed: SeedOpt = 0,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels/--no-labels",
            help="Colour points by their most probable component and size them by its probability; "
            "--no-labels: one colour, one size.",
        ),
    ] = True,
    ellipses: Annotated[
        bool, typer.Option("--ellipses/--no-ellipses", help="Draw each component's ellipses.")
    ] = True,
    point_size: unset(
        float,
        "--point-size",
        metavar="S",
        help="Point area in pt^2 (default: 50 up to 400 rows, smaller beyond).",
    ) = None,
    alpha: unset(
        float,
        "--alpha",
        metavar="A",
        help="Point opacity, 0 to 1 (default: 1 up to 800 rows, fainter beyond).",
    ) = None,
    max_points: Annotated[
        int,
        typer.Option(
            "--max-points",
            metavar="N",
            help="Draw at most N points (a seeded sample), over a grey density of all rows.",
        ),
    ] = 5000,
    title: unset(str, "--title", metavar="TEXT", help="Figure title (default: model, data and k).") = None,
    reading: Inputs = Inputs.shown(),
) -> None:
    """Draw DATA: with a MODEL, coloured by label with each component's ellipses; with --kmeans K,
    k-means labels and circles; alone, a scatter."""
    from .. import console
    from ..errors import UsageError
    from ..io.atomic import refuse_same_file
    from ..plots import figure_format
    from ..plots.points import PointStyle
    from ..settings import check_seed

    if output == "-":
        raise UsageError("plot writes a figure file: give -o FILE.png (or .svg, .pdf), not -")
    check_seed(seed)
    if len(inputs) > 2:
        raise UsageError(f"plot takes [MODEL] DATA, got {len(inputs)} arguments")
    model_path, data = (inputs[0], inputs[1]) if len(inputs) == 2 else (None, inputs[0])
    refuse_same_file(output, [p for p in (model_path, data) if p is not None])
    figure_format(output)  # a name whose format is unknown: before any work
    if kmeans is not None and model_path is not None:
        raise UsageError("--kmeans clusters DATA itself: give DATA alone, not a MODEL")
    if samples < 0:
        raise UsageError(f"--samples must not be negative, got {samples}")
    if samples and model_path is None:
        raise UsageError("--samples draws from a model: give MODEL DATA")
    if kmeans is not None and kmeans < 1:
        raise UsageError(f"--kmeans must be at least 1, got {kmeans}")
    if point_size is not None and not point_size > 0:
        raise UsageError(f"--point-size must be positive, got {point_size}")
    if alpha is not None and not 0 < alpha <= 1:
        raise UsageError(f"--alpha must be in (0, 1], got {alpha}")
    if max_points < 1:
        raise UsageError(f"--max-points must be at least 1, got {max_points}")
    style = PointStyle(point_size, alpha, max_points, seed)
    source = "stdin" if data == "-" else _base(data)
    if model_path is not None:
        fig, n, names, what = _model_plot(
            model_path, data, reading, x, y, samples, seed, labels, ellipses, style, title, source
        )
    else:
        fig, n, names, what = _data_plot(data, reading, x, y, kmeans, seed, style, title, source)
    from ..plots import save_figure

    save_figure(fig, output)
    drawn = f", {max_points} drawn over their density" if n > max_points else ""
    console.info(f"plot: {n} rows ({', '.join(names)}){drawn}{what} -> {output}")


def _base(path: str) -> str:
    import os

    return os.path.basename(path)


def _model_plot(model_path, data, inputs, x, y, samples, seed, labels, ellipses, style, title, source):
    """MODEL DATA: the notebook's plot_gmm."""
    from .. import memory
    from ..io import tables
    from ..model import load_model
    from ..plots.mixture import feature_pair, model_figure
    from ..scoring import feature_columns

    m = load_model(model_path)
    if samples:
        memory.check_sample_memory(samples, len(m.feature_names), "--samples", per_point=PLOT_BYTES_PER_POINT)
    pair = feature_pair(m.feature_names, x, y)
    features = feature_columns(m, inputs.column_list, inputs.exclude_list)
    frame = tables.read_frame(data, inputs.delimiter, inputs.header)
    X, _ = tables.feature_matrix(frame, features, inputs.dropna)
    if title is None:
        title = f"{_base(model_path)} on {source}: {m.n_components} components ({m.covariance_type})"
    fig = model_figure(
        m,
        X,
        pair,
        n_samples=samples,
        seed=seed,
        color_by_label=labels,
        title=title,
        style=style,
        ellipses=ellipses,
    )
    extra = f" and {samples} generated points" if samples else ""
    names = [m.feature_names[i] for i in pair]
    return fig, len(X), names, f"{extra}, {m.n_components} components"


def _data_plot(data, inputs, x, y, kmeans, seed, style, title, source):
    """DATA alone: a scatter, or with --kmeans the notebook's plot_kmeans."""
    from ..errors import DataError
    from ..plots.mixture import feature_pair
    from ..plots.points import kmeans_circles, kmeans_figure, scatter_figure

    X, names, _ = read_features(data, inputs)
    pair = feature_pair(names, x, y)
    shown = (names[pair[0]], names[pair[1]])
    points = X[:, list(pair)]
    if kmeans is None:
        return scatter_figure(points, shown, style, title or f"{source}: {len(X)} rows"), len(X), shown, ""
    from ..engine.kmeans import kmeans as run_kmeans

    if len(X) < kmeans:
        raise DataError(f"--kmeans {kmeans} needs at least {kmeans} rows, the input has {len(X)}")
    result = run_kmeans(X, kmeans, seed)
    radii = kmeans_circles(X, result.centers, result.labels)
    if title is None:
        title = f"k-means on {source}: {kmeans} clusters (circles: the farthest point of each)"
    fig = kmeans_figure(points, result.labels, result.centers[:, list(pair)], radii, shown, style, title)
    return fig, len(X), shown, f", k-means with {kmeans} clusters"
