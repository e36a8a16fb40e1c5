"""gmmcli check: does DATA still look like the data MODEL was trained on? (exit 0 or 4)"""

from __future__ import annotations

from typing import Annotated

import typer

from .grouping import grouped
from .options import DataArg, Inputs, ModelArg

EPILOG = """Examples:

  gmmcli check model.joblib today.csv && gmmcli predict model.joblib today.csv -o labels.csv

  gmmcli check model.joblib today.csv --max-tail-share 0.03 --alpha 0.01 --json

Exit 0: consistent; 4: drifted (the verdict is then an error: line); other codes as everywhere.
"""


@grouped
def check(
    model: ModelArg,
    data: DataArg,
    max_tail_share: Annotated[
        float,
        typer.Option(
            "--max-tail-share",
            metavar="X",
            help="Drift when more than this share of rows falls below the training 1% log-density "
            "quantile (1% expected).",
        ),
    ] = 0.05,
    alpha: Annotated[
        float,
        typer.Option(
            "--alpha",
            metavar="P",
            help="Drift when the chi-square test of the whole log-density distribution against the "
            "training quantiles gives a p-value below P.",
        ),
    ] = 0.001,
    as_json: Annotated[
        bool, typer.Option("--json", help="Also write the measures as one JSON object on stdout.")
    ] = False,
    inputs: Inputs = Inputs.shown("dropna", "delimiter", "no_header"),
) -> None:
    """Check DATA against the log-density quantiles MODEL stores of its training data.

    Two measures: the share of rows below the training 1% quantile, and a chi-square test of
    the whole distribution over the stored quantiles' bins. Prints a one-line verdict on
    stderr; exits 0 when consistent, 4 when drifted.
    """
    import json

    from .. import console
    from ..drift import DriftCheck
    from ..engine import density
    from ..errors import Drifted, UsageError
    from ..model import load_model
    from ..scoring import feature_blocks

    if not 0.0 <= max_tail_share <= 1.0:
        raise UsageError(f"--max-tail-share must be between 0 and 1, got {max_tail_share}")
    if not 0.0 <= alpha < 1.0:
        raise UsageError(f"--alpha must be at least 0 and below 1, got {alpha}")
    m = load_model(model)
    counter = DriftCheck.for_model(m)
    for X in feature_blocks(data, m.feature_names, **inputs.keywords(columns=False)):
        counter.add(density.score_samples(X, m.params))
    report = counter.report(max_tail_share, alpha)
    if as_json:
        print(json.dumps(report.record()))
    if report.drifted:
        raise Drifted(f"check: {report.verdict()}")
    console.info(f"check: {report.verdict()}")
