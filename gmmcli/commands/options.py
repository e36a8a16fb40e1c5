"""Options shared by several commands, defined once so they read the same everywhere.

Every command that reads data takes the five input options (``INPUT_OPTIONS``: --no-header,
-d, --columns, --exclude, --dropna); every command that writes a table takes -o, --format,
--precision and --no-output-header. tests/test_shell_manners.py checks that each command has
them, spelled and explained alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer


def covariance_names(incomplete: str) -> list[str]:
    """Shell completion of -t: scikit-learn's four names and mclust's fourteen."""
    from ..engine import covariance

    return choices(*covariance.SKLEARN_TYPES, *covariance.MODEL_NAMES)(incomplete)


def choices(*values: str):
    """Shell completion of an option's choices (``typer.Option(autocompletion=choices(...))``)."""

    def complete(incomplete: str) -> list[str]:
        return [v for v in values if v.startswith(incomplete)]

    return complete


#: The formats of commands whose output is a table (select's grid, compare, lrt).
TABLE_FORMATS = ("table", "csv", "tsv", "json")
TableFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        metavar="table|csv|tsv|json",
        help="Output on stdout; default: table on a terminal, else csv. json is one object per line.",
        show_default=False,
        autocompletion=choices(*TABLE_FORMATS),
    ),
]


DataArg = Annotated[
    str, typer.Argument(metavar="DATA", help="Input CSV/TSV file, or - for stdin.", show_default=False)
]
DataFilesArg = Annotated[
    list[str],
    typer.Argument(
        metavar="DATA...",
        help="Input file, or - for stdin; with --engine dask, files or quoted globs.",
        show_default=False,
    ),
]
ModelArg = Annotated[
    str, typer.Argument(metavar="MODEL", help="A model file written by 'gmmcli fit'.", show_default=False)
]
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write here (atomically) instead of stdout.",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        metavar="csv|tsv|json",
        help="Output format; json is one object per line.",
        autocompletion=choices("csv", "tsv", "json"),
    ),
]
PrecisionOpt = Annotated[
    int | None,
    typer.Option(
        "--precision",
        metavar="N",
        help="Write floats with N significant digits (default: all 17, exact round trip).",
        show_default=False,
    ),
]
NoOutputHeaderOpt = Annotated[
    bool,
    typer.Option(
        "--no-output-header",
        help="Write no header line (csv, tsv). Not --no-header: that one is about the input.",
    ),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns",
        "-c",
        metavar="A,B",
        help="Use these input columns only (comma-separated names; headerless: x0,x1,...).",
        show_default=False,
    ),
]
ExcludeOpt = Annotated[
    str | None,
    typer.Option(
        "--exclude",
        "-x",
        metavar="A,B",
        help="Leave these input columns out (ids, labels, text).",
        show_default=False,
    ),
]
DropnaOpt = Annotated[
    bool, typer.Option("--dropna", help="Skip rows with missing or infinite values instead of failing.")
]
KeepOpt = Annotated[
    str | None,
    typer.Option(
        "--keep",
        metavar="A,B",
        help="Copy these input columns (an id, say) into the output, verbatim.",
        show_default=False,
    ),
]
DelimiterOpt = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        "-d",
        metavar="CHAR",
        help="Field separator: , ; | or tab (default: comma for .csv, tab for .tsv, else sniffed "
        "from the first lines: comma, tab, semicolon or pipe).",
        show_default=False,
    ),
]
#: One meaning in every command that draws at random (fit, select, lrt, sample, plot,
#: digits-demo): runs are deterministic by default, as select's always were.
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed",
        metavar="N",
        help="Random seed of every random choice (default 0; pass another seed for other draws): "
        "the same seed gives the same output.",
        show_default=False,
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        metavar="N",
        help="Fits in parallel (default: all cores; 1: one at a time). The result does not depend on it.",
        show_default=False,
    ),
]
NoHeaderOpt = Annotated[
    bool,
    typer.Option("--no-header", help="The input has no header line; its columns are named x0, x1, ..."),
]
MaxMemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--max-memory",
        metavar="SIZE",
        help="Refuse to start if the estimated memory need exceeds SIZE (e.g. 500M, 2G). "
        "Default: the memory available now.",
        show_default=False,
    ),
]
WeightsOpt = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        metavar="COLUMN",
        help="Row weights from this column (not a feature); integer weights fit like repeated rows.",
        show_default=False,
    ),
]
DtypeOpt = Annotated[
    str,
    typer.Option(
        "--dtype",
        metavar="float64|float32",
        help="Precision of the data in memory; float32 halves it.",
        autocompletion=choices("float64", "float32"),
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        metavar="local|dask",
        help="local: in this process; dask: partition by partition on a Dask cluster (out of core).",
        autocompletion=choices("local", "dask"),
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS",
        help="With --engine dask: a running scheduler (tcp://host:8786); default: a local cluster.",
        show_default=False,
    ),
]
WorkerMemoryOpt = Annotated[
    str,
    typer.Option(
        "--worker-memory",
        metavar="SIZE",
        help="With --engine dask and a local cluster: memory limit per worker.",
    ),
]

