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
        table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    stdout_console().print(table)


def model_summary(m, with_params: bool = False) -> dict:
    """Everything in the model file as JSON-ready builtins."""
    out = {
        "n_components": m.n_components,
        "covariance_type": m.covariance_type,
        "feature_names": m.feature_names,
    }
    out.update(m.meta)
    if with_params:
        p = m.params
        out.update(weights=p.weights.tolist(), means=p.means.tolist(), covariances=p.covariances.tolist())
    return out
