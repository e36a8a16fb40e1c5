"""predict / proba / score over a table, block by block, with a loaded ``Model``.

Memory stays flat however long the input: one block of rows is read, scored and written before
the next is read, and nothing accumulates across blocks. The output does not depend on the block
size: the result columns are computed row by row, and the --keep columns are copied as the text
they were in the input (so an id column is never "7" in one block and "7.0" in the next).
"""

from __future__ import annotations

from .engine import density
from .errors import UsageError
from .io import tables
from .io.plain import PlainTable
from .model import Model

KINDS = ("predict", "proba", "score")


def score_block(
    model: Model, frame, kind: str, keep: list[str], dropna: bool, features: list[str] | None = None
):
    """The output rows for one input block: the --keep columns, then the result columns.

    ``frame`` is a pandas DataFrame, or a ``PlainTable`` (a small plain input, read without
    pandas): then the features are already numbers, and nothing is missing. ``features`` are
    the input columns that hold the model's features, in its order (default: its names).
    """
    features = list(features or model.feature_names)
    if isinstance(frame, PlainTable):
        X = frame.matrix(features)
        out = frame.select(keep)
    else:
        import pandas as pd

        numeric = tables.numeric_view(frame, [c for c in features if c in keep])
        X, kept = tables.feature_matrix(numeric, features, dropna)
        out = frame.loc[kept, keep].reset_index(drop=True) if keep else pd.DataFrame(index=range(len(X)))
    if kind == "predict":
        out["label"] = density.predict(X, model.params)
    elif kind == "proba":
        proba = density.predict_proba(X, model.params)
        for j in range(proba.shape[1]):
            out[f"p{j}"] = proba[:, j]
    else:
        out["log_density"] = density.score_samples(X, model.params)
    return out


def score_table(
    model: Model,
    source: str,
    kind: str,
    *,
    keep: list[str],
    dropna: bool,
    output: str | None,
    fmt: str,
    delimiter: str | None = None,
    block_rows: int = tables.BLOCK_ROWS,
    header: bool = True,
    plain: bool = True,
    columns: list[str] = (),
    exclude: list[str] = (),
    precision: int | None = None,
    output_header: bool = True,
) -> int:
    """Stream ``source`` through the model into ``output``; return the number of rows written.

    ``plain`` lets a small plain input skip pandas (the same output, sooner); tests turn it off
    to compare the two readers. ``columns`` names the input columns that hold the model's
    features, in the model's order (input whose names differ, a headerless one say);
    ``exclude`` names columns the model must not read. ``precision`` rounds the floats written
    to that many significant digits; ``output_header`` False writes no header line.

    With ``-o FILE`` the file appears only when every block has been written (atomic write);
    on stdout, rows already written stay written when a later block turns out to be bad.
    """
    tables.check_format(fmt)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    keep = list(dict.fromkeys(keep))
    clash = [c for c in keep if c in _result_columns(model, kind)]
    if clash:
        raise UsageError(
            f"--keep column {clash[0]!r} has the name of an output column; rename it in the input"
        )
    features = feature_columns(model, list(columns), list(exclude))
    rows, first = 0, True
    with tables.output_stream(output) as fh:
        blocks = tables.read_blocks(
            source,
            delimiter,
            block_rows,
            header=header,
            text_columns=keep,
            plain_features=features if plain else None,
        )
        for block in blocks:
            if first:
                unknown = [c for c in keep if c not in block.columns]
                if unknown:
                    raise UsageError(
                        f"--keep names unknown column {unknown[0]!r} "
                        f"(input has: {', '.join(map(str, block.columns))})"
                        + tables.separator_hint(block.columns)
                    )
            out = score_block(model, block, kind, keep, dropna, features)
            tables.write_block(out, fh, fmt, header=first and output_header, precision=precision)
            first = False
            rows += len(out)
    return rows


def feature_columns(model: Model, columns: list[str], exclude: list[str]) -> list[str]:
    """The input columns to read the model's features from: --columns, in the model's order, or
    the model's own names (none of them --exclude'd)."""
    if columns:
        if len(columns) != len(model.feature_names):
            raise UsageError(
                f"--columns names {len(columns)} columns, but the model has {len(model.feature_names)} "
                f"features ({', '.join(model.feature_names)}): name one input column for each, in that order"
            )
        features = columns
    else:
        features = list(model.feature_names)
    excluded = [c for c in features if c in exclude]
    if excluded:
        raise UsageError(f"--exclude {excluded[0]!r}: the model needs that column as a feature")
    return features


def _result_columns(model: Model, kind: str) -> list[str]:
    if kind == "predict":
        return ["label"]
    if kind == "proba":
        return [f"p{j}" for j in range(model.n_components)]
    return ["log_density"]
