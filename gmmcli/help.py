"""Help text, in plain words: one git-like usage line, no type placeholders, whole words.

Typer's own help draws boxes with rich (and breaks words such as "rando m" to fit them) or,
without rich, prints ``<int>`` and ``{DATA...}...``. gmmcli renders its help here instead, from
the same click parameters: ``CommandHelp`` collects what a command says about itself, ``text``
lays it out for a terminal or a pipe, and ``gmmcli.manpage`` writes the same pieces as roff.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from dataclasses import dataclass, field

import typer.core

#: Exit codes, in the words of ``gmmcli --help`` and the man page (README has the same table).
EXIT_CODES = (
    ("0", "success (also when a reader such as head closes the pipe)"),
    ("1", "a bug in gmmcli (rerun with --verbose and report the traceback)"),
    ("2", "usage: unknown option, bad value, unknown column"),
    ("3", "EM did not converge and --strict was given"),
    ("65", "bad input data or model file, or not enough memory"),
    ("66", "an input or model file is missing or unreadable"),
    ("73", "an output file cannot be created"),
    ("74", "an I/O error while writing (disk full)"),
    ("129/130/143", "stopped by SIGHUP / Ctrl-C / SIGTERM"),
)

WIDTH = 80


@dataclass
class CommandHelp:
    """What ``--help`` says about one command (or the top level), before layout."""

    usage: str
    summary: str
    paragraphs: list[str] = field(default_factory=list)
    arguments: list[tuple[str, str]] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)
    commands: list[tuple[str, str]] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)  # (title, blocks) after options


def usage_line(path: str, params) -> str:
    """``gmmcli fit [options] DATA... -o MODEL``: positionals, then required options."""
    pieces = [path, "[options]"]
    for param in params:
        if param.param_type_name == "argument":
            pieces.append(param.metavar or param.name.upper())
    for param in params:
        if param.param_type_name == "option" and param.required:
            flag = min(param.opts, key=len)
            pieces.append(f"{flag} {param.metavar or param.name.upper()}")
    return " ".join(pieces)


def option_record(param, ctx) -> tuple[str, str] | None:
    """('-o, --output FILE', 'Write here ... [default: x]'), without a type placeholder."""
    if getattr(param, "hidden", False):
        return None
    record = param.get_help_record(ctx)
    if record is None:
        return None
    names = sorted(param.opts, key=lambda o: len(o) > 2)  # short flags first, as declared
    if param.is_flag and param.secondary_opts:
        name = " / ".join([", ".join(names), ", ".join(param.secondary_opts)])
    elif param.is_flag or param.count:
        name = ", ".join(names)
    else:
        name = f"{', '.join(names)} {param.metavar or param.name.upper()}"
    return name, _clean(record[1])


def _clean(text: str) -> str:
    return " ".join(text.split())


def _paragraphs(text: str | None) -> list[str]:
    """Blocks of a docstring or epilog: prose joined into one line each; indented blocks (examples)
    kept line for line."""
    if not text:
        return []
    blocks = []
    for block in textwrap.dedent(text).strip("\n").split("\n\n"):
        if not block.strip():
            continue
        lines = block.split("\n")
        if all(line.startswith("  ") for line in lines if line.strip()):
            blocks.append("\n".join(lines))
        else:
            blocks.append(_clean(block))
    return blocks


def _sections(epilog: str | None) -> list[tuple[str, list[str]]]:
    """An epilog's blocks, grouped under the headings it has ("Examples:" and so on)."""
    sections: list[tuple[str, list[str]]] = []
    for block in _paragraphs(epilog):
        example = block.startswith("  ")
        if block.endswith(":") and "\n" not in block and len(block) < 40:
            sections.append((block[:-1], []))
        elif sections and sections[-1][0].startswith("Example") and not example:
            sections.append(("Notes", [block]))  # prose after the examples is not an example
        elif sections:
            sections[-1][1].append(block)
        else:
            sections.append(("Notes", [block]))
    return sections


