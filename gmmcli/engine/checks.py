"""The engine's checks of what it is given: the data, the weights, starting parameters, settings.

Every engine (in memory, Dask) and the grid call these; errors are ValueErrors worded in library
names (``SettingError`` names the setting), which the command line turns into option names.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SettingError
from . import covariance
from .params import MixtureParams
from .starts import INIT_METHODS


def check_X(X, n_components: int | None = None) -> np.ndarray:
    """2-D float32/float64 array of finite values (other dtypes become float64), like sklearn."""
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-dimensional, got shape {X.shape}")
    n, d = X.shape
    if d < 1:
        raise ValueError("X has no columns")
    if n < 2:
        raise ValueError(f"at least 2 rows are needed, got {n}")
    if n_components is not None and n < n_components:
        raise ValueError(
            f"Expected n_samples >= n_components but got n_components = {n_components}, n_samples = {n}"
        )
    if not all_finite(X):
        raise ValueError("X contains NaN or infinity")
    return X


def all_finite(X: np.ndarray) -> bool:
    # blockwise so that a large float32 X is never copied whole
    step = max(1, (1 << 22) // max(1, X.shape[1]))
    return all(np.isfinite(X[a : a + step]).all() for a in range(0, X.shape[0], step))


def check_weights(sample_weight, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if not w.sum() > 0:
        raise ValueError("sample_weight must have a positive sum")
    return np.ascontiguousarray(w)


def check_params_for(params: MixtureParams, d: int) -> None:
    if params.n_features != d:
        raise ValueError(f"parameters have {params.n_features} features, X has {d}")


def check_settings(**settings) -> None:
    """Validate EM settings by their library names (``SettingError``, a ValueError).

    The one check of the values every engine and the grid use; the command line calls it once,
    through ``settings.FitSettings``, and names the options instead.
    """
    for name in ("n_components", "n_init", "max_iter"):
        if name in settings:
            value, least = settings[name], 0 if name == "max_iter" else 1
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SettingError(name, f"{{}} must be an integer, got {value!r}")
            if value < least:
                raise SettingError(name, f"{{}} must be at least {least}, got {value}")
    for name in ("tol", "reg_covar"):
        if name in settings:
            value = settings[name]
            if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value)):
                raise SettingError(name, f"{{}} must be finite, got {value!r}")
            if value < 0:
                raise SettingError(name, f"{{}} must not be negative, got {value!r}")
    if "covariance_type" in settings:
        covariance.get(settings["covariance_type"])
    if "init" in settings and settings["init"] not in INIT_METHODS:
        raise SettingError(
            "init", f"unknown {{}} {settings['init']!r} (choose from {', '.join(INIT_METHODS)})"
        )
