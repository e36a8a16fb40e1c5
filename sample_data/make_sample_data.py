"""Regenerate the bundled sample data exactly as the notebook makes it (fixed seeds).

Run: python sample_data/make_sample_data.py   (needs scikit-learn)
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs, make_moons

HERE = Path(__file__).parent


def main() -> None:
    X, y = make_blobs(n_samples=400, centers=4, cluster_std=0.60, random_state=0)
    blobs = pd.DataFrame({"id": np.arange(1, len(X) + 1), "x": X[:, 0], "y": X[:, 1]})
    blobs.to_csv(HERE / "blobs.csv", index=False, lineterminator="\n")

    rng = np.random.RandomState(2018)
    Xs = np.dot(X, rng.randn(2, 2))
    pd.DataFrame({"x": Xs[:, 0], "y": Xs[:, 1]}).to_csv(
        HERE / "stretched.csv", index=False, lineterminator="\n"
    )

    Xm, _ = make_moons(200, noise=0.05, random_state=0)
    pd.DataFrame({"x": Xm[:, 0], "y": Xm[:, 1]}).to_csv(HERE / "moons.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
