"""Grids of small images, like the notebook's ``plot_digits``: 10x10 digits, binary colour map."""

from __future__ import annotations

import numpy as np

GRID = (10, 10)
FIGSIZE = (8, 8)  # inches; 800 x 800 pixels at plots.save_png's 100 dpi


def image_grid(images: np.ndarray, image_shape=(8, 8), *, grid=GRID, clim=(0.0, 16.0), cmap="binary"):
    """One image per cell, row by row; cells beyond ``len(images)`` stay blank.

    ``images`` is (n, h*w), each row a flattened image; ``clim`` fixes the colour scale so that
    generated images (which can over- or undershoot) are drawn on the same scale as the originals.
    """
    from . import pyplot

    plt = pyplot()
    rows, cols = grid
    fig, axes = plt.subplots(rows, cols, figsize=FIGSIZE, subplot_kw={"xticks": [], "yticks": []})
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.98, hspace=0.05, wspace=0.05)
    images = np.asarray(images)
    for n, ax in enumerate(np.ravel(axes)):
        if n < len(images):
            im = ax.imshow(images[n].reshape(image_shape), cmap=cmap)
            im.set_clim(*clim)
        else:
            ax.axis("off")
    return fig
