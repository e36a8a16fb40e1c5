"""Signals as exceptions: SIGINT, SIGTERM and SIGHUP unwind the stack like any error.

Python runs signal handlers in the main thread between bytecodes, so raising from the handler
makes every ``finally`` and ``except BaseException`` on the way out run: the atomic writer
removes its temp file, joblib stops its workers, and the CLI ends with 128 + the signal number
(130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).

``Interrupted`` derives from BaseException, not KeyboardInterrupt, so that no library code that
catches KeyboardInterrupt (Typer turns it into a silent exit) can swallow it, and ``except
Exception`` blocks do not either.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_NAMES = {"SIGINT": "interrupted", "SIGTERM": "terminated", "SIGHUP": "hung up"}


class Interrupted(BaseException):
    """The process received a stop signal; ``exit_code`` is 128 + its number."""

    def __init__(self, signum: int):
        self.signum = signum
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(f"{_NAMES.get(name, 'stopped')} ({name})")


def _handled_signals() -> list[int]:
    return [getattr(signal, name) for name in _NAMES if hasattr(signal, name)]


@contextlib.contextmanager
def raising_signals():
    """Within the block, a stop signal raises ``Interrupted`` in the main thread.

    After the first signal, further stop signals are ignored, so that a second Ctrl-C or a
    repeated ``kill`` cannot interrupt the clean-up that the first one started. The previous
    handlers are restored on the way out (the in-process test runner relies on that).
    Outside the main thread this is a no-op: Python allows handlers only there.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    try:
        for s in _handled_signals():
            if signal.getsignal(s) == signal.SIG_IGN:
                continue  # ignored by whoever started us (nohup, a background job): keep it so
            previous[s] = signal.signal(s, handler)
        yield
    finally:
        for s, old in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(s, old if old is not None else signal.SIG_DFL)