def command_help(command, ctx) -> CommandHelp:
    """The help of one command, from its click parameters, docstring and epilog."""
    path = ctx.command_path
    params = [p for p in command.get_params(ctx)]
    paragraphs = _paragraphs(command.help)
    doc = CommandHelp(
        usage=usage_line(path, [p for p in params if p.name != "help"]),
        summary=paragraphs[0] if paragraphs else "",
        paragraphs=paragraphs[1:],
    )
    for param in params:
        if param.param_type_name == "argument":
            doc.arguments.append(
                (param.metavar or param.name.upper(), _clean(getattr(param, "help", "") or ""))
            )
        else:
            record = option_record(param, ctx)
            if record:
                doc.options.append(record)
    doc.sections = _sections(command.epilog)
    return doc


def group_help(group, ctx) -> CommandHelp:
    """The top level: commands, global options, examples and the exit codes."""
    paragraphs = _paragraphs(group.help)
    doc = CommandHelp(
        usage=f"{ctx.command_path} [-q | -v] COMMAND [ARGS]...",
        summary=paragraphs[0] if paragraphs else "",
        paragraphs=paragraphs[1:],
    )
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            doc.commands.append((name, _paragraphs(sub.help)[0] if sub.help else ""))
    for param in group.get_params(ctx):
        record = option_record(param, ctx)
        if record:
            doc.options.append(record)
    doc.sections = _sections(group.epilog)
    doc.sections.append(
        ("Exit codes", ["\n".join(f"  {code:<12} {meaning}" for code, meaning in EXIT_CODES)])
    )
    return doc


def text(doc: CommandHelp, width: int = WIDTH) -> str:
    """The help as plain text: words are never broken, examples never rewrapped."""
    out = [f"usage: {doc.usage}", ""]
    if doc.summary:
        out += [*_wrap(doc.summary, width), ""]
    for block in doc.paragraphs:
        out += [*_block(block, width, indent=""), ""]
    for title, rows in (("Commands", doc.commands), ("Arguments", doc.arguments), ("Options", doc.options)):
        if rows:
            out += [f"{title}:", *_definitions(rows, width), ""]
    for title, blocks in doc.sections:
        out.append(f"{title}:")
        for block in blocks:
            out += [*_block(block, width, indent="  "), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _wrap(text: str, width: int, indent: str = "", subsequent: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=indent if subsequent is None else subsequent,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [indent.rstrip()]


def _block(block: str, width: int, indent: str) -> list[str]:
    if "\n" in block or block.startswith("  "):  # an example: as written
        return [indent + line if indent and not line.startswith("  ") else line for line in block.split("\n")]
    return _wrap(block, width, indent)


def _definitions(rows: list[tuple[str, str]], width: int) -> list[str]:
    """Two columns (name, help); a name too long for the first column gets a line of its own."""
    column = min(max(len(name) for name, _ in rows) + 4, 30)
    lines = []
    for name, help_text in rows:
        head = f"  {name}"
        if len(head) + 2 <= column:
            wrapped = _wrap(help_text, width, " " * column) if help_text else [""]
            lines.append(head.ljust(column) + wrapped[0].lstrip())
            lines += wrapped[1:]
        else:
            lines.append(head)
            if help_text:
                lines += _wrap(help_text, width, " " * column)
    return [line.rstrip() for line in lines]


def terminal_width() -> int:
    """80 columns, or fewer on a narrower terminal (never more: long lines are hard to read)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return max(40, min(WIDTH, int(os.environ["COLUMNS"])))
    return max(40, min(WIDTH, shutil.get_terminal_size((WIDTH, 24)).columns))


class Command(typer.core.TyperCommand):
    """A gmmcli command: Typer's parsing, gmmcli's help."""

    def get_help(self, ctx) -> str:
        return text(command_help(self, ctx), terminal_width())

    def get_usage(self, ctx) -> str:
        return "usage: " + usage_line(ctx.command_path, [p for p in self.get_params(ctx) if p.name != "help"])


class Group(typer.core.TyperGroup):
    """The top-level group's help: commands, examples, exit codes."""

    def get_help(self, ctx) -> str:
        return text(group_help(self, ctx), terminal_width())

    def get_usage(self, ctx) -> str:
        return f"usage: {ctx.command_path} [-q | -v] COMMAND [ARGS]..."
