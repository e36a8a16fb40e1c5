"""The notebook's digits example, end to end: a GMM as a generative model of handwritten digits.

scikit-learn's bundled 8x8 digits (1797 images, no network) -> PCA keeping 99% of the variance,
whitened (41 dimensions) -> a full-covariance GMM (150 components) -> 100 samples -> inverse PCA
-> a grid of generated digits next to a grid of originals. Optionally the notebook's AIC sweep
over k = 1, 11, ..., 191 first. Composed from ``fitting``, ``model`` and ``plots``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CannotCreateOutput, UsageError

ORIGINAL_PNG = "digits_original.png"
GENERATED_PNG = "digits_generated.png"
AIC_PNG = "digits_aic.png"
MODEL_FILE = "digits_gmm.joblib"
SUMMARY_FILE = "digits_summary.json"
SWEEP_KS = tuple(range(1, 200, 10))  # the notebook's np.arange(1, 200, 10): 1, 11, ..., 191


@dataclass
class DigitsSettings:
    """What the demo does; the defaults are the notebook's."""

    n_components: int = 150
    covariance_type: str = "full"
    seed: int | None = 0
    variance: float = 0.99
    n_samples: int = 100
    max_iter: int = 100
    sweep: bool = False
    sweep_ks: tuple[int, ...] = SWEEP_KS
    jobs: int | None = None

    def validate(self) -> DigitsSettings:
        if not 0.0 < self.variance < 1.0:
            raise UsageError(f"--variance must be between 0 and 1 (exclusive), got {self.variance}")
        if self.n_samples < 1:
            raise UsageError(f"--n-samples must be at least 1, got {self.n_samples}")
        return self


@dataclass
class DigitsResult:
    """What the demo produced: the summary written to JSON, the files it wrote, the new digits."""

    summary: dict
    files: dict[str, str] = field(default_factory=dict)
    generated: np.ndarray | None = None  # (n_samples, 64) pixel rows of the generated digits


def run_digits_demo(
    out_dir, settings: DigitsSettings | None = None, progress: Callable[[str], None] = lambda message: None
) -> DigitsResult:
    """Run the demo and write its files into ``out_dir`` (created if missing).

    ``progress`` receives one line per step, for the CLI to show on stderr.
    """
    from .fitting import FitSettings

    settings = (settings or DigitsSettings()).validate()
    fit_settings = FitSettings(
        settings.n_components, settings.covariance_type, max_iter=settings.max_iter, seed=settings.seed
    ).validate()
    existed = Path(out_dir).is_dir()
    out = _prepare_dir(out_dir)
    try:
        with _staged(out) as staging:
            result = _run(staging, settings, fit_settings, progress)
    except BaseException:
        if not existed:  # a folder made for this run goes with it: no empty leftover
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    result.files = {key: str(out / Path(path).name) for key, path in result.files.items()}
    return result


def _run(out: Path, settings: DigitsSettings, fit_settings, progress) -> DigitsResult:
    """The demo itself, writing its files into ``out`` (the staging folder)."""
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    from .fitting import fit_model
    from .model import save_model
    from .plots import save_png
    from .plots.images import image_grid

    digits = load_digits()
    pixels = digits.data
    progress(f"digits: {pixels.shape[0]} images of {digits.images.shape[1]}x{digits.images.shape[2]} pixels")

    pca = PCA(settings.variance, whiten=True, random_state=settings.seed)
    data = pca.fit_transform(pixels)
    dims = int(data.shape[1])
    kept = float(pca.explained_variance_ratio_.sum())
    progress(f"PCA (whitened) keeps {dims} of {pixels.shape[1]} dimensions, {kept:.2%} of the variance")
    names = [f"pc{i + 1}" for i in range(dims)]

    sweep = _aic_sweep(data, settings, progress) if settings.sweep else None

    progress(
        f"fitting {settings.n_components} {settings.covariance_type}-covariance components "
        f"(seed {settings.seed}) ..."
    )
    started = time.perf_counter()
    model, result = fit_model(data, names, fit_settings)
    seconds = time.perf_counter() - started
    progress(f"converged: {result.converged} after {result.n_iter} iterations ({seconds:.1f} s)")

    new_data, _ = model.sample(settings.n_samples, settings.seed)
    new_pixels = pca.inverse_transform(new_data)
    progress(
        f"drew {settings.n_samples} samples in {dims} dimensions and mapped them back to "
        f"{pixels.shape[1]} pixels"
    )

    files = {
        "original": out / ORIGINAL_PNG,
        "generated": out / GENERATED_PNG,
        "model": out / MODEL_FILE,
        "summary": out / SUMMARY_FILE,
    }
    save_png(image_grid(pixels[:100]), files["original"])
    save_png(image_grid(new_pixels[:100]), files["generated"])
    save_model(model, files["model"])
    if sweep is not None:
        files["aic"] = out / AIC_PNG
        save_png(_aic_figure(sweep), files["aic"])

    summary = {
        "n_images": int(pixels.shape[0]),
        "n_pixels": int(pixels.shape[1]),
        "pca_variance": settings.variance,
        "pca_dimensions": dims,
        "pca_explained_variance": kept,
        "n_components": settings.n_components,
        "covariance_type": settings.covariance_type,
        "seed": settings.seed,
        "converged": bool(result.converged),
        "n_iter": int(result.n_iter),
        "log_likelihood": model.meta["log_likelihood"],
        "aic": model.meta["aic"],
        "bic": model.meta["bic"],
        "n_samples": settings.n_samples,
        "files": {key: path.name for key, path in files.items()},
    }
    if sweep is not None:
        summary["aic_sweep"] = sweep
    _write_json(summary, files["summary"])
    return DigitsResult(summary, {key: str(path) for key, path in files.items()}, new_pixels)


