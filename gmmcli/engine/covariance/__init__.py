"""Covariance models chosen by name: ``get("VEV")``, ``get("full")`` (= VVV), case-insensitive.

``structures`` holds the four storage layouts (what the E-step, density and sampling need);
``models`` the fourteen mclust models (parameter counts, M-steps); ``constrained`` the
constrained estimators of the ten models scikit-learn lacks.
"""

from __future__ import annotations

from ...errors import SettingError
from .models import MODELS, CovarianceModel
from .structures import STRUCTURES, NotPositiveDefinite

SKLEARN_TYPES = ("full", "tied", "diag", "spherical")
MODEL_NAMES = tuple(m.mclust for m in MODELS)
_BY_NAME = (
    {m.mclust.lower(): m for m in MODELS}
    | {m.mclust: m for m in MODELS}
    | {m.sklearn: m for m in MODELS if m.sklearn}
)


def get(name) -> CovarianceModel:
    """The model called ``name`` (an mclust name or a scikit-learn type); ValueError if none is."""
    model = _BY_NAME.get(name) if isinstance(name, str) else None  # the engine's hot path
    if model is not None:
        return model
    if isinstance(name, CovarianceModel):
        return name
    model = _BY_NAME.get(str(name).strip().lower())
    if model is None:
        raise SettingError(
            "covariance_type",
            f"unknown covariance type {name!r} (choose from "
            f"{', '.join(SKLEARN_TYPES)} or an mclust model: {', '.join(MODEL_NAMES)})",
        )
    return model


def is_known(name) -> bool:
    return isinstance(name, str) and name.strip().lower() in _BY_NAME


__all__ = [
    "MODELS",
    "MODEL_NAMES",
    "SKLEARN_TYPES",
    "STRUCTURES",
    "CovarianceModel",
    "NotPositiveDefinite",
    "get",
    "is_known",
]
