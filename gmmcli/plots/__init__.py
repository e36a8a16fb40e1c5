"""matplotlib figures, drawn off-screen (Agg) and saved atomically as PNG, SVG, PDF, ...

One module per kind of figure: ``criteria`` (AIC/BIC curves), ``mixture`` (points and
ellipses), ``images`` (digit grids). matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import os
import tempfile


def pyplot():
    """matplotlib.pyplot on the Agg backend, with a config dir that works without a writable HOME.

    matplotlib needs a writable config and cache folder, and says so on stderr when it lacks
    one; gmmcli gives it a temporary one instead (removed at exit), and under --quiet its
    log lines are silenced like every other message.
    """
    import logging

    from .. import console

    if console.quiet():
        logging.getLogger("matplotlib").setLevel(logging.ERROR)
    if not os.environ.get("MPLCONFIGDIR") and not all(map(_usable, _matplotlib_folders())):
        import atexit
        import shutil

        folder = tempfile.mkdtemp(prefix="gmmcli-mpl-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = folder
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


#: The formats a figure is written in, by the output's extension (what matplotlib's Agg canvas
#: writes without extra libraries beyond Pillow, which matplotlib requires).
FORMATS = ("png", "svg", "pdf", "jpg", "jpeg", "tif", "tiff", "webp", "eps", "ps")


def figure_format(path) -> str:
    """The format of a figure file, from its name: 'blobs.svg' -> 'svg'. A name without a known
    extension is a usage error (never PNG bytes in a .jpg2 file)."""
    from ..errors import UsageError

    name = os.path.basename(str(path))
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in FORMATS:
        raise UsageError(
            f"cannot tell the figure format of {name!r}: end the name in .png, .svg or .pdf "
            f"(also {', '.join('.' + f for f in FORMATS[3:])})"
        )
    return ext


def _matplotlib_folders() -> list[str]:
    """Where matplotlib keeps its configuration and its font cache without MPLCONFIGDIR."""
    home = os.path.expanduser("~")
    return [
        os.path.join(os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "matplotlib"),
        os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"), "matplotlib"),
    ]


def _usable(folder: str) -> bool:
    """The folder exists or can be made, and a file can be written in it (not just access())."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def save_figure(fig, path, dpi: int = 100) -> None:
    """Save a figure atomically, in the format its name says, and free it."""
    from ..io.atomic import atomic_path

    fmt = figure_format(path)
    plt = pyplot()
    try:
        with atomic_path(path, suffix="." + fmt) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    finally:
        plt.close(fig)


save_png = save_figure  # the name digits and select use; every figure follows its file name
