"""matplotlib figures, drawn off-screen (Agg) and saved atomically as PNG.

One module per kind of figure: ``criteria`` (AIC/BIC curves), ``mixture`` (points and
ellipses), ``images`` (digit grids). matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import os
import tempfile


def pyplot():
    """matplotlib.pyplot on the Agg backend, with a config dir that works without a writable HOME."""
    if not os.environ.get("MPLCONFIGDIR"):
        home = os.path.expanduser("~")
        if not os.access(home, os.W_OK):
            os.environ["MPLCONFIGDIR"] = tempfile.mkdtemp(prefix="gmmcli-mpl-")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path, dpi: int = 100) -> None:
    """Save a figure atomically and free it."""
    from ..io.atomic import atomic_path

    plt = pyplot()
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
