"""gmmcli info: what a model file holds, as a table or JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import ModelArg

EPILOG = "Examples:\n\n  gmmcli info model.joblib\n\n  gmmcli info model.joblib --json | jq .bic"


def info(
    model: ModelArg,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout, for scripts.")] = False,
    params: Annotated[
        bool, typer.Option("--params", help="With --json, include weights, means and covariances.")
    ] = False,
) -> None:
    """Show a model's settings, fit quality, provenance and (optionally) parameters."""
    import json

    from ..model import load_model

    m = load_model(model)
    summary = model_summary(m, params)
    if as_json:
        print(json.dumps(summary, sort_keys=False))
        return
    from rich.table import Table

    from ..console import stdout_console

    table = Table(show_header=False, box=None)
    for key, value in summary.items():
        if key == "components":
            continue  # a table of their own, below
        table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    out = stdout_console()
    out.print(table)
    out.print(_components_table(summary["components"]))


def model_summary(m, with_params: bool = False) -> dict:
    """Everything in the model file as JSON-ready builtins, and each component's size, mean and
    volume / shape / orientation (``components.describe``)."""
    out = {
        "n_components": m.n_components,
        "covariance_type": m.covariance_type,
        "feature_names": m.feature_names,
    }
    out.update(m.meta)
    from ..components import describe

    out["components"] = describe(m)
    if with_params:
        p = m.params
        out.update(weights=p.weights.tolist(), means=p.means.tolist(), covariances=p.covariances.tolist())
    return out


def _components_table(components: list[dict]):
    """Components as rows: size, mean, volume, shape, orientation (its axes as columns)."""
    from rich.table import Table

    def numbers(values) -> str:
        return " ".join(f"{v:.4g}" for v in values)

    table = Table(
        title="components: Sigma = volume x D diag(shape) D^T (D: orientation, one axis per column)",
        title_justify="left",
    )
    # the means follow feature_names' order (above); no names from the file go into rich markup
    for name in ("label", "weight", "rows", "mean", "volume", "shape", "orientation"):
        table.add_column(name, justify="right" if name in ("label", "weight", "rows", "volume") else "left")
    for c in components:
        rows = "" if c["expected_rows"] is None else f"{c['expected_rows']:.1f}"
        orientation = "\n".join(numbers(row) for row in c["orientation"])
        table.add_row(
            str(c["label"]),
            f"{c['weight']:.4f}",
            rows,
            numbers(c["mean"]),
            f"{c['volume']:.4g}",
            numbers(c["shape"]),
            orientation,
        )
    return table
