"""From a feature matrix to a ``Model``: the memory and row checks, EM, and the metadata to save."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from . import memory
from .engine import em
from .engine.params import IllDefinedCovariance, MixtureParams, with_noise
from .errors import DataError, FitFailed, UsageError, first_line
from .model import Model, fit_metadata, training_metadata
from .settings import FitSettings

__all__ = [
    "FitSettings",
    "check_resources",
    "check_warm_start",
    "checked_box",
    "fit_model",
    "fit_model_dask",
    "memory_check",
    "model_of",
    "noise_box",
    "require_rows",
    "warm_params",
    "warm_start",
]


def require_rows(n_rows: int, n_components: int) -> None:
    """A mixture of k components needs at least k rows (DataError, exit 65)."""
    if n_rows < n_components:
        raise DataError(f"{n_rows} rows cannot fit {n_components} components: need at least as many rows")


def _run_engine(engine_fit, data, settings: FitSettings, **extra) -> em.FitResult:
    """Call an engine's fit with the settings, named as the engines name them."""
    try:
        return engine_fit(data, settings.n_components, **settings.engine_keywords(), **extra)
    except IllDefinedCovariance as exc:
        raise FitFailed(f"fit failed: {exc}") from None


def check_resources(
    X: np.ndarray, settings: FitSettings, jobs: int = 1, max_memory: str | None = None
) -> None:
    """Refuse up front a fit of X with fewer rows than components, or one that would need more
    memory than ``max_memory`` (default: what is available now)."""
    require_rows(len(X), settings.n_components)  # before the memory estimate: the clearer reason
    memory_check(settings, jobs, max_memory)(len(X), X.shape[1])


def memory_check(settings: FitSettings, jobs: int = 1, max_memory: str | None = None):
    """``check(n_rows, n_features)``: ResourceError if a fit of that shape cannot fit in memory.
    Called while the data is read too, so that a huge input is refused before it is all read."""
    k = settings.n_components

    def check(n_rows: int, n_features: int) -> None:
        need = memory.fit_bytes(
            n_rows, n_features, k, settings.covariance_type, parallel=min(jobs, settings.n_init)
        )
        memory.check_memory(
            need, max_memory, what=f"fitting {k} components to {n_rows} rows x {n_features} columns"
        )

    return check


def fit_model(
    X: np.ndarray,
    feature_names: list[str],
    settings: FitSettings,
    *,
    sample_weight: np.ndarray | None = None,
    jobs: int = 1,
    init_params: MixtureParams | None = None,
    noise: bool = False,
    **extra_meta,
) -> tuple[Model, em.FitResult]:
    """Fit EM to ``X`` (restarts over ``jobs`` processes) and wrap the result for the model file.

    ``init_params`` (``warm_start``) starts EM there instead of from ``settings.init``;
    ``noise`` adds the uniform noise component over X's bounding box (``noise_box``).
    """
    require_rows(len(X), settings.n_components)
    extra = {"init_params": init_params}
    if noise:
        extra["noise_box"] = noise_box(X)
    try:
        result = _run_engine(em.fit, X, settings, sample_weight=sample_weight, jobs=jobs, **extra)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        # the engine refuses data it cannot work with (values so large that squares overflow,
        # say): that is a property of the input, not a bug
        raise FitFailed(f"fit failed on this data: {first_line(exc)}") from exc
    model = model_of(X, feature_names, result, settings, sample_weight=sample_weight, **extra_meta)
    if noise:
        model.meta["fit_settings"]["noise"] = True
    return model, result


def noise_box(X: np.ndarray) -> np.ndarray:
    """The data's bounding box (2, d), where the noise component's density is 1/volume.

    DataError (exit 65) when a feature is constant: the box would have no volume.
    """
    return checked_box(np.stack([np.min(X, axis=0), np.max(X, axis=0)]))


def checked_box(box: np.ndarray) -> np.ndarray:
    """The box (2, d: lower, upper corners) as float64; DataError (exit 65) if it has no volume
    (the Dask engine's box comes from its summary pass, not from a matrix)."""
    box = np.asarray(box, dtype=np.float64)
    if not np.all(box[1] > box[0]):
        raise DataError("--noise needs every feature to vary: the data's bounding box has no volume")
    return box


