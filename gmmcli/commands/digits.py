"""gmmcli digits-demo: the notebook's digits generative model, end to end, into a folder."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import JobsOpt, SeedOpt

EPILOG = """Examples:

  gmmcli digits-demo                       # 150 components, seconds to a minute

  gmmcli digits-demo -k 20 --seed 1 -o /tmp/digits

  gmmcli digits-demo --sweep --jobs 2      # also the AIC curve over k = 1, 11, ..., 191
"""


def digits_demo(
    out_dir: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            "--out-dir",
            "-O",
            metavar="DIR",
            help="Folder for the PNGs, model and summary (created if missing). -O/--out-dir: the same.",
        ),
    ] = "digits-demo",
    n_components: Annotated[
        int, typer.Option("--n-components", "-k", metavar="N", help="Mixture components.")
    ] = 150,
    seed: SeedOpt = 0,
    n_samples: Annotated[
        int,
        typer.Option(
            "--n-samples", "-n", metavar="N", help="Digits to generate (the grid shows the first 100)."
        ),
    ] = 100,
    variance: Annotated[
        float, typer.Option("--variance", metavar="X", help="Share of the variance PCA keeps.")
    ] = 0.99,
    max_iter: Annotated[int, typer.Option("--max-iter", metavar="N", help="EM iterations at most.")] = 100,
    sweep: Annotated[
        bool,
        typer.Option(
            "--sweep", help="Also run the AIC sweep (k = 1, 11, ..., 191) and write digits_aic.png."
        ),
    ] = False,
    jobs: JobsOpt = None,
) -> None:
    """Fit a GMM to scikit-learn's bundled 8x8 digits in PCA space and draw new digits from it.

    Writes digits_original.png, digits_generated.png (10x10 grids), digits_gmm.joblib (the model,
    in PCA space) and digits_summary.json into the -o folder; progress goes to stderr.
    """
    from .. import console
    from ..digits import DigitsSettings, run_digits_demo

    settings = DigitsSettings(
        n_components=n_components,
        seed=seed,
        variance=variance,
        n_samples=n_samples,
        max_iter=max_iter,
        sweep=sweep,
        jobs=jobs,
    )
    result = run_digits_demo(out_dir, settings, progress=console.info)
    if not result.summary["converged"]:
        console.warn(f"EM did not converge in {max_iter} iterations (raise --max-iter)")
    console.info("wrote " + ", ".join(result.files.values()))