OUTPUT_FILES = (ORIGINAL_PNG, GENERATED_PNG, MODEL_FILE, SUMMARY_FILE, AIC_PNG)


@contextlib.contextmanager
def _staged(out: Path):
    """A temporary folder inside ``out`` for the demo's files, moved into ``out`` together.

    Nothing reaches ``out`` until every file is written; then the renames run with stop
    signals held back (a SIGTERM then lands after the last one), and a file of an earlier run
    that this one did not make (``digits_aic.png`` without --sweep) goes, so the folder never
    mixes two runs. On any failure the staging folder is removed and ``out`` is untouched.
    """
    staging = Path(tempfile.mkdtemp(prefix=".digits-demo-staging.", dir=out))
    try:
        yield staging
        with _signals_held():
            made = {p.name for p in staging.iterdir()}
            for name in OUTPUT_FILES:
                if name in made:
                    os.replace(staging / name, out / name)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(out / name)
    except OSError as exc:
        from .io.atomic import io_error

        raise io_error(exc, out) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _signals_held():
    import signal
    import threading

    stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _prepare_dir(out_dir) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise CannotCreateOutput(f"cannot use {out} as the output folder: it is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CannotCreateOutput(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK):
        raise CannotCreateOutput(f"cannot write into output folder {out}: permission denied")
    return out


def _aic_sweep(data: np.ndarray, settings: DigitsSettings, progress) -> list[dict]:
    """The notebook's AIC curve over ``settings.sweep_ks``, run by ``selection.sweep`` in parallel."""
    from . import selection

    ks = [k for k in settings.sweep_ks if k <= len(data)]
    progress(f"AIC sweep: {len(ks)} fits, k = {ks[0]} .. {ks[-1]} ...")
    done = [0]

    def on_done(cell) -> None:
        done[0] += 1
        state = f"AIC {cell.aic:.0f}" if getattr(cell, "error", None) is None else f"failed: {cell.error}"
        progress(f"  [{done[0]}/{len(ks)}] k={cell.k}: {state}")

    cells = selection.sweep(
        data,
        ks,
        [settings.covariance_type],
        n_init=1,
        init="kmeans",
        seed=settings.seed,
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=settings.max_iter,
        jobs=settings.jobs,
        on_done=on_done,
    )
    rows = sorted(
        ({"k": int(c.k), "aic": None if c.error is not None else float(c.aic)} for c in cells),
        key=lambda row: row["k"],
    )
    fitted = [row for row in rows if row["aic"] is not None]
    if fitted:
        best = min(fitted, key=lambda row: row["aic"])
        progress(f"AIC sweep: lowest AIC at k={best['k']} (the fit below uses k={settings.n_components})")
    return rows


def _aic_figure(rows: list[dict]):
    """AIC against the number of components, as in the notebook."""
    from .plots import pyplot

    plt = pyplot()
    fitted = [row for row in rows if row["aic"] is not None]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot([row["k"] for row in fitted], [row["aic"] for row in fitted], marker="o", label="AIC")
    best = min(fitted, key=lambda row: row["aic"], default=None)
    if best is not None:
        ax.axvline(best["k"], color="grey", linestyle=":", label=f"lowest AIC: k={best['k']}")
    ax.set_xlabel("n_components")
    ax.set_ylabel("AIC")
    ax.set_title("Digits in PCA space: AIC by number of components")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def _write_json(summary: dict, path: Path) -> None:
    from .io.atomic import atomic_text

    with atomic_text(path) as fh:
        json.dump(summary, fh, indent=2)
        fh.write("\n")
