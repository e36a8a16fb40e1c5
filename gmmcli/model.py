"""The model file: mixture parameters plus metadata, saved as plain data, loaded safely.

A model file is a joblib file of one dict of builtins and numeric numpy arrays (see
``io.model_file``). ``Model`` is the in-memory form with scoring, sampling and ``to_sklearn``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import stat
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from .engine import covariance, criteria, density
from .engine.params import MixtureParams, with_noise
from .errors import DataError, InputMissing

FORMAT_NAME = "gmmcli-model"
#: Format 2 adds a noise component and component labels (``component_labels``); a file that
#: uses neither is written as format 1, so older gmmcli versions keep reading it. An older
#: gmmcli refuses format 2 ("upgrade gmmcli") rather than score without the noise or labels.
FORMAT_VERSION = 2
_NOISE_KEYS = ("noise_weight", "noise_box")
QUANTILES = (0.0, 0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
_PARAM_KEYS = ("weights", "means", "covariances", "precisions_cholesky")


@dataclass
class Model:
    """A fitted Gaussian mixture with the names of the features it was fitted on."""

    params: MixtureParams
    feature_names: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        return self.params.n_components

    @property
    def covariance_type(self) -> str:
        return self.params.covariance_type

    @property
    def labels(self) -> np.ndarray:
        """The label of each component: 0..k-1, unless alignment to an earlier model kept its
        labels (``component_labels``). The noise component's label is ``density.NOISE_LABEL``."""
        stored = self.meta.get("component_labels")
        return np.arange(self.n_components) if stored is None else np.asarray(stored, dtype=np.int64)

    def predict(self, X) -> np.ndarray:
        return self.label_rows(density.predict(self._check(X), self.params))

    def label_rows(self, components: np.ndarray) -> np.ndarray:
        """Component indices (``density.predict``) -> their labels; the noise label stays."""
        if "component_labels" not in self.meta:
            return components
        labels = np.append(self.labels, density.NOISE_LABEL)
        return labels[components]

    def predict_proba(self, X) -> np.ndarray:
        return density.predict_proba(self._check(X), self.params)

    def score_samples(self, X) -> np.ndarray:
        return density.score_samples(self._check(X), self.params)

    def sample(self, n_samples: int = 1, seed: int | None = None):
        """Draw ``n_samples`` points and their components, rows shuffled."""
        return density.sample(self.params, n_samples, np.random.default_rng(seed))

    def _check(self, X) -> np.ndarray:
        if hasattr(X, "columns"):  # a DataFrame: pick features by name
            X = X[self.feature_names].to_numpy()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.params.n_features:
            raise ValueError(f"expected an array with {self.params.n_features} columns, got shape {X.shape}")
        return X

    def to_sklearn(self):
        """A fitted ``sklearn.mixture.GaussianMixture`` with exactly these parameters.

        Its ``covariance_type`` is the model's structure (VEV becomes "full", EEI "diag", ...):
        the same covariances, so the same predictions and densities. A noise component has no
        scikit-learn counterpart: the result is the Gaussian part alone.
        """
        from sklearn.mixture import GaussianMixture

        p = self.params
        fit = self.meta.get("fit_settings", {})
        gm = GaussianMixture(
            p.n_components,
            covariance_type=p.structure.name,
            tol=fit.get("tol", 1e-3),
            reg_covar=fit.get("reg_covar", 1e-6),
            max_iter=fit.get("max_iter", 100),
            n_init=fit.get("n_init", 1),
            init_params=fit.get("init", "kmeans"),
            random_state=fit.get("seed"),
        )
        gm.weights_ = p.weights.copy()
        gm.means_ = p.means.copy()
        gm.covariances_ = p.covariances.copy()
        gm.precisions_cholesky_ = p.precisions_cholesky.copy()
        gm.precisions_ = p.structure.sklearn_precisions(p.precisions_cholesky)
        gm.converged_ = bool(self.meta.get("converged", True))
        gm.n_iter_ = int(self.meta.get("n_iter", 0))
        gm.lower_bound_ = float(self.meta.get("lower_bound", np.nan))
        gm.n_features_in_ = p.n_features
        return gm

    def to_dict(self) -> dict:
        """The plain-data form written to disk."""
        newer = self.params.has_noise or "component_labels" in self.meta
        d = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION if newer else 1}
        d["feature_names"] = list(self.feature_names)
        d["covariance_type"] = self.params.covariance_type
        d["model"] = self.params.model.mclust
        d["n_components"] = self.params.n_components
        for key in _PARAM_KEYS:
            d[key] = np.ascontiguousarray(getattr(self.params, key))
        if self.params.has_noise:
            d["noise_weight"] = float(self.params.noise_weight)
            d["noise_box"] = np.ascontiguousarray(self.params.noise_box, dtype=np.float64)
        d.update(self.meta)
        return d


