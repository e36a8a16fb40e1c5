"""Which separator a table uses (-d, the file's name, or sniffed from its first lines), and the
header checks every reader shares (a header of numbers is data; a wrong separator's hint)."""

from __future__ import annotations

import re

from ..errors import DataError, UsageError

#: What -d may spell out; and the separators sniffed when -d is not given and the name says nothing.
_NAMED_SEPARATORS = {"tab": "\t", "\\t": "\t", "\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
SNIFFED = (",", "\t", ";", "|")
_SNIFF_LINES = 20
SNIFF_BYTES = 1 << 16  # the head that sniffing (and the line guard) reads first


def delimiter_for(source: str, delimiter: str | None) -> str | None:
    """The separator -d or the file's name gives; None when it must be sniffed from the text
    (stdin, or a name without .csv/.tsv/.tab before any compression suffix)."""
    if delimiter:
        if delimiter in _NAMED_SEPARATORS:
            return _NAMED_SEPARATORS[delimiter]
        if len(delimiter) != 1 or delimiter in '"\r\n' or delimiter.isalnum() or delimiter in ".-+":
            raise UsageError(f"--delimiter must be one character like , ; | or tab, got {delimiter!r}")
        return delimiter
    name = source.removesuffix(".gz").removesuffix(".bz2").removesuffix(".xz")
    if name.endswith((".tsv", ".tab")):
        return "\t"
    return "," if name.endswith(".csv") else None


def sniff_separator(head: bytes) -> str:
    """Comma, tab, semicolon or pipe: the one that splits the first lines into the same number
    (more than one) of fields, the most fields winning, comma first among equals; comma when
    none does. Only complete lines count (the last one too if the text ends there)."""
    text = head.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if len(lines) > 1:
        lines.pop()  # cut off where the peek ended (or the empty string after the last newline)
    lines = [line for line in lines[:_SNIFF_LINES] if line.strip()]
    best, best_fields = ",", 1
    for sep in SNIFFED:
        counts = {line.count(sep) for line in lines}
        if len(counts) == 1 and (fields := counts.pop() + 1) > best_fields:
            best, best_fields = sep, fields
    return best


def separator_hint(columns) -> str:
    """For an error naming a missing column: ' (the input has one column, 'id\\tx\\ty': is the
    separator right? try -d tab)' when the header looks split on the wrong character, else ''."""
    names = [str(c) for c in columns]
    if len(names) != 1:
        return ""
    for sep, spelled in (("\t", "tab"), (";", ";"), ("|", "|"), (",", ",")):
        if sep in names[0]:
            return f" (the input has one column, {names[0]!r}: is the separator right? try -d '{spelled}')"
    return ""


def _looks_like_number(text: str) -> bool:
    return bool(_NUMBER.fullmatch(text.strip()))


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


NO_HEADER_ADVICE = "if the input has no header line, use --no-header"


def check_header(columns, source: str, advice: str = NO_HEADER_ADVICE) -> None:
    """A header line whose every field is a number is data: refuse it (exit 65), pointing at
    --no-header (or ``advice``), rather than name the features '1', '0.25', '6.48' and lose the
    first row."""
    names = [str(c) for c in columns]
    if names and all(_looks_like_number(n) for n in names):
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise DataError(
            f"the first line of {source_name(source)} is all numbers ({shown}), not column names: {advice}"
        )


def source_name(source: str) -> str:
    """How messages name an input: its path, or stdin for -."""
    return "stdin" if source == "-" else source
