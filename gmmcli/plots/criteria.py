"""Criteria against the number of components, like the notebook's AIC/BIC figure.

One line per criterion and covariance type (colour: covariance type; solid: BIC, dashed: AIC),
a second panel for the cross-validated log-likelihood when there is one, and the winning cell
marked with a star. Takes the cells of ``gmmcli.select.sweep`` (or any objects with the same
attributes); failed cells (NaN) leave gaps in the lines.
"""

from __future__ import annotations

import math

from . import pyplot, save_png

_STYLE = {"bic": ("BIC", "-", "o"), "aic": ("AIC", "--", "s")}


def criteria_figure(cells, best=None, criterion: str = "bic", title: str | None = None):
    """A matplotlib figure of AIC/BIC (and CV log-likelihood) against k."""
    plt = pyplot()
    types = list(dict.fromkeys(c.covariance_type for c in cells))
    has_cv = any(math.isfinite(c.cv_log_likelihood) for c in cells)
    if has_cv:
        fig, (ax, ax_cv) = plt.subplots(2, 1, figsize=(9, 7.5), sharex=True, height_ratios=(3, 2))
    else:
        fig, ax = plt.subplots(figsize=(9, 5.5))
        ax_cv = None
    from matplotlib.ticker import MaxNLocator

    colours = plt.get_cmap("tab10").colors
    for i, t in enumerate(types):
        row = sorted((c for c in cells if c.covariance_type == t), key=lambda c: c.k)
        ks = [c.k for c in row]
        for j, name in enumerate(("bic", "aic")):
            label, line, marker = _STYLE[name]
            # One covariance type: a colour per criterion, as in the notebook; else per type.
            colour = colours[j] if len(types) == 1 else colours[i % len(colours)]
            ax.plot(
                ks,
                [getattr(c, name) for c in row],
                line,
                marker=marker,
                markersize=3,
                color=colour,
                label=f"{label} {t}",
            )
        if ax_cv is not None:
            ax_cv.plot(
                ks,
                [c.cv_log_likelihood for c in row],
                "-",
                marker="^",
                markersize=3,
                color=colours[i % len(colours)],
                label=f"CV {t}",
            )
    if best is not None:
        target = ax_cv if criterion == "cv" and ax_cv is not None else ax
        value = best.cv_log_likelihood if criterion == "cv" else getattr(best, criterion)
        name = "CV log-likelihood" if criterion == "cv" else criterion.upper()
        target.plot(
            [best.k],
            [value],
            marker="*",
            markersize=18,
            color="black",
            linestyle="none",
            zorder=5,
            label=f"best: {best.covariance_type}, k={best.k}",
        )
        target.annotate(
            f"best: {best.covariance_type}, k={best.k}\n{name} {value:.4g}",
            (best.k, value),
            xytext=(12, 12),
            textcoords="offset points",
            fontsize=9,
            bbox=dict(boxstyle="round", fc="white", alpha=0.8),
        )
    for axis in (ax, ax_cv):
        if axis is not None:
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("criterion (lower is better)")
    ax.legend(loc="best", fontsize=8, ncol=2 if len(types) > 1 else 1)
    ax.grid(True, alpha=0.3)
    if ax_cv is not None:
        ax_cv.set_ylabel("held-out log-likelihood\nper row (higher is better)")
        ax_cv.legend(loc="best", fontsize=8, ncol=2 if len(types) > 1 else 1)
        ax_cv.grid(True, alpha=0.3)
        ax_cv.set_xlabel("n_components")
    else:
        ax.set_xlabel("n_components")
    ax.set_title(title or "Model selection: information criteria against the number of components")
    fig.tight_layout()
    return fig


def save_criteria_plot(cells, path, best=None, criterion: str = "bic", title: str | None = None) -> None:
    """Draw the criteria figure and save it atomically as PNG."""
    save_png(criteria_figure(cells, best, criterion, title), path)
