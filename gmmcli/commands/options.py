"""Options shared by several commands, defined once so they read the same everywhere.

Every command that reads data takes the five input options (``INPUT_OPTIONS``: --no-header,
-d, --columns, --exclude, --dropna); every command that writes a table takes -o, --format,
--precision and --no-output-header. tests/test_shell_manners.py checks that each command has
them, spelled and explained alike.

Options that commands take together are a group (``Inputs``, ``TableOutput``, ``EngineOptions``):
a command declares one parameter ``inputs: Inputs = Inputs.shown(...)`` where its --help lists
them, ``grouped`` (from ``grouping``) turns that into the separate options Typer parses, and the
command receives one ``Inputs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from .grouping import OptionGroup


def covariance_names(incomplete: str) -> list[str]:
    """Shell completion of -t: scikit-learn's four names and mclust's fourteen."""
    from ..engine import covariance

    return choices(*covariance.SKLEARN_TYPES, *covariance.MODEL_NAMES)(incomplete)


def choices(*values: str):
    """Shell completion of an option's choices (``typer.Option(autocompletion=choices(...))``)."""

    def complete(incomplete: str) -> list[str]:
        return [v for v in values if v.startswith(incomplete)]

    return complete


def unset(kind: type, *flags: str, **option):
    """An option whose value is None unless it is given, so that --help shows it no default:
    ``name: unset(str, "--x", metavar=..., help=...) = None``."""
    return Annotated[kind | None, typer.Option(*flags, show_default=False, **option)]


def one_of(*values: str) -> dict:
    """The metavar (``a|b|c``) and the shell completion of an option whose value is one of
    ``values``: ``typer.Option("--dtype", help=..., **one_of("float64", "float32"))``."""
    return dict(metavar="|".join(values), autocompletion=choices(*values))


#: The formats of commands whose output is a table (select's grid, compare, lrt).
TABLE_FORMATS = ("table", "csv", "tsv", "json")
TableFormatOpt = unset(
    str,
    "--format",
    "-f",
    help="Output on stdout; default: table on a terminal, else csv. json is one object per line.",
    **one_of(*TABLE_FORMATS),
)


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
OutputOpt = unset(str, "--output", "-o", metavar="FILE", help="Write here (atomically) instead of stdout.")
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        help="Output format; json is one object per line.",
        **one_of("csv", "tsv", "json"),
    ),
]
PrecisionOpt = unset(
    int,
    "--precision",
    metavar="N",
    help="Write floats with N significant digits (default: all 17, exact round trip).",
)
NoOutputHeaderOpt = Annotated[
    bool,
    typer.Option(
        "--no-output-header",
        help="Write no header line (csv, tsv). Not --no-header: that one is about the input.",
    ),
]
ColumnsOpt = unset(
    str,
    "--columns",
    "-c",
    metavar="A,B",
    help="Use these input columns only (comma-separated names; headerless: x0,x1,...).",
)
ExcludeOpt = unset(
    str, "--exclude", "-x", metavar="A,B", help="Leave these input columns out (ids, labels, text)."
)
DropnaOpt = Annotated[
    bool, typer.Option("--dropna", help="Skip rows with missing or infinite values instead of failing.")
]
KeepOpt = unset(
    str, "--keep", metavar="A,B", help="Copy these input columns (an id, say) into the output, verbatim."
)
DelimiterOpt = unset(
    str,
    "--delimiter",
    "-d",
    metavar="CHAR",
    help="Field separator: , ; | or tab (default: comma for .csv, tab for .tsv, else sniffed "
    "from the first lines: comma, tab, semicolon or pipe).",
)
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
JobsOpt = unset(
    int,
    "--jobs",
    "-j",
    metavar="N",
    help="Fits in parallel (default: all cores; 1: one at a time). The result does not depend on it.",
)
NoHeaderOpt = Annotated[
    bool,
    typer.Option("--no-header", help="The input has no header line; its columns are named x0, x1, ..."),
]
MaxMemoryOpt = unset(
    str,
    "--max-memory",
    metavar="SIZE",
    help="Refuse to start if the estimated memory need exceeds SIZE (e.g. 500M, 2G). "
    "Default: the memory available now.",
)
WeightsOpt = unset(
    str,
    "--weights",
    "-w",
    metavar="COLUMN",
    help="Row weights from this column (not a feature); integer weights fit like repeated rows.",
)
DtypeOpt = Annotated[
    str,
    typer.Option(
        "--dtype",
        help="Precision of the data in memory; float32 halves it.",
        **one_of("float64", "float32"),
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="local: in this process; dask: partition by partition on a Dask cluster (out of core).",
        **one_of("local", "dask"),
    ),
]
SchedulerOpt = unset(
    str,
    "--scheduler",
    metavar="ADDRESS",
    help="With --engine dask: a running scheduler (tcp://host:8786); default: a local cluster.",
)
WorkerMemoryOpt = Annotated[
    str,
    typer.Option(
        "--worker-memory",
        metavar="SIZE",
        help="With --engine dask and a local cluster: memory limit per worker.",
    ),
]

