"""Criteria against the number of components, in mclust's manner (its ``plot.mclustBIC``).

One line per covariance model, its points drawn as the model's letters (EII, VEV, ...), a colour
family per kind of model (blues: spherical; greens: diagonal; reds: ellipsoidal, a shade per
model), so that fourteen lines stay apart at 800 x 600 pixels. BIC has the first panel; the
criterion that picked the winner, when it is not BIC (AIC, ICL, the cross-validated
log-likelihood), has its own panel next to it, and AIC is the second panel otherwise (the
notebook's AIC/BIC figure). No two criteria share axes. The winning cell has a star. Takes the
cells of ``gmmcli.selection.sweep`` (or any objects with the same attributes); failed cells
(NaN) leave gaps in the lines.
"""

from __future__ import annotations

import math

from . import pyplot, save_png

#: Panel title and y-axis label of each criterion.
_PANELS = {
    "bic": ("BIC", "BIC (lower is better)"),
    "aic": ("AIC", "AIC (lower is better)"),
    "icl": ("ICL", "ICL (lower is better)"),
    "cv": ("Cross-validated log-likelihood", "held-out log-likelihood per row (higher is better)"),
}
_ATTRIBUTE = {"bic": "bic", "aic": "aic", "icl": "icl", "cv": "cv_log_likelihood"}

#: The colours of each family of shapes (a structure's ``family``): (matplotlib colour map, the
#: part of it used, the colour's name in the caption).
_FAMILY = {
    "spherical": ("Blues", (0.55, 0.9), "blue"),
    "diagonal": ("Greens", (0.45, 0.9), "green"),
    "ellipsoidal": ("Reds", (0.35, 0.95), "red"),
}
_LINESTYLES = ("-", "--", "-.", ":")

WIDTH, HEIGHT = 8.0, 6.0  # inches: 800 x 600 pixels at save_png's 100 dpi


def panels_for(cells, criterion: str) -> list[str]:
    """BIC, then the winner's criterion (AIC when that is BIC), then CV when there is one."""
    second = "aic" if criterion == "bic" else criterion
    out = ["bic", second]
    if second != "cv" and any(math.isfinite(c.cv_log_likelihood) for c in cells):
        out.append("cv")
    return out


def model_styles(types) -> dict[str, dict]:
    """Per covariance type: its mclust letters, colour (a shade of its family) and line style."""
    from matplotlib import colormaps

    from ..engine import covariance

    units = {t: covariance.get(t) for t in types}
    families: dict[str, list[str]] = {}
    for t, unit in units.items():
        families.setdefault(unit.structure.family, []).append(t)
    styles = {}
    for family, members in families.items():
        for i, t in enumerate(members):
            cmap_name, (lo, hi), _ = _FAMILY[family]
            shade = lo + (hi - lo) * (i / (len(members) - 1) if len(members) > 1 else 0.5)
            styles[t] = dict(
                letters=units[t].mclust,
                colour=colormaps[cmap_name](shade),
                line=_LINESTYLES[i % len(_LINESTYLES)],
                family=family,
            )
    return styles


def criteria_figure(cells, best=None, criterion: str = "bic", title: str | None = None):
    """A matplotlib figure: a panel per criterion (``panels_for``), a line per model."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    types = list(dict.fromkeys(c.covariance_type for c in cells))
    styles = model_styles(types)
    names = panels_for(cells, criterion)
    fig, axes = plt.subplots(1, len(names), figsize=(WIDTH, HEIGHT), sharex=True, squeeze=False)
    axes = axes[0]
    many = len(types) > 4
    for ax, name in zip(axes, names, strict=True):
        attribute = _ATTRIBUTE[name]
        for t in types:
            row = sorted((c for c in cells if c.covariance_type == t), key=lambda c: c.k)
            s = styles[t]
            ax.plot(
                [c.k for c in row],
                [getattr(c, attribute) for c in row],
                s["line"],
                color=s["colour"],
                linewidth=1.0,
                marker=f"$\\mathrm{{{s['letters']}}}$",
                markersize=13 if many else 16,
                markeredgewidth=0.3,
                label=s["letters"] if many else f"{s['letters']} ({t})" if s["letters"] != t else t,
            )
        _focus(ax, [getattr(c, attribute) for c in cells], lower_better=name != "cv")
        panel_title, label = _PANELS[name]
        ax.set_title(panel_title, fontsize=10)
        if best is not None and name == criterion:
            _mark_winner(ax, best, attribute, name)
        ax.set_ylabel(label, fontsize=9)
        ax.set_xlabel("number of components k", fontsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.3)
    if best is not None and criterion not in names:  # cannot happen with panels_for; kept safe
        _mark_winner(axes[0], best, "bic", "bic")
    handles, labels = axes[0].get_legend_handles_labels()
    models = [(h, lab) for h, lab in zip(handles, labels, strict=True) if not lab.startswith("best")]
    fig.legend(
        [h for h, _ in models],
        [lab for _, lab in models],
        loc="lower center",
        ncol=min(len(models), 7),
        fontsize=8,
        frameon=False,
        handlelength=3.0,
        markerscale=0.8,
        title=_family_caption(styles),
        title_fontsize=8,
    )
    fig.suptitle(title or "Model selection: criteria against the number of components", fontsize=11)
    rows = math.ceil(len(models) / 7)
    fig.tight_layout(rect=(0, 0.02 + 0.037 * rows, 1, 1))
    return fig


def _focus(ax, values, lower_better: bool) -> None:
    """Keep the y-axis on the cells that matter: when a few far-off cells (k = 1, spherical,
    say) would squeeze the rest into a sliver, cut the axis at the 80% quantile of the values
    (from the best end) and say so in the panel."""
    import numpy as np

    v = np.asarray([x for x in values if math.isfinite(x)], dtype=float)
    if len(v) < 5:
        return
    sign = 1.0 if lower_better else -1.0
    v = sign * v
    lo, hi, q = v.min(), v.max(), float(np.quantile(v, 0.8))
    if q - lo <= 0 or hi - lo <= 2.5 * (q - lo):
        return
    top = q + 0.1 * (q - lo)
    bottom = lo - 0.05 * (q - lo)
    ax.set_ylim(*sorted((sign * bottom, sign * top)))
    ax.text(
        0.99,
        0.01 if not lower_better else 0.99,
        f"axis cut at {sign * top:.4g}: {int(np.sum(v > top))} points beyond",
        transform=ax.transAxes,
        ha="right",
        va="bottom" if not lower_better else "top",
        fontsize=7,
        color="0.35",
    )


def _family_caption(styles: dict) -> str:
    present = list(dict.fromkeys(s["family"] for s in styles.values()))
    return ";  ".join(f"{f}: {_FAMILY[f][2]}" for f in present)


def _mark_winner(ax, best, attribute: str, name: str) -> None:
    """A star on the winning cell, and the winner in the panel's title."""
    value = getattr(best, attribute)
    if not math.isfinite(value):
        return
    ax.plot([best.k], [value], marker="*", markersize=20, color="black", linestyle="none", zorder=5)
    letters = getattr(best, "model", best.covariance_type)
    ax.set_title(f"{_PANELS[name][0]}: best {letters}, k={best.k} ({value:.6g})", fontsize=10)


def save_criteria_plot(cells, path, best=None, criterion: str = "bic", title: str | None = None) -> None:
    """Draw the criteria figure and save it atomically as PNG (800 x 600)."""
    save_png(criteria_figure(cells, best, criterion, title), path)
