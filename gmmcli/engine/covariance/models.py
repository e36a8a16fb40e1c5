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

import warnings
from dataclasses import dataclass

import numpy as np

from . import constrained
from .structures import STRUCTURES

#: Inner iterations of the iterative M-steps (VEI, VEV, VEE, EVE, VVE): relative change of the
#: iterate at most INNER_TOL. 1e-10 keeps them within 1e-9 of the fixed point (mclust stops on
#: the objective's change at sqrt(eps), further off) at a fraction of the steps 1e-12 takes.
#: Warm-started from the last EM iteration, at most WARM_MAX_ITER steps: a bound for the worst
#: case only, since the warm EVE/VVE orientation takes Newton steps (a few per M-step once EM has
#: settled, bench --fourteen, bench/RESULTS.md); where it is cut, EM goes on from there, as a
#: generalised EM.
INNER_TOL = 1e-10
INNER_MAX_ITER = 1000
WARM_MAX_ITER = 100


@dataclass(frozen=True)
class CovarianceModel:
    """One covariance model: its names, letters, storage, parameter count and M-step."""

    mclust: str  # "VEV": volume, shape, orientation
    sklearn: str | None  # scikit-learn's name, for the four it has

    @property
    def name(self) -> str:
        """The name recorded in model files: scikit-learn's where it has one (older files)."""
        return self.sklearn or self.mclust

    @property
    def structure(self):
        return STRUCTURES[constrained.structure(self.mclust)]

    def n_covariance_parameters(self, k: int, d: int) -> int:
        """mclust's ``nVarParams``: volume + shape + orientation parameters."""
        return constrained.n_covariance_parameters(self.mclust, k, d)

    def n_parameters(self, k: int, d: int) -> int:
        """Free parameters of the mixture (mclust's ``nMclustParams``; scikit-learn's for the four)."""
        return constrained.n_parameters(self.mclust, k, d)

    def covariances(self, scatter_cov: np.ndarray, nk: np.ndarray, reg_covar: float, d: int, previous=None):
        """The M-step's covariances from each component's scatter / N_k (in place where it can);
        ``previous``: the last estimate, to warm-start the iterative estimators."""
        structure = self.structure
        regularised = structure.add_to_diagonal(scatter_cov, reg_covar)
        if self.sklearn is not None:
            return regularised
        sums = structure.scatter_sums(regularised, nk, d)
        warm = previous if structure.matrix else None
        with warnings.catch_warnings():  # an inner loop cut at INNER_MAX_ITER: the next EM step goes on
            warnings.simplefilter("ignore", RuntimeWarning)
            return constrained.estimate(
                self.mclust,
                sums,
                nk,
                d=d,
                previous=warm,
                tol=INNER_TOL,
                max_iter=INNER_MAX_ITER if warm is None else WARM_MAX_ITER,
            )


#: mclust's order (``mclust.options("emModelNames")``), with scikit-learn's four names.
_SKLEARN = {"VII": "spherical", "VVI": "diag", "EEE": "tied", "VVV": "full"}
MODELS = tuple(CovarianceModel(name, _SKLEARN.get(name)) for name in constrained.MODEL_NAMES)
