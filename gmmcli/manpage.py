"""The man page, gmmcli(1), from the same help the commands print.

``python -m gmmcli.manpage > docs/gmmcli.1`` writes it; tests/test_shell_manners.py checks that
docs/gmmcli.1 is what this writes now, so the page cannot fall behind the options.
"""

from __future__ import annotations

from . import __version__, help

DATE = "2026"  # fixed, so that the page is the same file on every run and machine


def _roff(text: str) -> str:
    """Escape a line for roff: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text[:1] in ".'" else text


def _section(lines: list[str], doc: help.CommandHelp, heading: str | None) -> None:
    if heading:
        lines.append(f".SS {_roff(heading)}")
    lines += [".nf", _roff(doc.usage), ".fi", _roff(doc.summary)]
    for block in doc.paragraphs:
        lines += [".PP", *_block(block)]
    for title, rows in (("Commands", doc.commands), ("Arguments", doc.arguments), ("Options", doc.options)):
        if rows and title != "Commands":
            lines += [".PP", f"\\fB{title}:\\fR"]
        for name, text in rows:
            lines += [".TP", f"\\fB{_roff(name)}\\fR", _roff(text)]
    for title, blocks in doc.sections:
        if title == "Exit codes":
            continue
        lines += [".PP", f"\\fB{_roff(title)}:\\fR"]
        for block in blocks:
            lines += _block(block)


def _block(block: str) -> list[str]:
    if "\n" in block or block.startswith("  "):
        return [".PP", ".nf", ".RS 4", *(_roff(line.strip()) for line in block.split("\n")), ".RE", ".fi"]
    return [".PP", _roff(block)]


def render() -> str:
    """gmmcli(1) as roff text."""
    import typer

    from .cli import app

    group = typer.main.get_command(app)
    ctx = typer.Context(group, info_name="gmmcli", **group.context_settings)
    top = help.group_help(group, ctx)
    lines = [
        f'.TH GMMCLI 1 "{DATE}" "gmmcli {__version__}" "User Commands"',
        ".SH NAME",
        "gmmcli \\- " + _roff(top.summary.rstrip(".")),
        ".SH SYNOPSIS",
        ".nf",
    ]
    names = [name for name, _ in top.commands]
    for name in names:
        sub = group.get_command(ctx, name)
        lines.append(_roff(help.command_help(sub, typer.Context(sub, info_name=name, parent=ctx)).usage))
    lines += [".fi", ".SH DESCRIPTION"]
    for block in top.paragraphs:
        lines += _block(block)
    lines += [".SH GLOBAL OPTIONS"]
    for name, text in top.options:
        lines += [".TP", f"\\fB{_roff(name)}\\fR", _roff(text)]
    lines += [".SH COMMANDS"]
    for name in names:
        sub = group.get_command(ctx, name)
        _section(lines, help.command_help(sub, typer.Context(sub, info_name=name, parent=ctx)), name)
    lines += [".SH EXAMPLES"]
    for title, blocks in top.sections:
        if title == "Examples":
            for block in blocks:
                lines += _block(block)
    lines += [".SH EXIT STATUS"]
    for code, meaning in help.EXIT_CODES:
        lines += [".TP", f"\\fB{_roff(code)}\\fR", _roff(meaning)]
    lines += [".SH SEE ALSO", "The README of gmmcli, and \\fBgmmcli COMMAND \\-\\-help\\fR."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
