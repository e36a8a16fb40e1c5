"""gmmcli info: what a model file holds, as a table or JSON."""

from __future__ import annotations

import math
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

    from ..io.tables import require_stdout
    from ..model import load_model

    require_stdout()
    m = load_model(model)
    summary = model_summary(m, params)
    if as_json:  # exact JSON: control characters as \u001b, NaN and infinities as null
        print(json.dumps(json_ready(summary), sort_keys=False, allow_nan=False))
        return
    from rich.table import Table
    from rich.text import Text

    from ..console import shown, stdout_console

    table = Table(show_header=False, box=None)
    for key, value in summary.items():
        text = json.dumps(json_ready(value)) if isinstance(value, (dict, list)) else str(value)
        table.add_row(Text(shown(key)), Text(shown(text)))  # Text: never parsed as markup
    stdout_console().print(table)


def json_ready(value):
    """``value`` with every NaN or infinity replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


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