OutliersOpt = unset(
    float,
    "--outliers",
    metavar="Q",
    help="Add a column 'outlier': 1 where the row's log-density is below the training "
    "Q-quantile (0 < Q < 1, e.g. 0.01). The model stores the quantiles 0.001, 0.01, 0.05, 0.25, "
    "0.5, 0.75, 0.95, 0.99; other levels are interpolated linearly between the nearest two.",
)
#: The two options of a retrain that read the previous model file (fit; select takes --align-to).
InitModelOpt = unset(
    str,
    "--init-model",
    metavar="PREV",
    help="Warm start: run EM from the parameters of the model file PREV (same features, "
    "by name; same -k and -t, which default to PREV's). --init, --n-init are then unused.",
)
AlignToOpt = unset(
    str,
    "--align-to",
    metavar="PREV",
    help="Number the components as in the model file PREV: each takes the label of the PREV "
    "component it matches (least total Bhattacharyya distance); extra ones get new labels.",
)

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
class Inputs(OptionGroup):
    """The five input options, as a command received them."""

    no_header: NoHeaderOpt = False
    delimiter: DelimiterOpt = None
    columns: ColumnsOpt = None
    exclude: ExcludeOpt = None
    dropna: DropnaOpt = False

    @property
    def header(self) -> bool:
        return not self.no_header

    @property
    def column_list(self) -> list[str]:
        return parse_names(self.columns)

    @property
    def exclude_list(self) -> list[str]:
        return parse_names(self.exclude)

    def keywords(self, columns: bool = True) -> dict:
        """The readers' keywords (``training.read_training_data``, ``scoring.score_table``; with
        ``columns=False``, ``scoring.feature_blocks``'): delimiter, header, dropna, the column lists."""
        read = dict(delimiter=self.delimiter, header=self.header, dropna=self.dropna)
        return dict(read, columns=self.column_list, exclude=self.exclude_list) if columns else read


#: The options of ``Inputs``, by parameter name (a test checks every data command has them).
INPUT_OPTIONS = {
    "no_header": "--no-header",
    "delimiter": "--delimiter",
    "columns": "--columns",
    "exclude": "--exclude",
    "dropna": "--dropna",
}


@dataclass(frozen=True)
class TableOutput(OptionGroup):
    """-o, --format, --precision, --no-output-header of a command that writes a table
    (predict, proba, score, sample)."""

    output: OutputOpt = None
    fmt: FormatOpt = "csv"
    precision: PrecisionOpt = None
    no_output_header: NoOutputHeaderOpt = False

    @property
    def header(self) -> bool:
        return not self.no_output_header

    def check(self) -> None:
        """A bad --format or --precision is a usage error, before any work."""
        from ..io.output import check_format

        check_format(self.fmt)
        check_precision(self.precision)

    def keywords(self) -> dict:
        """output, fmt, precision, output_header: what ``scoring.score_table`` writes by."""
        return dict(output=self.output, fmt=self.fmt, precision=self.precision, output_header=self.header)

    def write(self, table) -> None:
        """Write ``table`` (a DataFrame or PlainTable) as the options say."""
        from ..io.output import write_table

        write_table(table, self.output, self.fmt, header=self.header, precision=self.precision)


@dataclass(frozen=True)
class EngineOptions(OptionGroup):
    """--engine, --scheduler, --worker-memory: which engine runs the command, and its cluster."""

    engine: EngineOpt = "local"
    scheduler: SchedulerOpt = None
    worker_memory: WorkerMemoryOpt = "auto"

    @property
    def dask(self) -> bool:
        return self.engine == "dask"

    def check(self, data: list[str], **local_only) -> None:
        """``engine_choice.check_engine``: the engine against the inputs and ``local_only``, the
        options (by parameter name: given or not) that only the local engine has."""
        from .engine_choice import check_engine

        check_engine(self.engine, data, self.scheduler, self.worker_memory, **local_only)

    def connect(self):
        """The Dask client (a context manager): the scheduler given, or a local cluster."""
        from ..engine.dask_em import connect

        return connect(self.scheduler, memory_limit=self.worker_memory)


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
        weights=weights,
        dtype=np.float64 if dtype is None else dtype,
        check_rows=check_rows,
        **inputs.keywords(),
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
