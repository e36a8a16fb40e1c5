"""Grids of small images, like the notebook's ``plot_digits``: 10x10 digits, binary colour map.

The grid is drawn as one mosaic image on one axes (white gutters between the cells) rather than
100 subplots: the picture is the same and it renders many times faster.
"""

from __future__ import annotations

import numpy as np

GRID = (10, 10)
FIGSIZE = (8, 8)  # inches; 800 x 800 pixels at plots.save_png's 100 dpi
GUTTER = 1  # blank pixels between cells, as the notebook's hspace/wspace


def mosaic(images: np.ndarray, image_shape=(8, 8), grid=GRID) -> np.ndarray:
    """The images tiled row by row into one array, NaN in the gutters and in unused cells."""
    rows, cols = grid
    h, w = image_shape
    out = np.full((rows * (h + GUTTER) - GUTTER, cols * (w + GUTTER) - GUTTER), np.nan)
    for n, image in enumerate(np.asarray(images, dtype=np.float64)[: rows * cols]):
        r, c = divmod(n, cols)
        out[r * (h + GUTTER) : r * (h + GUTTER) + h, c * (w + GUTTER) : c * (w + GUTTER) + w] = image.reshape(
            h, w
        )
    return out


def image_grid(images: np.ndarray, image_shape=(8, 8), *, grid=GRID, clim=(0.0, 16.0), cmap="binary"):
    """One image per cell, row by row; cells beyond ``len(images)`` stay blank.

    ``images`` is (n, h*w), each row a flattened image; ``clim`` fixes the colour scale so that
    generated images (which can over- or undershoot) are drawn on the same scale as the originals.
    """
    from . import pyplot

    plt = pyplot()
    colours = plt.get_cmap(cmap).with_extremes(bad="white")
    fig = plt.figure(figsize=FIGSIZE)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
    ax.imshow(
        mosaic(images, image_shape, grid), cmap=colours, vmin=clim[0], vmax=clim[1], interpolation="nearest"
    )
    ax.set_axis_off()
    return fig
