"""Has the data drifted from what a model was trained on? Two tests on the log-densities.

A model stores the quantiles of its training rows' log-densities (``quantiles.stored``). New
rows from the same distribution fall between them in the same proportions. ``check`` measures

* the **tail share**: the share of rows below the training 1% quantile (1% expected); drift
  when above ``max_tail_share``;
* a **chi-square test** of the whole distribution: the rows are counted in the bins the stored
  quantiles make (0.1%, 0.9%, 4%, 20%, 25%, 25%, 20%, 4%, 1% of the training rows) and compared
  with the training rows' counts by the chi-square test of homogeneity (a 2 x bins table, so the
  training sample's own size is accounted for); adjacent bins are merged, upwards (a small last
  one joins its neighbour), until each expects at least 5 rows. Drift when its p-value is below ``alpha``.

Counts are accumulated block by block (``add``), so the data is never held whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import quantiles

TAIL_LEVEL = 0.01
DEFAULT_MAX_TAIL_SHARE = 0.05
DEFAULT_ALPHA = 0.001
MIN_EXPECTED = 5.0


@dataclass
class DriftCheck:
    """Bin counts of new rows against a model's training quantiles; ``report`` gives the verdict."""

    levels: np.ndarray  # interior quantile levels, increasing
    edges: np.ndarray  # their log-densities
    tail_limit: float  # the training TAIL_LEVEL quantile
    n_train: int
    counts: np.ndarray = field(init=False)
    below_tail: int = 0

    def __post_init__(self):
        self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)

    @classmethod
    def for_model(cls, model) -> DriftCheck:
        levels, values = quantiles.stored(model)
        inner = (levels > 0) & (levels < 1)
        n_train = int(model.meta.get("n_train_rows", 0) or 0)
        return cls(levels[inner], values[inner], quantiles.threshold(model, TAIL_LEVEL), n_train)

    def add(self, log_density: np.ndarray) -> None:
        """Count a block of rows' log-densities."""
        self.counts += np.bincount(
            np.searchsorted(self.edges, log_density, side="right"), minlength=len(self.counts)
        )
        self.below_tail += int(np.count_nonzero(log_density < self.tail_limit))

    def report(self, max_tail_share: float = DEFAULT_MAX_TAIL_SHARE, alpha: float = DEFAULT_ALPHA):
        n = int(self.counts.sum())
        expected = np.diff(np.concatenate([[0.0], self.levels, [1.0]]))
        chi2, df = homogeneity_chi2(self.counts, expected, self.n_train)
        p_value = chi2_sf(chi2, df) if df > 0 else 1.0
        return DriftReport(
            n_rows=n,
            tail_share=self.below_tail / n if n else 0.0,
            max_tail_share=max_tail_share,
            chi2=chi2,
            df=df,
            p_value=p_value,
            alpha=alpha,
        )


def merged_bins(shares: np.ndarray, least: float) -> list[slice]:
    """Adjacent bins grouped from the lowest up, so that each group's share >= least."""
    groups, start, total = [], 0, 0.0
    for j, share in enumerate(shares):
        total += share
        if total >= least:
            groups.append([start, j + 1])
            start, total = j + 1, 0.0
    if start < len(shares):  # a remainder too small on its own: join the last group
        if groups:
            groups[-1][1] = len(shares)
        else:
            groups.append([start, len(shares)])
    return [slice(a, b) for a, b in groups]


def homogeneity_chi2(counts: np.ndarray, shares: np.ndarray, n_train: int) -> tuple[float, int]:
    """Chi-square statistic and degrees of freedom of the 2 x bins table (training, new).

    The training row has n_train * share per bin (the quantiles put them there); bins are
    merged until each cell of the smaller sample expects MIN_EXPECTED rows. Without a training
    size (an old hand-made file), the shares are taken as exact (a goodness-of-fit test).
    """
    n = int(counts.sum())
    if n == 0:
        return 0.0, 0
    smaller = min(n, n_train) if n_train > 0 else n
    bins = merged_bins(shares, MIN_EXPECTED / smaller)
    observed = np.array([counts[b].sum() for b in bins], dtype=np.float64)
    share = np.array([shares[b].sum() for b in bins])
    if len(bins) < 2:
        return 0.0, 0
    if n_train <= 0:
        expect = n * share
        return float(np.sum((observed - expect) ** 2 / expect)), len(bins) - 1
    table = np.vstack([n_train * share, observed])
    expect = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    return float(np.sum((table - expect) ** 2 / expect)), len(bins) - 1


def chi2_sf(statistic: float, df: int) -> float:
    """P(chi-square with df degrees of freedom >= statistic)."""
    from scipy.special import chdtrc

    return float(chdtrc(df, statistic))


@dataclass
class DriftReport:
    n_rows: int
    tail_share: float
    max_tail_share: float
    chi2: float
    df: int
    p_value: float
    alpha: float

    @property
    def tail_drifted(self) -> bool:
        return self.tail_share > self.max_tail_share

    @property
    def distribution_drifted(self) -> bool:
        return self.p_value < self.alpha

    @property
    def drifted(self) -> bool:
        return self.tail_drifted or self.distribution_drifted

    def verdict(self) -> str:
        """One line: what was measured, against which limits, and the answer."""
        test = (
            f"chi-square {self.chi2:.1f} on {self.df} df, p = {self.p_value:.3g} (drift below {self.alpha:g})"
            if self.df
            else "too few rows for the chi-square test"
        )
        what = "drifted from" if self.drifted else "consistent with"
        return (
            f"{what} the training data: {100 * self.tail_share:.1f}% of {self.n_rows} rows below the "
            f"training 1% log-density quantile (drift above {100 * self.max_tail_share:g}%); {test}"
        )

    def record(self) -> dict:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out.update(drifted=self.drifted, tail_drifted=self.tail_drifted)
        out["distribution_drifted"] = self.distribution_drifted
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}
