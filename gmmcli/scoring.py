"""predict / proba / score over a table, block by block, with a loaded ``Model``.

Memory stays flat however long the input: one block of rows is read, scored and written before
the next is read, and nothing accumulates across blocks. The output does not depend on the block
size: the result columns are computed row by row, and the --keep columns are copied as the text
they were in the input (so an id column is never "7" in one block and "7.0" in the next).
"""

from __future__ import annotations

import numpy as np

from . import quantiles
from .engine import density
from .errors import UsageError
from .io import tables
from .io.output import check_format, output_stream, write_block
from .io.plain import PlainTable
from .io.separators import separator_hint
from .model import Model

KINDS = ("predict", "proba", "score")


NOISE_COLUMN = "p_noise"
UNCERTAINTY_COLUMN = "uncertainty"


def score_block(
    model: Model,
    frame,
    kind: str,
    keep: list[str],
    dropna: bool,
    features: list[str] | None = None,
    outlier_below: float | None = None,
    uncertainty: bool = False,
):
    """The output rows for one input block: the --keep columns, then the result columns.

    ``frame`` is a pandas DataFrame, or a ``PlainTable`` (a small plain input, read without
    pandas): then the features are already numbers, and nothing is missing. ``features`` are
    the input columns that hold the model's features, in its order (default: its names).
    ``outlier_below`` (a log-density, ``quantiles.threshold``) adds the column ``outlier``: 1
    below it, else 0.
    ``uncertainty`` (predict) adds mclust's ``uncertainty``: 1 - the largest membership
    probability of the row (the noise component's included).
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
    wlp = density.weighted_log_prob(X, model.params)
    if kind == "predict":
        out["label"] = model.label_rows(density.labels_of(wlp, model.params))
        if uncertainty:
            out[UNCERTAINTY_COLUMN] = -np.expm1(np.max(wlp, axis=1) - density.logsumexp_rows(wlp))
    elif kind == "proba":
        lse = density.logsumexp_rows(wlp)
        for j, name in enumerate(_result_columns(model, kind)):
            out[name] = np.exp(wlp[:, j] - lse)
    else:
        out["log_density"] = density.logsumexp_rows(wlp)
    if outlier_below is not None:
        out["outlier"] = quantiles.below(density.logsumexp_rows(wlp), outlier_below)
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
    outlier_below: float | None = None,
    columns: list[str] = (),
    exclude: list[str] = (),
    precision: int | None = None,
    output_header: bool = True,
    uncertainty: bool = False,
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
    check_format(fmt)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    keep = list(dict.fromkeys(keep))
    if uncertainty and kind != "predict":
        raise ValueError("uncertainty is a column of predict")
    clash = [c for c in keep if c in _result_columns(model, kind, outlier_below is not None, uncertainty)]
    if clash:
        raise UsageError(
            f"--keep column {clash[0]!r} has the name of an output column; rename it in the input"
        )
    features = feature_columns(model, list(columns), list(exclude))
    rows, first = 0, True
    with output_stream(output) as fh:
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
                        f"(input has: {', '.join(map(str, block.columns))})" + separator_hint(block.columns)
                    )
            out = score_block(model, block, kind, keep, dropna, features, outlier_below, uncertainty)
            write_block(out, fh, fmt, header=first and output_header, precision=precision)
            first = False
            rows += len(out)
    return rows


def feature_blocks(
    source: str,
    names: list[str],
    *,
    dropna: bool = False,
    delimiter: str | None = None,
    header: bool = True,
    block_rows: int = tables.BLOCK_ROWS,
):
    """The named feature columns of ``source``, one float matrix per block of rows (for
    statistics over a table, in flat memory: ``gmmcli check`` and ``compare``)."""
    for block in tables.read_blocks(source, delimiter, block_rows, header=header, plain_features=names):
        if isinstance(block, PlainTable):
            yield block.matrix(names)
        else:
            yield tables.feature_matrix(block, names, dropna)[0]


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


def _result_columns(model: Model, kind: str, outliers: bool = False, uncertainty: bool = False) -> list[str]:
    if kind == "predict":
        names = ["label"] + ([UNCERTAINTY_COLUMN] if uncertainty else [])
    elif kind == "proba":
        names = [f"p{j}" for j in model.labels] + ([NOISE_COLUMN] if model.params.has_noise else [])
    else:
        names = ["log_density"]
    return names + (["outlier"] if outliers else [])
