"""A progress bar on stderr for commands that run many fits (only on a terminal)."""

from __future__ import annotations

from .. import console


class progress:
    """``with progress(total, "fitting", "cells") as advance:`` -- ``advance(amount=1)`` moves
    the bar (extra positional arguments are ignored, so it can be any callback). Off a terminal
    nothing is drawn and ``advance`` does nothing."""

    def __init__(self, total: int, label: str = "fitting", unit: str = "cells"):
        self.total, self.label, self.unit, self.bar = total, label, unit, None

    def __enter__(self):
        if not console.on_terminal():
            return lambda *args, amount=1: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn(self.label),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(self.unit),
            TimeElapsedColumn(),
            console=console.console(),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task(self.label, total=self.total)
        return lambda *args, amount=1: self.bar.advance(task, amount)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
