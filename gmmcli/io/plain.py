"""Small, plain tables without pandas: the start-up path of predict / proba / score.

Importing pandas costs a pipeline several hundred milliseconds per call, more than scoring a
thousand rows. Most inputs a shell pipeline sends are plain: one header, the same number of
fields on every line, no quotes, numbers in the feature columns. ``parse`` reads exactly those,
and returns None for anything else, so that the caller falls back to pandas (tables.py), which
then reads, or rejects with its one-line error, what is not plain. Nothing is ever parsed
differently here: every value accepted is one that pandas' reader turns into the same float or
the same text (tests compare the two paths byte for byte).
"""

from __future__ import annotations

import csv
import re

import numpy as np

from .limits import HUGE

#: Inputs up to this size (after decompression) may take the plain path.
PLAIN_BYTES = 4 << 20

#: The characters of plain numbers; float() then checks their order. Among strings of these,
#: float() accepts exactly what pandas' C parser reads as a float ("1.", ".5", "+3", "1E5").
_NUMBER_CHARS = re.compile(r"[0-9eE.+\-\n]*")
#: An integer too long for int64: pandas reads such a column as uint64 or text.
_LONG_INTEGER = re.compile(r"(?:^|\n)[+-]?\d{19,}(?:\n|$)")

#: The texts pandas reads as missing (pandas._libs.parsers.STR_NA_VALUES; a test checks).
NA_TEXTS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)

#: Magnitudes above this are refused by tables.feature_matrix: such input goes to pandas.


class PlainTable:
    """Named columns (lists of str, or numpy arrays) of one length, and the parsed features.

    It has the few DataFrame manners that scoring uses (``columns``, ``len``, item assignment),
    so that scoring treats a plain block and a pandas block alike.
    """

    def __init__(self, columns: dict, n_rows: int, features: dict | None = None):
        self.data = dict(columns)
        self.n_rows = n_rows
        self.features = features or {}  # name -> float64 array: the numeric columns asked for
        self.spaced: set[str] = set()  # columns whose leading spaces split() removed

    @property
    def columns(self) -> list[str]:
        return list(self.data)

    def __len__(self) -> int:
        return self.n_rows

    def __setitem__(self, name: str, values) -> None:
        self.data[name] = values

    def matrix(self, names: list[str]) -> np.ndarray:
        """The named features as an (n_rows, len(names)) float64 matrix."""
        X = np.empty((self.n_rows, len(names)))
        for j, name in enumerate(names):
            X[:, j] = self.features[name]
        return X

    def select(self, names: list[str]) -> PlainTable:
        """The named text columns, as a new output table."""
        return PlainTable({name: self.data[name] for name in names}, self.n_rows)

    def rows(self):
        """Rows as tuples of str, int and float (numpy values become Python ones)."""
        values = [v.tolist() if isinstance(v, np.ndarray) else v for v in self.data.values()]
        return zip(*values)


def split(text: str, sep: str, header: bool) -> PlainTable | None:
    """All columns of ``text`` as text, or None when the input is not plain.

    Not plain: quotes, ragged or blank lines, lone carriage returns, duplicate or blank header
    names, no data rows: whatever pandas might read otherwise than a plain split would.
    """
    if '"' in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) < (2 if header else 1) or not all(line.strip(" ") for line in lines):
        return None  # no data rows, or a blank line (pandas skips those)
    rows = [line.split(sep) for line in lines]
    spaced = set()  # positions of data fields that lost leading spaces: not verbatim for --keep
    if " " in text:  # pandas' skipinitialspace
        spaced = {j for row in rows[1 if header else 0 :] for j, field in enumerate(row) if field[:1] == " "}
        rows = [[field.lstrip(" ") for field in row] for row in rows]
    width = len(rows[0])
    if any(len(row) != width for row in rows):
        return None
    if header:
        names, rows = rows[0], rows[1:]
        if len(set(names)) != width or any(not n or n != n.strip() for n in names):
            return None
    else:
        names = [f"x{i}" for i in range(width)]
    table = PlainTable(dict(zip(names, zip(*rows))), len(rows))
    table.spaced = {names[j] for j in spaced}
    return table


def parse(
    text: str, sep: str, header: bool, numeric: list[str], text_columns: list[str]
) -> PlainTable | None:
    """The table in ``text`` with ``numeric`` parsed (``features``) and ``text_columns`` verbatim.

    None when the input is not plain (``split``) or the result could differ from pandas' in
    any way: a missing column, a text value pandas reads as missing, a feature that is not a
    finite number below 1e100.
    """
    table = split(text, sep, header)
    if table is None or any(name not in table.data for name in numeric + text_columns):
        return None
    if any(name in table.spaced or "" in table.data[name] for name in text_columns):
        return None  # pandas copies those spaces; a blank is missing (null in JSON)
    for name in numeric:
        table.features[name] = numbers(table.data[name])
        if table.features[name] is None:
            return None
    return table


def numbers(column) -> np.ndarray | None:
    """A column of number texts as float64, exactly as pandas parses them; None if any is not
    a plain finite number below 1e100 (no inf, nan, blanks, hex, underscores, 20-digit ints)."""
    joined = "\n".join(column)
    if not _NUMBER_CHARS.fullmatch(joined) or _LONG_INTEGER.search(joined):
        return None
    try:
        values = np.array([float(v) for v in column])  # correctly rounded, as pandas' parser
    except ValueError:  # "1e", "1.2.3", "+-1", "" ...
        return None
    with np.errstate(invalid="ignore"):
        if not (np.abs(values) <= HUGE).all():
            return None
    if not any(c in joined for c in ".eE"):
        values += 0.0  # pandas reads an all-integer column as int64, where "-0" is 0, not -0.0
    return values


def write(table: PlainTable, fh, fmt: str, header: bool, precision: int | None = None) -> None:
    """CSV or TSV exactly as pandas' ``to_csv`` writes the same values (JSON is tables.py's),
    floats as ``%.{precision}g`` when given (pandas' ``float_format``)."""
    writer = csv.writer(
        fh, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n", quoting=csv.QUOTE_MINIMAL
    )
    if header:
        writer.writerow(table.columns)
    writer.writerows(_nan_as_blank(row, precision) for row in table.rows())


def _nan_as_blank(row, precision: int | None = None):
    if precision is None:
        return ["" if isinstance(v, float) and v != v else v for v in row]
    return [("" if v != v else f"%.{precision}g" % v) if isinstance(v, float) else v for v in row]
