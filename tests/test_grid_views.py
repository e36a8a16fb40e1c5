"""select's views of the grid: the table fitted to the terminal, and the criteria plot."""

from __future__ import annotations

import io
import math

import numpy as np

from gmmcli import selection as sel
from gmmcli.commands import grid_table
from gmmcli.settings import ALL_MODELS


def fake_grid(types=ALL_MODELS, ks=range(1, 10), degenerate=("VVV", 9), failed=("EVV", 8), stuck=("EII", 3)):
    """Cells with made-up criteria (a minimum at VEV k=2), one degenerate, one failed, one not converged."""
    cells = []
    for i, t in enumerate(types):
        for k in ks:
            c = sel.Cell(
                k, t, log_likelihood=-1000.0 + 40 * k - i, n_parameters=5 * k, converged=True, n_iter=5
            )
            c.bic = 600.0 + 10 * (k - 2) ** 2 + 3 * i - (40 if sel.Cell(k, t).model == "VEV" else 0)
            c.aic, c.icl = c.bic - 50.0, c.bic + 4.0 * (k - 1)
            if (c.model, k) == degenerate:
                c.error, c.bic, c.aic, c.icl = (
                    "degenerate: component 0 holds 2.0 rows",
                    math.nan,
                    math.nan,
                    math.nan,
                )
            if (c.model, k) == failed:
                c.error, c.bic, c.aic, c.icl = "more components than rows (8)", math.nan, math.nan, math.nan
            if (c.model, k) == stuck:
                c.converged = False
            cells.append(c)
    return cells


def render(cells, width: int, criterion="bic") -> str:
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    types = list(dict.fromkeys(c.covariance_type for c in cells))
    ks = sorted({c.k for c in cells})
    original = grid_table.console.stdout_console
    grid_table.console.stdout_console = lambda: console
    try:
        grid_table.print_grid(cells, sel.best(cells, criterion), criterion, types, ks, None)
    finally:
        grid_table.console.stdout_console = original
    return buffer.getvalue()


def test_wide_terminal_keeps_k_as_rows():
    text = render(fake_grid(), 200)
    lines = text.splitlines()
    assert "rows: models" not in text
    assert all(len(line) <= 200 for line in lines)
    header = next(line for line in lines if "EII" in line)
    assert all(m in header for m in ("EII", "VEV", "VVV"))  # mclust's letters as column names
    assert "…" not in text  # nothing cut


def test_narrow_terminal_turns_the_table_and_cuts_it_into_blocks():
    text = render(fake_grid(), 80)
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), max(map(len, lines))
    assert "…" not in text  # every number whole
    assert text.count("rows: models, columns: k") == 1 and "(continued)" in text  # blocks of k
    for model in ALL_MODELS:
        letters = sel.Cell(1, model).model
        assert sum(line.startswith(f"│ {letters} ") for line in lines) >= 2  # a row per model per block
    for k in range(1, 10):
        assert f" {k} ┃" in text  # every k is a column somewhere


def test_marks_and_legend():
    text = render(fake_grid(), 200)
    assert "593.00 *" in text  # VEV k=2 = 600 + 3 x 11 - 40: the made-up minimum, marked
    assert "degenerate" in text.split("\n* best")[0] and "failed" in text
    assert " !" in text
    legend = text.strip().splitlines()[-1]
    for mark in ("* best", "! did not converge", "degenerate:", "failed:"):
        assert mark in legend
    narrow = render(fake_grid(), 80).strip().splitlines()
    assert [line.split(" ")[0] for line in narrow[-4:]] == ["*", "!", "degenerate:", "failed:"]  # a line each


def test_no_legend_entries_for_marks_not_shown():
    text = render(fake_grid(degenerate=None, failed=None, stuck=None), 200)
    legend = text.strip().splitlines()[-1]
    assert legend == "* best"


def test_the_four_sklearn_types_keep_their_names():
    text = render(fake_grid(types=("full", "tied", "diag", "spherical"), degenerate=None, failed=None), 200)
    assert "spherical" in text and "VVV" not in text


# --- the plot ------------------------------------------------------------------------------------


def test_plot_panels_never_share_axes(tmp_path):
    from matplotlib.image import imread

    from gmmcli.plots import criteria as plot

    cells = fake_grid()
    assert plot.panels_for(cells, "bic") == ["bic", "aic"]
    assert plot.panels_for(cells, "icl") == ["bic", "icl"]
    assert plot.panels_for(cells, "aic") == ["bic", "aic"]
    fig = plot.criteria_figure(cells, sel.best(cells, "icl"), "icl")
    bic_ax, icl_ax = fig.axes[:2]
    assert len(bic_ax.lines) == 14 and len(icl_ax.lines) == 15  # a line per model (+ the star)
    bic_values = {tuple(np.asarray(line.get_ydata(), float)[:2]) for line in bic_ax.lines}
    icl_values = {tuple(np.asarray(line.get_ydata(), float)[:2]) for line in icl_ax.lines}
    assert not bic_values & icl_values  # ICL is not drawn on the BIC panel
    assert {line.get_marker() for line in bic_ax.lines} == {
        f"$\\mathrm{{{sel.Cell(1, t).model}}}$" for t in ALL_MODELS
    }
    assert "best VEV, k=2" in icl_ax.get_title()
    path = tmp_path / "plot.png"
    plot.save_png(fig, path)
    assert imread(path).shape[:2] == (600, 800)


def test_plot_colours_by_family():
    from matplotlib.colors import to_rgb

    from gmmcli.plots.criteria import model_styles

    styles = model_styles(ALL_MODELS)
    rgb = {sel.Cell(1, t).model: to_rgb(s["colour"]) for t, s in styles.items()}
    assert all(rgb[m][2] > rgb[m][0] for m in ("EII", "VII"))  # blue
    assert all(rgb[m][1] > rgb[m][0] for m in ("EEI", "VEI", "EVI", "VVI"))  # green
    ellipsoidal = ("EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV")
    assert all(rgb[m][0] > rgb[m][2] for m in ellipsoidal)  # red
    assert len({rgb[m] for m in ellipsoidal}) == 8  # a shade each
    assert len({(rgb[m], styles[t]["line"]) for t, m in zip(styles, rgb, strict=True)}) == 14


def test_plot_cuts_the_axis_for_far_off_cells():
    from gmmcli.plots import criteria as plot

    cells = fake_grid()
    for c in cells:
        if c.k == 1:
            c.bic = 5000.0  # far above the rest
    fig = plot.criteria_figure(cells, sel.best(cells), "bic")
    top = fig.axes[0].get_ylim()[1]
    assert top < 5000 and any("axis cut" in t.get_text() for t in fig.axes[0].texts)