OutliersOpt = Annotated[
    float | None,
    typer.Option(
        "--outliers",
        metavar="Q",
        help="Add a column 'outlier': 1 where the row's log-density is below the training "
        "Q-quantile (0 < Q < 1, e.g. 0.01). The model stores the quantiles 0.001, 0.01, 0.05, 0.25, "
        "0.5, 0.75, 0.95, 0.99; other levels are interpolated linearly between the nearest two.",
        show_default=False,
    ),
]
AlignToOpt = Annotated[
    str | None,
    typer.Option(
        "--align-to",
        metavar="PREV",
        help="Number the components as in the model file PREV: each takes the label of the PREV "
        "component it matches (least total Bhattacharyya distance); extra ones get new labels.",
        show_default=False,
    ),
]

NoiseOpt = Annotated[
    bool,
    typer.Option(
        "--noise",
        help="Add mclust's uniform noise component (density 1/V over the data's bounding box, "
        "its own weight): gross outliers go there instead of pulling the Gaussians; "
        "predict labels them -1. AIC/BIC count two more parameters (its weight and V), as mclust does.",
    ),
]

# EM settings shared by fit and select (their defaults are FitSettings' defaults)
MaxIterOpt = Annotated[
    int, typer.Option("--max-iter", metavar="N", help="EM iterations per restart at most.")
]
TolOpt = Annotated[
    float, typer.Option("--tol", metavar="X", help="Stop when the mean log-likelihood gains less than this.")
]
RegCovarOpt = Annotated[
    float,
    typer.Option(
        "--reg-covar",
        metavar="X",
        help="Added to each covariance's diagonal (before the model's constraint), keeps it invertible.",
    ),
]

#: Library setting names (``SettingError.setting``) as the command line spells them.
OPTION_NAMES = {
    "n_components": "-k",
    "covariance_type": "--covariance-type",
    "n_init": "--n-init",
    "max_iter": "--max-iter",
    "tol": "--tol",
    "reg_covar": "--reg-covar",
    "init": "--init",
    "seed": "--seed",
    "dtype": "--dtype",
    "jobs": "--jobs",
    "cv": "--cv",
    "criterion": "--criterion",
    "n_boot": "--n-boot",
    "level": "--level",
    "max_k": "--max-k",
    "rtol": "--rtol",
}


def parse_names(text: str | None) -> list[str]:
    """'a,b , c' -> ['a', 'b', 'c']; None or '' -> []."""
    return [n.strip() for n in text.split(",") if n.strip()] if text else []


@dataclass(frozen=True)
class Inputs:
    """The five input options, as a command received them."""

    delimiter: str | None = None
    no_header: bool = False
    columns: str | None = None
    exclude: str | None = None
    dropna: bool = False

    @property
    def header(self) -> bool:
        return not self.no_header

    @property
    def column_list(self) -> list[str]:
        return parse_names(self.columns)

    @property
    def exclude_list(self) -> list[str]:
        return parse_names(self.exclude)


#: The options of ``Inputs``, by parameter name (a test checks every data command has them).
INPUT_OPTIONS = {
    "no_header": "--no-header",
    "delimiter": "--delimiter",
    "columns": "--columns",
    "exclude": "--exclude",
    "dropna": "--dropna",
}
#: The options of every command that writes a table.
OUTPUT_OPTIONS = {
    "output": "--output",
    "fmt": "--format",
    "precision": "--precision",
    "no_output_header": "--no-output-header",
}


def check_precision(precision: int | None) -> None:
    from ..errors import UsageError

    if precision is not None and not 1 <= precision <= 17:
        raise UsageError(f"--precision must be 1 to 17 significant digits, got {precision}")


def read_features(source: str, inputs: Inputs, *, weights: str | None = None, dtype=None, check_rows=None):
    """What fit, select and plot train or draw on: (X, names, weights) from ``source``, with a
    warning for each feature that looks like a row id. ``check_rows`` (rows, columns) is called
    while reading (the memory budget, ``fitting.memory_check``)."""
    import numpy as np

    from ..io import training

    X, names, w = training.read_training_data(
        source,
        inputs.delimiter,
        inputs.header,
        columns=inputs.column_list,
        exclude=inputs.exclude_list,
        weights=weights,
        dropna=inputs.dropna,
        dtype=np.float64 if dtype is None else dtype,
        check_rows=check_rows,
    )
    warn_row_ids(X, names)
    return X, names, w


def warn_row_ids(X, names: list[str]) -> None:
    """A warning for each feature of X that looks like a row id (``training.row_id_columns``):
    fitted, an id adds a spurious dimension (BIC 8017.72 against 2667.55 on blobs)."""
    from .. import console
    from ..io import training

    for name in training.row_id_columns(X, names):
        console.warn(
            f"column {name!r} looks like a row id (distinct whole numbers in order); "
            f"it is used as a feature: leave it out with --exclude {name}"
        )
