"""select's grid as a table on stdout, made to fit the terminal.

Rows k, a column per covariance model; when that is wider than the terminal (14 models are), the
table is turned: a row per model, a column per k, and when even that is too wide its k columns
are cut into blocks printed one under the other (as R prints a wide matrix). Each cell shows the
criterion with a mark: ``*`` the winner, ``!`` not converged; a cell without a score says
``degenerate`` (its best fit had a component held up only by reg_covar) or ``failed``. A legend
under the table explains the marks that appear.
"""

from __future__ import annotations

import math

from .. import console
from ..engine import covariance

CRITERION_LABEL = {"bic": "BIC", "aic": "AIC", "icl": "ICL", "cv": "CV log-likelihood"}

#: What each mark means, in the legend's order.
LEGEND = {
    "*": "* best",
    "!": "! did not converge (raise --max-iter or --tol)",
    "degenerate": "degenerate: a component on too few rows; no score, never the winner",
    "failed": "failed: could not be fitted (see the warnings)",
}


def print_grid(cells, winner, criterion: str, types, k_list, cv, noise: bool = False) -> None:
    """Print the grid on stdout (a terminal: fitted to its width), then the legend; ``noise``:
    every cell has a noise component, which the title says."""
    from ..selection import LOWER_IS_BETTER

    out = console.stdout_console()
    better = "lower" if LOWER_IS_BETTER[criterion] else "higher"
    what = (
        f"mean held-out log-likelihood per row, {cv}-fold CV"
        if criterion == "cv"
        else CRITERION_LABEL[criterion]
    ) + (", each with a noise component" if noise else "")
    by_key = {(c.k, c.covariance_type): c for c in cells}
    marks: set[str] = set()
    texts = {key: _cell_text(cell, winner, criterion, marks) for key, cell in by_key.items()}
    names = {t: _header(t, types) for t in types}

    table = _table(f"{what} ({better} is better)", "k", [names[t] for t in types])
    by_column = {t: _column([texts[(k, t)] for k in k_list]) for t in types}
    for i, k in enumerate(k_list):
        table.add_row(str(k), *[by_column[t][i] for t in types])
    if _natural_width(out, table) <= out.width:
        out.print(table)
    else:  # turned: a row per model, k across, in blocks that fit
        by_k = {k: _column([texts[(k, t)] for t in types]) for k in k_list}
        for i, block in enumerate(_blocks(out, k_list, types, by_k, names)):
            turned = _table(
                f"{what} ({better} is better); rows: models, columns: k" if i == 0 else "(continued)",
                "model",
                [str(k) for k in block],
            )
            for j, t in enumerate(types):
                turned.add_row(names[t], *[by_k[k][j] for k in block])
            out.print(turned)
    legend = [text for mark, text in LEGEND.items() if mark in marks]
    if legend:
        line = "   ".join(legend)
        out.print(line if len(line) <= out.width else "\n".join(legend), markup=False, highlight=False)


def _natural_width(out, table) -> int:
    """The table's width if nothing were squeezed (rich's measure stops at the console width)."""
    return out.measure(table, options=out.options.update(max_width=1 << 20)).maximum


def _header(name: str, types) -> str:
    """A model's column name: scikit-learn's when the grid holds only its four, else mclust's."""
    if all(covariance.get(t).sklearn for t in types):
        return name
    return covariance.get(name).mclust


def _table(title: str, corner: str, columns):
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column(corner, justify="right" if corner == "k" else "left")
    for name in columns:
        table.add_column(name, justify="right")
    return table


def _cell_text(cell, winner, criterion: str, marks: set[str]) -> tuple[str, str, str]:
    """(text, mark, style) of one cell; the mark is "  " when there is none."""
    value = cell.value(criterion)
    if not math.isfinite(value):
        kind = "degenerate" if (cell.error or "").startswith("degenerate:") else "failed"
        marks.add(kind)
        return kind, "", "red" if kind == "failed" else "magenta"
    text = f"{value:.4f}" if criterion == "cv" else f"{value:.2f}"
    style, mark = "", "  "
    if not cell.converged:
        style, mark = "yellow", " !"
        marks.add("!")
    if cell is winner:
        style, mark = "bold green", " *"
        marks.add("*")
    return text, mark, style


def _column(parts) -> list:
    """The cells of one column as rich Texts: the marks' room kept only where a mark is."""
    from rich.text import Text

    room = any(mark.strip() for _, mark, _ in parts)
    return [Text(text + (mark if room else ""), style=style) for text, mark, style in parts]


def _blocks(out, k_list, types, by_k, names):
    """The k columns of the turned table cut into blocks no wider than the terminal."""
    first = max(len("model"), *(len(names[t]) for t in types)) + 3  # padding and border
    width = {k: max(len(str(k)), *(len(text) for text in by_k[k])) + 3 for k in k_list}
    blocks, block, used = [], [], 1 + first
    for k in k_list:
        if block and used + width[k] > out.width:
            blocks.append(block)
            block, used = [], 1 + first
        block.append(k)
        used += width[k]
    blocks.append(block)
    return blocks
