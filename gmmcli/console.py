"""Messages for people, on stderr: summaries, warnings, progress. Data never goes here.

Colour only when the stream is a terminal and NO_COLOR is unset (FORCE_COLOR or TERM do not
override a pipe: a cron log must never hold escape codes); --quiet silences all but errors.
"""

from __future__ import annotations

import os
import sys

_state = {"quiet": False, "verbose": False}


def configure(quiet: bool = False, verbose: bool = False) -> None:
    global _console
    _state["quiet"], _state["verbose"] = quiet, verbose
    _console = None  # re-decide colour: stderr may have been redirected since (tests do)


def verbose() -> bool:
    return _state["verbose"]


def quiet() -> bool:
    return _state["quiet"]


_console = None


def console():
    """The shared stderr console (created on first use: rich is only needed when we speak)."""
    global _console
    if _console is None:
        _console = make_console(sys.stderr)
    return _console


def colour_allowed(stream) -> bool:
    """Escape codes only for a terminal, and never with NO_COLOR set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def make_console(stream):
    """A rich Console on ``stream``: styled on a terminal, plain text anywhere else.

    Off a terminal, lines are not wrapped or truncated to a guessed width either, so a table
    piped into a file keeps every character.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # rich's own reaction is to point *stdout* at /dev/null and exit 1: for a closed
            # stderr that would throw away the data. Stop talking instead.
            self.quiet = True

    on_tty = colour_allowed(stream)
    terminal = _isatty(stream)
    return _Console(
        file=stream,
        highlight=False,
        soft_wrap=True,
        force_terminal=terminal,
        no_color=not on_tty,
        color_system="auto" if on_tty else None,
        width=None if terminal else 100_000,
        emoji=False,
    )


def stdout_console():
    """A console for human-readable results on stdout (``gmmcli info``)."""
    return make_console(sys.stdout)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def info(message: str) -> None:
    if not _state["quiet"]:
        _say(_printable_lines(message))


def warn(message: str) -> None:
    if not _state["quiet"]:
        _say(f"warning: {_printable_lines(message)}", style="yellow")


def _say(text: str, style: str | None = None) -> None:
    """Print on stderr if there is one: a closed stderr (``2>&-``) or a reader that went away
    (``2>&1 | head -1``) must not turn a message into a failure of the job itself."""
    if sys.stderr is None:
        return
    try:
        console().print(text, markup=False, style=style)
    except (OSError, ValueError):
        pass


def error(message: str) -> None:
    """One line on stderr; plain print so nothing can wrap or style it away."""
    if sys.stderr is None:  # print(file=None) would write to stdout, into the data
        return
    try:
        print(f"error: {one_line(message)}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def one_line(message: str) -> str:
    """Escape control characters (a column named "\\x1e" from a hostile input, say) so that a
    message is always exactly one line, whatever the data put in it."""
    text = str(message)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def shown(value, markup: bool = False) -> str:
    """The one sanitiser for text from a model file or input data that a person will see.

    Control characters, escape sequences and invisible format characters (ESC, newlines, the
    right-to-left override) become ``\\x1b``-style escapes, so no string can move the cursor,
    clear the screen, retitle the terminal or forge a line; with ``markup``, rich's markup
    brackets are escaped too, for text that rich will parse as markup (``[red]`` stays text).
    """
    text = one_line(value)
    if markup:
        from rich.markup import escape

        text = escape(text)
    return text


def plot_text(value) -> str:
    """``shown`` for matplotlib, which reads ``$...$`` as mathematics (and fails on bad TeX)."""
    return shown(value).replace("$", r"\$")


def _printable_lines(message: str) -> str:
    """Like one_line, but a message of several lines (a summary table) keeps its newlines."""
    return "\n".join(one_line(line) for line in str(message).split("\n"))


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def on_terminal() -> bool:
    """True if progress bars may be drawn: stderr is a terminal and --quiet is off."""
    return _isatty(sys.stderr) and not _state["quiet"]
