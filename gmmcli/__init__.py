"""gmmcli: Gaussian mixture models from the shell.

The Python API is small: ``load_model(path)`` returns a fitted model with ``predict``,
``predict_proba``, ``score_samples``, ``sample`` and ``to_sklearn``.
"""

__version__ = "0.1.0"


def load_model(path):
    """Load a gmmcli model file safely (plain data only; a model file cannot run code)."""
    from .model import load_model as _load

    return _load(path)


__all__ = ["__version__", "load_model"]
