"""Points that scale: their size and opacity from the number of rows, a sample and a density
background when there are too many to draw, and the two figures without a mixture (a plain
scatter, and the notebook's k-means labels with their circles).

At the notebook's 200-400 rows a point is 50 pt^2 and opaque, as in ``plot_gmm``; beyond that
both shrink, so that 20,000 points leave the ellipses visible instead of one solid blot. Above
``max_points`` rows a seeded uniform sample of them is drawn over a grey hexbin of all rows (log
counts), so the picture keeps the shape of the whole data at a size a viewer opens quickly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..console import plot_text

BASE_SIZE = 50.0  # pt^2 at up to BASE_ROWS rows: the notebook's plot_gmm
BASE_ROWS = 400
MIN_SIZE, MIN_ALPHA = 1.0, 0.15
MAX_POINTS = 5000
FIGSIZE = (8, 6)
KMEANS_CIRCLE = dict(fc="#CCCCCC", lw=1, alpha=0.5, zorder=1)  # the notebook's plot_kmeans


@dataclass(frozen=True)
class PointStyle:
    """How to draw the data points: size (pt^2), opacity, and how many rows at most."""

    size: float | None = None  # None: from the number of rows
    alpha: float | None = None
    max_points: int = MAX_POINTS
    seed: int | None = None  # of the sample drawn when there are more rows than max_points

    def size_for(self, n_rows: int) -> float:
        if self.size is not None:
            return float(self.size)
        return float(np.clip(BASE_SIZE * (BASE_ROWS / max(n_rows, 1)) ** 0.75, MIN_SIZE, BASE_SIZE))

    def alpha_for(self, n_rows: int) -> float:
        if self.alpha is not None:
            return float(self.alpha)
        return float(np.clip((2 * BASE_ROWS / max(n_rows, 1)) ** 0.5, MIN_ALPHA, 1.0))

    def shown(self, n_rows: int) -> np.ndarray | None:
        """Indices of the rows to draw (sorted), or None for all of them."""
        if n_rows <= self.max_points:
            return None
        rng = np.random.default_rng(0 if self.seed is None else self.seed)
        return np.sort(rng.choice(n_rows, self.max_points, replace=False))


def draw_points(
    ax, points: np.ndarray, style: PointStyle, *, colours=None, cmap=None, norm=None, weights=None
):
    """Scatter ``points`` on ``ax`` in ``style``; return how many were drawn.

    ``colours``: one value per row for ``cmap``/``norm`` (labels), else one colour for all;
    ``weights``: per-row factors of the point size (the notebook's ``p_max ** 2``).
    """
    rows = style.shown(len(points))
    if rows is not None:  # all rows as a density, a sample as points
        ax.hexbin(
            points[:, 0], points[:, 1], gridsize=60, bins="log", cmap="Greys", mincnt=1, alpha=0.3, zorder=0
        )
        points = points[rows]
        colours = None if colours is None else np.asarray(colours)[rows]
        weights = None if weights is None else np.asarray(weights)[rows]
    n = len(points)  # size and opacity follow the points drawn
    size = style.size_for(n)
    sizes = size if weights is None else size * np.asarray(weights)
    common = dict(s=sizes, alpha=style.alpha_for(n), zorder=2, label="data", linewidths=0)
    if colours is None:
        ax.scatter(points[:, 0], points[:, 1], color="C0", **common)
    else:
        ax.scatter(points[:, 0], points[:, 1], c=colours, cmap=cmap, norm=norm, **common)
    return len(points)


def finish(fig, ax, names: tuple[str, str], title: str | None) -> None:
    ax.set_xlabel(plot_text(names[0]))  # names from a file or input: text, never mathtext
    ax.set_ylabel(plot_text(names[1]))
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.grid(True, alpha=0.3)
    if title:
        ax.set_title(plot_text(title))
    fig.tight_layout()


def scatter_figure(points: np.ndarray, names: tuple[str, str], style: PointStyle, title: str | None = None):
    """DATA alone: the notebook's first look at the blobs."""
    from . import pyplot

    fig, ax = pyplot().subplots(figsize=FIGSIZE)
    draw_points(ax, points, style)
    finish(fig, ax, names, title)
    return fig


def kmeans_circles(X: np.ndarray, centers: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each cluster's radius: the distance from its centre to its farthest assigned point (0 for
    an empty cluster). In more than two dimensions the sphere's shadow on any plane is a disk of
    the same radius, so the circles stay true in every projection."""
    radii = np.zeros(len(centers))
    for c in range(len(centers)):
        mine = X[labels == c]
        if len(mine):
            radii[c] = float(np.sqrt(((mine - centers[c]) ** 2).sum(axis=1)).max())
    return radii


def kmeans_figure(
    points: np.ndarray,
    labels: np.ndarray,
    centers: np.ndarray,
    radii: np.ndarray,
    names: tuple[str, str],
    style: PointStyle,
    title: str | None = None,
):
    """The notebook's ``plot_kmeans``: points coloured by k-means label, and each cluster's circle
    (radius: its farthest point), grey and half transparent, under the points. ``points`` and
    ``centers`` are in the two plotted features."""
    from matplotlib.colors import Normalize
    from matplotlib.patches import Circle

    from . import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=FIGSIZE)
    norm = Normalize(vmin=0, vmax=max(len(centers) - 1, 1))
    draw_points(ax, points, style, colours=labels, cmap=plt.get_cmap("viridis"), norm=norm)
    for centre, radius in zip(centers, radii):
        ax.add_patch(Circle(centre, radius, **KMEANS_CIRCLE))
    ax.update_datalim(np.vstack([centers - radii[:, None], centers + radii[:, None]]))
    finish(fig, ax, names, title)
    return fig
