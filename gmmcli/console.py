"""Messages for people, on stderr: summaries, warnings, progress. Data never goes here.

Rich decides colour from the terminal and honours NO_COLOR; --quiet silences all but errors.
"""

from __future__ import annotations

import sys

_state = {"quiet": False, "verbose": False}


def configure(quiet: bool = False, verbose: bool = False) -> None:
    _state["quiet"], _state["verbose"] = quiet, verbose


def verbose() -> bool:
    return _state["verbose"]


def quiet() -> bool:
    return _state["quiet"]


_console = None


def console():
    """The shared stderr console (created on first use: rich is only needed when we speak)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(stderr=True, highlight=False, soft_wrap=True)
    return _console


def info(message: str) -> None:
    if not _state["quiet"]:
        console().print(message, markup=False)


def warn(message: str) -> None:
    if not _state["quiet"]:
        console().print(f"warning: {message}", markup=False, style="yellow")


def error(message: str) -> None:
    """One line on stderr; plain print so nothing can wrap or style it away."""
    print(f"error: {message}", file=sys.stderr, flush=True)


def on_terminal() -> bool:
    return sys.stderr.isatty() and not _state["quiet"]
