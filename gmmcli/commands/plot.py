"""gmmcli plot: the notebook's plot_gmm figure for a saved model and data, as a PNG."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import DataArg, DelimiterOpt, DropnaOpt, ModelArg, SeedOpt

#: What matplotlib keeps per scattered point (paths, colours, sizes), beyond the points themselves.
PLOT_BYTES_PER_POINT = 400

EPILOG = """Examples:

  gmmcli plot blobs.joblib sample_data/blobs.csv -o blobs.png

  gmmcli plot moons16.joblib sample_data/moons.csv --samples 400 --seed 1 --no-labels -o moons.png

  gmmcli plot model.joblib data.csv --x height --y weight -o pair.png
"""


def plot(
    model: ModelArg,
    data: DataArg,
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", metavar="FILE.png", help="PNG file to write (atomically).", show_default=False
        ),
    ],
    x: Annotated[
        str | None,
        typer.Option(
            "--x",
            metavar="COLUMN",
            help="Feature on the horizontal axis (default: the first).",
            show_default=False,
        ),
    ] = None,
    y: Annotated[
        str | None,
        typer.Option(
            "--y",
            metavar="COLUMN",
            help="Feature on the vertical axis (default: the next).",
            show_default=False,
        ),
    ] = None,
    samples: Annotated[
        int, typer.Option("--samples", metavar="N", help="Overlay N points generated from the model.")
    ] = 0,
    seed: SeedOpt = None,
    labels: Annotated[
        bool, typer.Option("--labels/--no-labels", help="Colour points by their most probable component.")
    ] = True,
    title: Annotated[
        str | None,
        typer.Option(
            "--title", metavar="TEXT", help="Figure title (default: model, data and k).", show_default=False
        ),
    ] = None,
    dropna: DropnaOpt = False,
    delimiter: DelimiterOpt = None,
) -> None:
    """Draw DATA coloured by label with each component's 1-2-3 sigma ellipses, as a PNG.

    Points are sized by assignment certainty (50 * p_max^2); each component's ellipses sit at
    1, 2 and 3 standard deviations, more opaque for heavier components. With more than two
    features, --x/--y choose the pair; the ellipses are then the marginal covariances of those
    two features.
    """
    import os

    from .. import console, memory
    from ..errors import UsageError
    from ..io import tables
    from ..io.atomic import refuse_same_file
    from ..model import load_model
    from ..plots import save_png
    from ..plots.mixture import feature_pair, model_figure
    from ..settings import check_seed

    if output == "-":
        raise UsageError("plot writes a PNG file: give -o FILE.png, not -")
    if samples < 0:
        raise UsageError(f"--samples must not be negative, got {samples}")
    check_seed(seed)
    refuse_same_file(output, [model, data])
    m = load_model(model)
    if samples:
        memory.check_sample_memory(samples, len(m.feature_names), "--samples", per_point=PLOT_BYTES_PER_POINT)
    pair = feature_pair(m.feature_names, x, y)
    frame = tables.read_frame(data, delimiter)
    X, _ = tables.feature_matrix(frame, m.feature_names, dropna)
    if title is None:
        title = (
            f"{os.path.basename(model)} on {'stdin' if data == '-' else os.path.basename(data)}: "
            f"{m.n_components} components ({m.covariance_type})"
        )
    fig = model_figure(m, X, pair, n_samples=samples, seed=seed, color_by_label=labels, title=title)
    save_png(fig, output)
    names = ", ".join(m.feature_names[i] for i in pair)
    extra = f" and {samples} generated points" if samples else ""
    console.info(f"plot: {len(X)} rows ({names}){extra}, {m.n_components} components -> {output}")
