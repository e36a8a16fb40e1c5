"""The fourteen covariance models of mclust, Sigma_k = lambda_k D_k A_k D_k^T, one unit each.

Volume lambda, shape A (diagonal, det 1) and orientation D (orthogonal) are each Equal across
components, Variable, or the Identity (I, for shape and orientation only). A unit knows its
storage (one of the four ``structures``), its parameter count (mclust's ``nMclustParams``), and
its M-step: the constrained maximum-likelihood covariances from the components' scatter.

scikit-learn's four types are four of the models (full = VVV, tied = EEE, diag = VVI,
spherical = VII). They keep scikit-learn's names in files and records, and their M-step is
scikit-learn's: the scatter over N_k, plus ``reg_covar`` on the diagonal. The other ten add
``reg_covar`` to each component's scatter covariance first (N_k reg_covar I to the scatter sum W_k)
and then impose the constraint, so the constraint holds exactly in the fitted parameters; for
the four the two orders give the same covariances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .structures import STRUCTURES


@dataclass(frozen=True)
class CovarianceModel:
    """One covariance model: its names, letters, storage, parameter count and M-step."""

    mclust: str  # "VEV": volume, shape, orientation
    sklearn: str | None  # scikit-learn's name, for the four it has
    structure_name: str

    @property
    def name(self) -> str:
        """The name recorded in model files: scikit-learn's where it has one (older files)."""
        return self.sklearn or self.mclust

    @property
    def structure(self):
        return STRUCTURES[self.structure_name]

    def n_covariance_parameters(self, k: int, d: int) -> int:
        """mclust's ``nVarParams``: volume + shape + orientation parameters."""
        count = {"E": 1, "V": k, "I": 0}
        volume, shape, orientation = self.mclust
        n = count[volume] + count[shape] * (d - 1) + count[orientation] * (d * (d - 1) // 2)
        return int(n)

    def n_parameters(self, k: int, d: int) -> int:
        """Free parameters of the mixture (mclust's ``nMclustParams``; scikit-learn's for the four)."""
        return self.n_covariance_parameters(k, d) + k * d + (k - 1)

    def covariances(self, scatter_cov: np.ndarray, nk: np.ndarray, reg_covar: float) -> np.ndarray:
        """The M-step's covariances from each component's scatter / N_k (in place where it can)."""
        structure = self.structure
        regularised = structure.add_to_diagonal(scatter_cov, reg_covar)
        if self.sklearn is not None:
            return regularised
        from . import constrained

        return constrained.estimate(self.mclust, structure.scatter_sums(regularised, nk), nk)


#: mclust's order (``mclust.options("emModelNames")``).
MODELS = tuple(
    CovarianceModel(name, sklearn, structure)
    for name, sklearn, structure in (
        ("EII", None, "spherical"),
        ("VII", "spherical", "spherical"),
        ("EEI", None, "diag"),
        ("VEI", None, "diag"),
        ("EVI", None, "diag"),
        ("VVI", "diag", "diag"),
        ("EEE", "tied", "tied"),
        ("VEE", None, "full"),
        ("EVE", None, "full"),
        ("VVE", None, "full"),
        ("EEV", None, "full"),
        ("VEV", None, "full"),
        ("EVV", None, "full"),
        ("VVV", "full", "full"),
    )
)
