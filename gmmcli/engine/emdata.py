"""The data as the EM loop holds it: X with its weights, its row blocks, the shift (weighted
mean) and radius about it that the E-step kernels need, and a cache of each block's features
phi(x)."""

from __future__ import annotations

import numpy as np

from .estep import data_block_rows
from .stats import block_bounds, n_estep_features
from .stats import features as phi_features


class EMData:
    """X with its weights, blocks, shift (weighted mean) and radius about the shift."""

    def __init__(
        self,
        X,
        sample_weight,
        covariance_type,
        n_components,
        block_rows=None,
        *,
        frame=None,
        bounds=None,
        order=None,
    ):
        """``order``: the rows taken in this order (``sorted_blocks``; X is not copied, a block
        gathers its rows), whose (shift, radius2) ``frame`` is known; ``bounds``: the blocks,
        when not every ``block_rows`` rows."""
        self.X = X
        self.order = order
        self.w = sample_weight
        self.covariance_type = covariance_type
        n, d = X.shape
        if block_rows is None:
            block_rows = data_block_rows(covariance_type, d, n_components, X.dtype)
        self.block_rows = int(block_rows)
        self.bounds = block_bounds(n, self.block_rows) if bounds is None else bounds
        self.dtype = X.dtype
        self.n_components = n_components
        w = sample_weight
        self.weight = float(n if w is None else w.sum())
        self.shift, self.radius2 = self._frame() if frame is None else frame
        # phi of each block, kept across iterations and restarts when small (the digits sweep:
        # 13 MB at 1797 x 41; 50,000 x 50 diag 40 MB, 15-20% of its iteration; 200,000 x 10
        # full would need 105 MB and recomputes instead)
        m = n_estep_features(covariance_type, d)
        self.features = {} if m * n * 8 <= FEATURE_CACHE_BYTES else None

    def _frame(self):
        """The weighted mean and the largest squared distance of a row from it."""
        X, w = self.X, self.w
        acc = np.zeros(X.shape[1])
        for a, b in self.bounds:
            xb = X[a:b]
            if w is None:
                acc += np.sum(xb, axis=0, dtype=np.float64)
            else:
                acc += w[a:b] @ xb.astype(np.float64, copy=False)
        shift = acc / self.weight
        r2 = 0.0
        for a, b in self.bounds:  # about the float64 shift; float32's rounded one is within eps
            xc = X[a:b] - shift
            r2 = max(r2, float(np.max(np.einsum("ij,ij->i", xc, xc))))
        return shift, r2

    def rows(self, a, b):
        """Rows a..b (in ``order`` where given: then a gathered copy of the block)."""
        return self.X[a:b] if self.order is None else self.X[self.order[a:b]]

    def block_weights(self, a, b):
        return None if self.w is None else self.w[a:b]

    def block_features(self, a, b, state):
        """The block's (phi, q) as ``state`` needs them (its origin and dtype), computed once;
        None when the cache is off (too large)."""
        if self.features is None:
            return None
        key = (a, b, state.dtype)
        if key not in self.features:
            quadratic = state.structure.expands
            self.features[key] = phi_features(
                self.rows(a, b), state.shift, state.structure, quadratic, state.dtype
            )
        return self.features[key]


#: Largest total size of the per-block feature vectors phi kept across EM iterations.
FEATURE_CACHE_BYTES = 64 << 20
