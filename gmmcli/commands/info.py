"""gmmcli info: what a model file holds, as aligned text or JSON."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import ModelArg, OutputOpt, choices

EPILOG = """Examples:

  gmmcli info model.joblib

  gmmcli info model.joblib --format json | jq .bic

  gmmcli info model.joblib --format json --params -o model.json
"""

INFO_FORMATS = ("text", "json")


def info(
    model: ModelArg,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            metavar="text|json",
            help="text: one 'key  value' line each; json: one JSON object, for scripts.",
            autocompletion=choices(*INFO_FORMATS),
        ),
    ] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
    params: Annotated[bool, typer.Option("--params", help="Include weights, means and covariances.")] = False,
    output: OutputOpt = None,
) -> None:
    """Show a model's settings, fit quality, provenance and (optionally) parameters."""
    import json

    from ..errors import UsageError
    from ..io.tables import output_stream
    from ..model import load_model

    if fmt not in INFO_FORMATS:
        raise UsageError(f"unknown format {fmt!r} (choose from {', '.join(INFO_FORMATS)})")
    m = load_model(model)
    summary = model_summary(m, params)
    if as_json or fmt == "json":
        text = json.dumps(summary, sort_keys=False) + "\n"
    else:
        text = as_text(summary)
    with output_stream(output) as fh:
        fh.write(text)


def as_text(summary: dict) -> str:
    """'key   value' lines, the values aligned, nothing after the value (no padding to a width)."""
    import json

    width = max(map(len, summary)) + 2
    lines = []
    for key, value in summary.items():
        shown = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        lines.append(f"{key:<{width}}{shown}".rstrip())
    return "\n".join(lines) + "\n"


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
