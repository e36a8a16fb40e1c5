"""gmmcli lrt: mclust's bootstrap likelihood-ratio test for the number of components."""

from __future__ import annotations

import math
import sys
from typing import Annotated

import typer

from .. import console
from .grouping import grouped
from .options import TABLE_FORMATS, DataArg, Inputs, RegCovarOpt, SeedOpt, TableFormatOpt, unset
from .progress import progress

EPILOG = """Examples:

  gmmcli lrt sample_data/blobs.csv -x id -t VVV --max-k 5 -B 99

  gmmcli lrt data.csv -t EEE --max-k 4 -B 999 --all --format json > lrt.jsonl

For k = 1, 2, ...: LRTS = 2 (log L(k+1) - log L(k)) and its p-value
(1 + #{boot >= LRTS}) / (B + 1) from B bootstrap samples of the fitted
k-component model, each refitted with k and k+1 components.
The first k not rejected at --level is the answer.
On a terminal the tests are a table, else CSV; the verdict goes to stderr.
"""


@grouped
def lrt(
    data: DataArg,
    covariance_type: Annotated[
        str,
        typer.Option(
            "--covariance-type",
            "-t",
            metavar="MODEL",
            help="The covariance model tested: full, tied, diag, spherical or an mclust name (EII ... VVV).",
        ),
    ] = "full",
    max_k: Annotated[
        int,
        typer.Option("--max-k", metavar="N", help="The last test is N against N+1 components."),
    ] = 8,
    n_boot: Annotated[
        int, typer.Option("--n-boot", "-B", metavar="B", help="Bootstrap replicates per test.")
    ] = 999,
    level: Annotated[
        float,
        typer.Option("--level", metavar="A", help="Reject k components when the p-value is at most A."),
    ] = 0.05,
    run_all: Annotated[
        bool,
        typer.Option(
            "--all", help="Run every test up to --max-k instead of stopping (mclustBootstrapLRT's maxG)."
        ),
    ] = False,
    seed: SeedOpt = 0,
    n_init: Annotated[
        int, typer.Option("--n-init", metavar="N", help="EM restarts of each fit of the data (as in select).")
    ] = 10,
    init: Annotated[
        str,
        typer.Option(
            "--init",
            metavar="METHOD,...",
            help="Initialisations of the fits of the data, the best wins (as in select; hc: mclust's).",
        ),
    ] = "kmeans,hc",
    rtol: Annotated[
        float,
        typer.Option(
            "--rtol",
            metavar="X",
            help="EM stops as mclust's: when log L gains less than X (1 + |log L|) (all fits).",
        ),
    ] = 1e-5,
    tol: unset(
        float,
        "--tol",
        metavar="X",
        help="Instead of --rtol: EM stops when the mean log-likelihood per row gains less than X.",
    ) = None,
    reg_covar: RegCovarOpt = 1e-6,
    max_iter: Annotated[
        int, typer.Option("--max-iter", metavar="N", help="EM iterations per fit at most.")
    ] = 1000,
    fmt: TableFormatOpt = None,
    jobs: unset(
        int,
        "--jobs",
        "-j",
        metavar="N",
        help="Replicates run in parallel (default: all cores); the result is the same for any N.",
    ) = None,
    inputs: Inputs = Inputs.shown("columns", "exclude", "dropna", "delimiter"),
) -> None:
    """Test k against k+1 components by a parametric bootstrap (mclust's mclustBootstrapLRT).

    The data is fitted with 1 .. max-k + 1 components (each as a select cell: --n-init restarts,
    degenerate fits refused); each bootstrap sample is refitted by one EM run from those fits.
    """
    from .. import bootstrap_lrt as lr
    from .. import settings as st
    from ..errors import UsageError
    from ..io import training
    from ..io.output import check_format

    model = st.parse_covariance_types(covariance_type)
    if len(model) != 1 or covariance_type.strip().lower() == "all":
        raise UsageError("-t takes one covariance model for the test (e.g. -t VVV)")
    lr.check_test_settings(n_boot, level, max_k)
    inits = st.parse_inits(init)
    st.check_em(n_init, 0.0 if tol is None else tol, reg_covar, max_iter)
    refit = lr.RefitSettings(rtol=rtol, tol=tol, reg_covar=reg_covar, max_iter=max_iter)
    refit.check()
    st.check_seed(seed)
    st.check_jobs(jobs)
    fmt = fmt or ("table" if sys.stdout.isatty() else "csv")
    check_format(fmt, TABLE_FORMATS)
    if 1 / (n_boot + 1) > level:
        console.warn(
            f"with {n_boot} replicates the smallest p-value is {1 / (n_boot + 1):.3g}, above --level "
            f"{level:g}: no test can reject (use -B {math.ceil(1 / level) - 1} or more)"
        )
    X, _names, _w = training.read_training_data(data, **inputs.keywords())
    with progress(max_k * n_boot, "bootstrap", "replicates") as advance:
        result = lr.sequential(
            X,
            model[0],
            max_k=max_k,
            n_boot=n_boot,
            level=level,
            seed=seed,
            run_all=run_all,
            refit=refit,
            jobs=jobs,
            n_init=n_init,
            init=inits,
            on_replicates=lambda k, m: advance(amount=m),
        )
    if fmt == "table":
        _print_table(result, level)
    else:
        from .records import write_records

        write_records(result.records(), lr.FIELDS, fmt)
    if result.stopped:
        console.warn(f"the tests stop at {result.steps[-1].k1} components: {result.stopped}")
    redraws = sum(s.redraws for s in result.steps)
    if redraws:
        console.warn(f"{redraws} bootstrap samples were drawn again: a refit was degenerate or failed")
    console.info(verdict(result, level))


def verdict(result, level: float) -> str:
    """'lrt: VVV, 2 components (2 vs 3: p = 0.577 > 0.05)'."""
    steps = result.steps
    model = steps[0].model
    if result.n_components is None:
        last = steps[-1]
        if result.stopped:
            return f"lrt: {model}, no k up to {last.k0} is kept: every test rejected ({result.stopped})"
        return (
            f"lrt: {model}, at least {last.k1} components: every test up to {last.k0} vs {last.k1} "
            f"rejected at {level:g} (raise --max-k)"
        )
    step = next(s for s in steps if s.k0 == result.n_components)
    return (
        f"lrt: {model}, {result.n_components} component{'s' if result.n_components > 1 else ''} "
        f"({step.k0} vs {step.k1}: p = {step.p_value:.3g} > {level:g})"
    )


def _print_table(result, level: float) -> None:
    from rich.table import Table
    from rich.text import Text

    steps = result.steps
    table = Table(
        title=f"Bootstrap LRT, {steps[0].model}: {steps[0].n_boot} replicates per test, level {level:g}",
        title_justify="left",
    )
    for name in ("test", "log L(k)", "log L(k+1)", "LRTS", "p-value", "boot median", "boot 95%", ""):
        table.add_column(name, justify="left" if name in ("test", "") else "right")
    for s in steps:
        mark = Text("rejected", style="") if s.rejected else Text("kept *", style="bold green")
        table.add_row(
            f"{s.k0} vs {s.k1}",
            f"{s.log_likelihood0:.3f}",
            f"{s.log_likelihood1:.3f}",
            f"{s.lrts:.3f}",
            f"{s.p_value:.3f}",
            f"{s.boot_median:.3f}",
            f"{s.boot_q95:.3f}",
            mark,
        )
    out = console.stdout_console()
    out.print(table)
    out.print(
        f"rejected: p <= {level:g}, k+1 fits better;  kept *: the first k not rejected",
        markup=False,
        highlight=False,
    )
