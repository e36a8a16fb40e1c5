"""predict / proba / score over a table, block by block, with a loaded ``Model``."""

from __future__ import annotations

from . import gaussian, tables
from .errors import UsageError
from .model import Model

KINDS = ("predict", "proba", "score")


def score_block(model: Model, frame, kind: str, keep: list[str], dropna: bool):
    """The output rows for one input block: the --keep columns, then the result columns."""
    import pandas as pd

    X, kept = tables.feature_matrix(frame, model.feature_names, dropna)
    out = frame.loc[kept, keep].reset_index(drop=True) if keep else pd.DataFrame(index=range(len(X)))
    if kind == "predict":
        out["label"] = gaussian.predict(X, model.params)
    elif kind == "proba":
        proba = gaussian.predict_proba(X, model.params)
        for j in range(proba.shape[1]):
            out[f"p{j}"] = proba[:, j]
    else:
        out["log_density"] = gaussian.score_samples(X, model.params)
    return out


def score_table(model: Model, source: str, kind: str, *, keep: list[str], dropna: bool,
                output: str | None, fmt: str, delimiter: str | None = None,
                block_rows: int = tables.BLOCK_ROWS) -> int:
    """Stream ``source`` through the model into ``output``; return the number of rows written."""
    tables.check_format(fmt)
    rows = 0
    with tables.output_stream(output) as fh:
        for block in tables.read_blocks(source, delimiter, block_rows):
            if rows == 0:
                unknown = [c for c in keep if c not in block.columns]
                if unknown:
                    raise UsageError(f"--keep names unknown column {unknown[0]!r}")
            out = score_block(model, block, kind, keep, dropna)
            tables.write_block(out, fh, fmt, header=rows == 0)
            rows += len(out)
    return rows
