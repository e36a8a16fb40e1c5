"""gmmcli sample: new points drawn from a saved model, as a table."""

from __future__ import annotations

from typing import Annotated

import typer

from .grouping import grouped
from .options import ModelArg, SeedOpt, TableOutput

EPILOG = """Examples:

  gmmcli sample moons16.joblib -n 400 --seed 1 -o generated.csv

  gmmcli sample model.joblib -n 5 --with-component --format json

  gmmcli sample model.joblib -n 1000 --precision 4 --no-output-header > points.csv
"""

COMPONENT_COLUMN = "component"


@grouped
def sample(
    model: ModelArg,
    n_samples: Annotated[
        int,
        typer.Option("--n-samples", "-n", metavar="N", help="How many points to draw.", show_default=False),
    ],
    seed: SeedOpt = 0,
    with_component: Annotated[
        bool,
        typer.Option(
            "--with-component", help="Add a 'component' column: the component each point came from."
        ),
    ] = False,
    out: TableOutput = TableOutput.shown(),
) -> None:
    """Draw N new points from MODEL, one row each, under the model's feature names.

    Rows come in random order (not grouped by component). The draw is the same for the same
    --seed (default 0), whatever seed the model was fitted with.
    """
    from .. import memory
    from ..errors import UsageError
    from ..io.atomic import refuse_same_file
    from ..io.output import require_stdout
    from ..model import load_model
    from ..settings import check_seed

    out.check()
    if n_samples < 1:
        raise UsageError(f"-n must be at least 1, got {n_samples}")
    check_seed(seed)
    refuse_same_file(out.output, [model])
    require_stdout(out.output)
    m = load_model(model)
    memory.check_sample_memory(n_samples, len(m.feature_names), "-n")
    if with_component and COMPONENT_COLUMN in m.feature_names:
        raise UsageError(
            f"--with-component would add a column {COMPONENT_COLUMN!r}, "
            "but the model has a feature of that name"
        )
    X, components = m.sample(n_samples, seed)

    import pandas as pd

    frame = pd.DataFrame(X, columns=m.feature_names)
    if with_component:
        frame[COMPONENT_COLUMN] = components
    out.write(frame)
