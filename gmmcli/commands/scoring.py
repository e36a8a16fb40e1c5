"""gmmcli predict / proba / score: use a saved model on new rows, streaming."""

from __future__ import annotations

from .options import DataArg, DelimiterOpt, DropnaOpt, FormatOpt, KeepOpt, ModelArg, NoHeaderOpt, OutputOpt

EPILOGS = {
    "predict": "Example:\n\n  cat data.csv | gmmcli predict model.joblib - --keep id | head",
    "proba": "Example:\n\n  gmmcli proba model.joblib data.csv -o proba.csv",
    "score": "Example (flag the least likely rows):\n\n  gmmcli score model.joblib data.csv --keep id | sort -t, -k2 -g | head",
}


def _run(kind, model_path, data, output, fmt, keep, dropna, delimiter, no_header):
    from .. import tables
    from ..model import load_model
    from ..scoring import score_table

    tables.check_format(fmt)
    model = load_model(model_path)
    score_table(model, data, kind, keep=tables.parse_names(keep), dropna=dropna, output=output, fmt=fmt,
                delimiter=delimiter, header=not no_header)


def predict(model: ModelArg, data: DataArg, output: OutputOpt = None, fmt: FormatOpt = "csv",
            keep: KeepOpt = None, dropna: DropnaOpt = False, delimiter: DelimiterOpt = None,
            no_header: NoHeaderOpt = False) -> None:
    """Label each row of DATA with its most probable component (column 'label')."""
    _run("predict", model, data, output, fmt, keep, dropna, delimiter, no_header)


def proba(model: ModelArg, data: DataArg, output: OutputOpt = None, fmt: FormatOpt = "csv",
          keep: KeepOpt = None, dropna: DropnaOpt = False, delimiter: DelimiterOpt = None,
          no_header: NoHeaderOpt = False) -> None:
    """Membership probability of each row in each component (columns p0, p1, ...)."""
    _run("proba", model, data, output, fmt, keep, dropna, delimiter, no_header)


def score(model: ModelArg, data: DataArg, output: OutputOpt = None, fmt: FormatOpt = "csv",
          keep: KeepOpt = None, dropna: DropnaOpt = False, delimiter: DelimiterOpt = None,
          no_header: NoHeaderOpt = False) -> None:
    """Log-density of each row under the model (column 'log_density')."""
    _run("score", model, data, output, fmt, keep, dropna, delimiter, no_header)
