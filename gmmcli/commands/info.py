"""gmmcli info: what a model file holds, as aligned text or JSON."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from .options import ModelArg, OutputOpt, one_of

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
            help="text: one 'key  value' line each; json: one JSON object, for scripts.",
            **one_of(*INFO_FORMATS),
        ),
    ] = "text",
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
    params: Annotated[bool, typer.Option("--params", help="Include weights, means and covariances.")] = False,
    output: OutputOpt = None,
) -> None:
    """Show a model's settings, fit quality, provenance and (optionally) parameters."""
    import json

    from ..io.output import check_format, output_stream, require_stdout
    from ..model import load_model

    check_format(fmt, INFO_FORMATS)
    if output is None:
        require_stdout()
    m = load_model(model)
    summary = model_summary(m, params)
    if as_json or fmt == "json":  # exact JSON: control characters as \u001b, NaN and infinities as null
        text = json.dumps(json_ready(summary), sort_keys=False, allow_nan=False) + "\n"
    else:
        text = as_text(summary)
    with output_stream(output) as fh:
        fh.write(text)


def as_text(summary: dict) -> str:
    """'key   value' lines, the values aligned, nothing after the value (no padding to a width);
    every string from the file escaped (``console.shown``), so it cannot drive the terminal."""
    import json

    from ..console import shown

    width = max(map(len, summary)) + 2
    lines = []
    for key, value in summary.items():
        if key == "components":
            continue  # lines of their own, below
        text = json.dumps(json_ready(value)) if isinstance(value, (dict, list)) else str(value)
        lines.append(f"{shown(key):<{width}}{shown(text)}".rstrip())  # model strings shown as text
    return "\n".join(lines + _components_lines(summary.get("components", []))) + "\n"


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


def _components_lines(components: list[dict]) -> list[str]:
    """Each component's size, mean and volume / shape / orientation, a block of aligned lines:
    Sigma = volume x D diag(shape) D^T, D's axes as its columns (one row of D per line)."""

    def numbers(values) -> str:
        return " ".join(f"{v:.4g}" for v in values)

    if not components:
        return []
    lines = ["", "components: Sigma = volume x D diag(shape) D^T (D: orientation, one axis per column)"]
    for c in components:
        rows = "" if c["expected_rows"] is None else f", rows {c['expected_rows']:.1f}"
        lines.append(f"  label {c['label']}: weight {c['weight']:.4f}{rows}, volume {c['volume']:.4g}")
        lines.append(f"     mean         {numbers(c['mean'])}")
        lines.append(f"     shape        {numbers(c['shape'])}")
        for i, row in enumerate(c["orientation"]):
            lines.append(f"     {'orientation' if i == 0 else '':<12} {numbers(row)}")
    return lines
