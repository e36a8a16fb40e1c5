"""The notebook's ``plot_gmm`` figure: points coloured by label, sized by certainty, ellipses.

Each component is drawn as ellipses at 1, 2 and 3 standard deviations of its covariance
restricted to the two plotted features (the marginal of a Gaussian is the Gaussian with the
matching sub-vector of the mean and sub-block of the covariance), with opacity growing with
the component's weight. Generated points can be overlaid, as in the notebook's moons figure.
"""

from __future__ import annotations

import numpy as np

from ..engine.params import MixtureParams
from .points import FIGSIZE, PointStyle, draw_points, finish

N_SIGMAS = (1, 2, 3)
MAX_ALPHA = 0.2  # the notebook's w_factor: the heaviest component gets this opacity
OUTLINE_ROWS = 2000  # from this many rows on, the 2-sigma ellipse is also outlined over the points


def marginal_covariances(params: MixtureParams, i: int, j: int) -> np.ndarray:
    """The 2x2 covariance of features ``(i, j)`` in every component, shape (k, 2, 2).

    Works for every covariance model: its structure gives each component's d x d matrix.
    """
    full = params.structure.matrices(params.covariances, params.n_components, params.n_features)
    return full[:, [i, j]][:, :, [i, j]].copy()


def ellipse_axes(cov2: np.ndarray) -> tuple[float, float, float]:
    """Width, height (both at one standard deviation, i.e. 2 sqrt(eigenvalue)) and angle in degrees."""
    values, vectors = np.linalg.eigh(cov2)  # ascending; symmetric so eigh is exact and stable
    values = np.clip(values, 0.0, None)
    major = vectors[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0])))
    return 2.0 * float(np.sqrt(values[1])), 2.0 * float(np.sqrt(values[0])), angle


def mixture_figure(
    params: MixtureParams,
    points: np.ndarray,
    labels: np.ndarray,
    certainty: np.ndarray,
    pair: tuple[int, int],
    names: tuple[str, str],
    *,
    samples: np.ndarray | None = None,
    color_by_label: bool = True,
    title: str | None = None,
    style: PointStyle | None = None,
    ellipses: bool = True,
):
    """Draw the figure and return it (save it with ``plots.save_png``).

    Parameters
    ----------
    params : the mixture; its means and covariances are projected onto ``pair``.
    points : (n, 2) the data in the two plotted features.
    labels : (n,) most probable component of each row (from all features, not just the pair).
    certainty : (n,) max posterior probability of each row; with labels a point's size is
        ``size * certainty**2`` (the notebook's ``50 * p_max**2`` at up to 400 rows), without
        labels the size alone, as in the notebook's density figures.
    pair : indices of the plotted features in the model.
    names : axis labels.
    samples : optional (m, 2) generated points to overlay.
    color_by_label : colour points by label (viridis); False draws them in one colour.
    style : point size, opacity and the most rows drawn (``points.PointStyle``).
    ellipses : False draws the points alone.
    """
    from . import pyplot

    plt = pyplot()  # first: it sets matplotlib's config folder before matplotlib is imported
    from matplotlib.colors import Normalize

    fig, ax = plt.subplots(figsize=FIGSIZE)
    k = params.n_components
    cmap = plt.get_cmap("viridis")
    norm = Normalize(vmin=0, vmax=max(k - 1, 1))
    style = style or PointStyle()
    if color_by_label:
        weights = np.asarray(certainty) ** 2
        draw_points(ax, points, style, colours=labels, cmap=cmap, norm=norm, weights=weights)
    else:
        draw_points(ax, points, style)
    if ellipses:
        _draw_ellipses(ax, params, pair, cmap, norm, color_by_label, outline=len(points) >= OUTLINE_ROWS)

    if samples is not None and len(samples):
        ax.scatter(
            samples[:, 0],
            samples[:, 1],
            marker="x",
            s=14,
            linewidths=0.8,
            color="crimson",
            zorder=3,
            label=f"generated ({len(samples)})",
        )
        ax.legend(loc="best", markerscale=1.0)
    finish(fig, ax, names, title)
    return fig


def _draw_ellipses(ax, params, pair, cmap, norm, color_by_label: bool, outline: bool) -> None:
    """1, 2 and 3 sigma ellipses under the points, opacity by weight; with ``outline``, the
    2-sigma one also as a line over them (dense points would hide the fill)."""
    from matplotlib.patches import Ellipse

    k = params.n_components
    means = params.means[:, list(pair)]
    covs = marginal_covariances(params, *pair)
    factor = MAX_ALPHA / float(params.weights.max())
    for c in range(k):
        width, height, angle = ellipse_axes(covs[c])
        colour = cmap(norm(c)) if color_by_label else "C0"
        for nsig in N_SIGMAS:
            ax.add_patch(
                Ellipse(
                    means[c],
                    nsig * width,
                    nsig * height,
                    angle=angle,
                    facecolor=colour,
                    edgecolor="none",
                    alpha=float(params.weights[c]) * factor,
                    zorder=1,
                )
            )
        if outline:
            ax.add_patch(
                Ellipse(
                    means[c],
                    2 * width,
                    2 * height,
                    angle=angle,
                    facecolor="none",
                    edgecolor="black",
                    linewidth=0.8,
                    alpha=0.7,
                    zorder=3,
                )
            )


def feature_pair(feature_names: list[str], x: str | None, y: str | None) -> tuple[int, int]:
    """Indices of the two features to plot: ``x``/``y`` by name, else the first two (or the first
    two others)."""
    from ..errors import DataError, UsageError

    if len(feature_names) < 2:
        raise DataError(f"plot needs at least two features; this one has {len(feature_names)}")
    for flag, name in (("--x", x), ("--y", y)):
        if name is not None and name not in feature_names:
            raise UsageError(f"unknown {flag} column {name!r} (model features: {', '.join(feature_names)})")
    i = feature_names.index(x) if x is not None else None
    j = feature_names.index(y) if y is not None else None
    if i is None:
        i = next(n for n in range(len(feature_names)) if n != j)
    if j is None:
        j = next(n for n in range(len(feature_names)) if n != i)
    if i == j:
        raise UsageError(f"--x and --y must name two different features, both are {feature_names[i]!r}")
    return i, j


def model_figure(
    model,
    X: np.ndarray,
    pair: tuple[int, int],
    *,
    n_samples: int = 0,
    seed: int | None = None,
    color_by_label: bool = True,
    title: str | None = None,
    style: PointStyle | None = None,
    ellipses: bool = True,
):
    """``mixture_figure`` for a ``Model`` and its full feature matrix ``X``.

    Labels and certainty come from all features; only the plotted pair is drawn. ``n_samples``
    generated points (drawn with ``numpy.random.default_rng(seed)``) are overlaid when > 0.
    """
    proba = model.predict_proba(X)
    columns = list(pair)
    samples = model.sample(n_samples, seed)[0][:, columns] if n_samples > 0 else None
    names = (model.feature_names[pair[0]], model.feature_names[pair[1]])
    return mixture_figure(
        model.params,
        X[:, columns],
        proba.argmax(axis=1),
        proba.max(axis=1),
        pair,
        names,
        samples=samples,
        color_by_label=color_by_label,
        title=title,
        style=style,
        ellipses=ellipses,
    )