def fingerprint(X: np.ndarray, feature_names, sample_weight=None) -> str:
    """sha256 of the training matrix, its column names and weights: detects a changed input."""
    h = hashlib.sha256()
    h.update("\x1f".join(feature_names).encode())
    h.update(str(X.shape).encode())
    h.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    if sample_weight is not None:
        h.update(np.ascontiguousarray(sample_weight, dtype=np.float64).tobytes())
    return "sha256:" + h.hexdigest()


def versions() -> dict:
    """Versions recorded in a model, for reproducing it later."""
    out = {"gmmcli": __version__, "numpy": np.__version__, "python": platform.python_version()}
    try:
        from importlib.metadata import version

        out["scikit-learn"] = version("scikit-learn")
    except Exception:  # metadata missing in odd installs: not worth failing a fit over
        out["scikit-learn"] = "unknown"
    return out


def training_metadata(
    X,
    params: MixtureParams,
    *,
    converged,
    n_iter,
    lower_bound,
    fit_settings,
    feature_names,
    sample_weight=None,
) -> dict:
    """Everything a model file records about its fit, computed from the training data."""
    log_dens = density.score_samples(X, params)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    return fit_metadata(
        params,
        log_likelihood=float(np.dot(w, log_dens)),
        n_eff=float(w.sum()),
        n_rows=len(X),
        log_densities=log_dens,
        data_fingerprint=fingerprint(X, feature_names, sample_weight),
        converged=converged,
        n_iter=n_iter,
        lower_bound=lower_bound,
        fit_settings=fit_settings,
    )


def fit_metadata(
    params: MixtureParams,
    *,
    log_likelihood,
    n_eff,
    n_rows,
    log_densities,
    data_fingerprint,
    converged,
    n_iter,
    lower_bound,
    fit_settings,
) -> dict:
    """The model-file record from summaries of the data (in memory or computed by partitions)."""
    p = params.n_parameters
    ll = float(log_likelihood)
    return {
        "fit_settings": dict(fit_settings),
        "converged": bool(converged),
        "n_iter": int(n_iter),
        "lower_bound": float(lower_bound),
        "log_likelihood": ll,
        "n_parameters": int(p),
        "aic": criteria.aic(ll, p),
        "bic": criteria.bic(ll, p, n_eff),
        "n_train_rows": int(n_rows),
        "train_log_density_quantiles": {
            str(q): float(v) for q, v in zip(QUANTILES, np.quantile(log_densities, QUANTILES))
        },
        "versions": versions(),
        "created": _created_at(),
        "data_fingerprint": data_fingerprint,
    }


