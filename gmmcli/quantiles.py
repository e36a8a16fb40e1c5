"""The training log-density quantiles a model file stores, and thresholds read from them.

Every model records ``train_log_density_quantiles``: the quantiles ``model.QUANTILES`` of the
log-density of its own training rows. ``outliers`` and ``drift`` compare new rows with them.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import DataError, UsageError


def stored(model) -> tuple[np.ndarray, np.ndarray]:
    """(levels, log-densities) of the model's training quantiles, by increasing level.

    DataError (exit 65) for a file without them (they are in every file gmmcli writes).
    """
    table = model.meta.get("train_log_density_quantiles")
    try:
        pairs = sorted((float(q), float(v)) for q, v in table.items())
    except (AttributeError, TypeError, ValueError):
        pairs = []
    if len(pairs) < 2 or not all(math.isfinite(q) and math.isfinite(v) for q, v in pairs):
        raise DataError("the model file has no training log-density quantiles (refit it with this gmmcli)")
    levels, values = (np.array(column) for column in zip(*pairs))
    return levels, np.maximum.accumulate(values)


def check_level(q: float, option: str = "--outliers") -> float:
    """A quantile level strictly between 0 and 1 (UsageError, exit 2, otherwise)."""
    if not (isinstance(q, (int, float)) and 0.0 < q < 1.0):
        raise UsageError(f"{option} takes a quantile level between 0 and 1 (e.g. 0.01), got {q!r}")
    return float(q)


def threshold(model, q: float) -> float:
    """The training log-density below which a share ``q`` of the training rows fell.

    A level the model stores (0.001, 0.01, 0.05, 0.25, ...) is read as stored; any other is
    interpolated linearly between the two stored levels around it.
    """
    levels, values = stored(model)
    return float(np.interp(check_level(q), levels, values))


def below(log_density: np.ndarray, limit: float) -> np.ndarray:
    """1 where a row's log-density is below ``limit``, else 0 (the ``outlier`` column)."""
    return (np.asarray(log_density) < limit).astype(np.int64)