def warm_start(previous: Model, X: np.ndarray, names: list[str], settings: FitSettings, noise: bool):
    """(X, names, initial parameters) to start EM from ``previous``'s parameters.

    The features are matched by name: X's columns are put in ``previous``'s order
    (``check_warm_start``). With ``noise``, a previous noise weight is kept (its box becomes X's).
    """
    check_warm_start(previous, names, settings, noise)
    X = X[:, [names.index(name) for name in previous.feature_names]]
    return X, list(previous.feature_names), warm_params(previous, noise_box(X) if noise else None)


def check_warm_start(previous: Model, names: list[str], settings: FitSettings, noise: bool) -> None:
    """The same features (any order), number of components and covariance model as
    ``previous`` are needed (UsageError, exit 2); so is ``noise`` if ``previous`` has a noise
    component."""
    if sorted(names) != sorted(previous.feature_names):
        raise UsageError(
            f"--init-model has the features {', '.join(previous.feature_names)}; "
            f"the data's are {', '.join(names)} (choose them with --columns/--exclude)"
        )
    k, model = previous.n_components, previous.covariance_type
    if (settings.n_components, settings.covariance_type) != (k, model):
        raise UsageError(
            f"--init-model has {k} components ({model}), not {settings.n_components} "
            f"({settings.covariance_type}): drop -k/-t, or fit without --init-model"
        )
    if previous.params.has_noise and not noise:
        raise UsageError("--init-model has a noise component: add --noise to keep it")


def warm_params(previous: Model, box: np.ndarray | None) -> MixtureParams:
    """``previous``'s parameters to start EM from; its noise weight over ``box`` (this data's)."""
    params = previous.params
    if box is not None and params.has_noise:
        params = with_noise(params, box, params.noise_weight)
    return params


def model_of(X, feature_names, result, settings: FitSettings, *, sample_weight=None, **extra_meta) -> Model:
    """The Model (parameters and metadata) of a fit of ``X``: an ``em.FitResult`` or a grid cell.

    ``settings`` are those that reproduce the fit under ``gmmcli fit``; ``extra_meta`` (the
    grid's ``selection`` record, say) is added to the metadata.
    """
    meta = training_metadata(
        X,
        result.params,
        converged=result.converged,
        n_iter=result.n_iter,
        lower_bound=result.lower_bound,
        fit_settings=asdict(settings),
        feature_names=feature_names,
        sample_weight=sample_weight,
    )
    meta.update(extra_meta)
    return Model(result.params, list(feature_names), meta)


def fit_model_dask(
    runner, settings: FitSettings, *, previous: Model | None = None, noise: bool = False
) -> tuple[Model, em.FitResult]:
    """Fit on a Dask cluster (``engine.dask_em.DaskRunner``) and record it like an in-memory fit.

    The log-likelihood, AIC and BIC are exact (a last pass over all partitions); the training
    log-density quantiles are estimated on the uniform sample of rows used for initialisation.
    ``noise``: the uniform noise component over the box of all partitions (``fit_model``'s);
    ``previous``: a warm start from that model (``check_warm_start`` passed, the runner's
    features in its order).
    """
    from .engine import dask_em, density

    require_rows(runner.n_rows, settings.n_components)
    box = checked_box(runner.box) if noise else None
    init_params = None if previous is None else warm_params(previous, box)
    result = _run_engine(dask_em.fit, runner, settings, init_params=init_params, noise_box=box)
    final = runner.stats(result.params, moments=False)
    sample = runner.last_sample
    if sample is None:
        sample = runner.sample(dask_em.INIT_SAMPLE_ROWS, settings.seed)[0]
    meta = fit_metadata(
        result.params,
        log_likelihood=final.loglik,
        n_eff=runner.weight,
        n_rows=runner.n_rows,
        log_densities=density.score_samples(sample, result.params),
        data_fingerprint=runner.fingerprint,
        converged=result.converged,
        n_iter=result.n_iter,
        lower_bound=result.lower_bound,
        fit_settings={**asdict(settings), "engine": "dask", **({"noise": True} if noise else {})},
    )
    return Model(result.params, list(runner.names), meta), result