def _created_at() -> str:
    """UTC time of the fit; SOURCE_DATE_EPOCH pins it, for byte-identical model files."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (
        _dt.datetime.fromtimestamp(int(epoch), _dt.UTC)
        if epoch and epoch.isdigit()
        else _dt.datetime.now(_dt.UTC)
    )
    return when.isoformat(timespec="seconds")


def save_model(model: Model, path) -> None:
    """Write the model atomically (temp file, fsync, rename), sealed with a sha256 trailer."""
    from .io.atomic import atomic_path
    from .io.model_file import dump_sealed

    with atomic_path(path) as tmp:
        dump_sealed(model.to_dict(), tmp)


def load_model(path) -> Model:
    """Read and validate a model file; raise InputMissing or DataError with a one-line reason."""
    from .io.model_file import UnsafeFile, load_plain

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputMissing(f"model file {path} does not exist")
    if os.path.isdir(path):
        raise InputMissing(f"model file {path} is a directory")
    if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block open(), a device never end
        raise InputMissing(f"model file {path} is not a regular file (a pipe or a device)")
    try:
        data = load_plain(path)
    except PermissionError:
        raise InputMissing(f"model file {path} is not readable") from None
    except EOFError:
        raise DataError(f"model file {path} is truncated") from None
    except UnsafeFile as exc:
        raise DataError(f"{path} is not a gmmcli model: {exc}") from None
    return model_from_dict(data, path)


def model_from_dict(data, path="model") -> Model:
    """Check the schema of a loaded dict and build the Model."""
    if not isinstance(data, dict) or not isinstance(data.get("format"), str) or data["format"] != FORMAT_NAME:
        raise DataError(f"{path} is not a gmmcli model")
    version = data.get("format_version")
    if not isinstance(version, int):
        raise DataError(f"{path} is not a gmmcli model: no format version")
    if version > FORMAT_VERSION:
        versions = data.get("versions")
        made_by = versions.get("gmmcli") if isinstance(versions, dict) else None
        made_by = made_by if isinstance(made_by, str) else "a newer gmmcli"
        raise DataError(
            f"{path} was made by gmmcli {made_by} (model format {version}); "
            f"this gmmcli {__version__} reads format {FORMAT_VERSION}: upgrade gmmcli"
        )
    try:
        params = _params_from(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path} is not a valid gmmcli model: {exc}") from None
    names = data.get("feature_names")
    if (
        not isinstance(names, list)
        or len(names) != params.n_features
        or not all(isinstance(n, str) for n in names)
    ):
        raise DataError(f"{path} is not a valid gmmcli model: bad feature names")
    meta = {
        k: v
        for k, v in data.items()
        if k not in _PARAM_KEYS
        and k not in _NOISE_KEYS
        and k not in ("format", "format_version", "feature_names", "covariance_type", "model", "n_components")
    }
    problem = _meta_problem(meta) or _labels_problem(meta.get("component_labels"), params.n_components)
    if problem:
        raise DataError(f"{path} is not a valid gmmcli model: {problem}")
    return Model(params, names, meta)


_NUMBER = (int, float)
_META_TYPES = {
    "fit_settings": dict,
    "converged": bool,
    "n_iter": int,
    "lower_bound": _NUMBER,
    "log_likelihood": _NUMBER,
    "n_parameters": int,
    "aic": _NUMBER,
    "bic": _NUMBER,
    "n_train_rows": int,
    "train_log_density_quantiles": dict,
    "versions": dict,
    "created": str,
    "data_fingerprint": str,
}


def _meta_problem(meta: dict) -> str | None:
    """Why the metadata cannot be what gmmcli wrote (a hand-edited file), or None.

    The known keys must have their types; no key may hold an array (arrays are parameters),
    so every reader (``info --json``, the fit summary) can rely on JSON-ready values.
    """
    for key, value in meta.items():
        expected = _META_TYPES.get(key)
        if expected is not None and not isinstance(value, expected):
            return f"{key} is a {type(value).__name__}"
        if _holds_array(value):
            return f"{key} holds an array"
    return None


def _labels_problem(labels, k: int) -> str | None:
    """Why ``component_labels`` cannot be k distinct non-negative labels, or None."""
    if labels is None:
        return None
    if (
        not isinstance(labels, list)
        or len(labels) != k
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in labels)
        or len(set(labels)) != k
    ):
        return "component_labels are not distinct labels, one per component"
    return None


def _holds_array(value) -> bool:
    if isinstance(value, np.ndarray):
        return True
    if isinstance(value, dict):
        return any(_holds_array(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_array(v) for v in value)
    return False


def _matches(stored: np.ndarray, expected: np.ndarray) -> bool:
    """Equal up to the rounding of two ways of inverting the same (possibly ill-conditioned)
    covariances; a sign flipped or a factor edited is far outside it."""
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.all(np.abs(stored - expected) <= 1e-5 * np.abs(expected) + 1e-9 * scale))


def _params_from(data: dict) -> MixtureParams:
    cov_type = data["covariance_type"]
    if not covariance.is_known(cov_type):
        raise ValueError(f"unknown covariance type {cov_type!r}")
    structure = covariance.get(cov_type).structure
    arrays = {key: data[key] for key in _PARAM_KEYS}
    for key, arr in arrays.items():
        if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
            raise ValueError(f"{key} is not a float array")
    means = arrays["means"]
    if means.ndim != 2:
        raise ValueError("means must be 2-D")
    k, d = means.shape
    expected = structure.cov_shape(k, d)
    if arrays["weights"].shape != (k,):
        raise ValueError("weights do not match the means")
    for key in ("covariances", "precisions_cholesky"):
        if arrays[key].shape != expected:
            raise ValueError(f"{key} has shape {arrays[key].shape}, expected {expected}")
    if not all(np.all(np.isfinite(a)) for a in arrays.values()):
        raise ValueError("parameters are not finite")
    if k < 1 or d < 1:
        raise ValueError("a model needs at least one component and one feature")
    weights = arrays["weights"]
    if np.any(weights < 0) or abs(float(weights.sum()) - 1.0) > 1e-6:
        raise ValueError("weights are not probabilities that sum to 1")
    try:  # covariances must be positive definite, or sampling and scoring fail later on
        expected = structure.precision_cholesky(arrays["covariances"])
    except covariance.NotPositiveDefinite:
        raise ValueError("covariances are not positive definite") from None
    if not _matches(arrays["precisions_cholesky"], expected):  # scoring uses them, sampling not
        raise ValueError("the precision factors do not match the covariances")
    params = MixtureParams(
        cov_type, arrays["weights"], means, arrays["covariances"], arrays["precisions_cholesky"]
    )
    return _noise_from(data, params) if any(key in data for key in _NOISE_KEYS) else params


def _noise_from(data: dict, params: MixtureParams) -> MixtureParams:
    """The noise component of a format-2 file: a weight in [0, 1) and a box of positive volume."""
    weight, box = data.get("noise_weight"), data.get("noise_box")
    if not isinstance(weight, _NUMBER) or isinstance(weight, bool) or not 0.0 <= weight < 1.0:
        raise ValueError("noise_weight is not a probability below 1")
    d = params.n_features
    if not isinstance(box, np.ndarray) or box.dtype.kind != "f" or box.shape != (2, d):
        raise ValueError(f"noise_box is not a (2, {d}) float array")
    if not np.all(np.isfinite(box)) or not np.all(box[1] > box[0]):
        raise ValueError("noise_box is not a box of positive volume")
    return with_noise(params, box, weight)
