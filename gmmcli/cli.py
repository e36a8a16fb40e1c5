"""The gmmcli command line: the Typer app, global options, and the one place errors become exit codes.

Commands live in ``gmmcli/commands/``; this module only wires them up. Heavy libraries are
imported inside the commands, so ``gmmcli --help`` and shell completion stay fast.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from typing import Annotated

import typer
import typer.core

from . import __version__, console, help
from .commands import check, compare, completion, digits, fit, info, lrt, plot, sample, scoring, select
from .errors import OutputClosed, first_line


class _Group(help.Group):
    """The command group, with one change: errors Typer would handle its own way pass through.

    Typer's ``main`` turns EOFError into "Aborted", KeyboardInterrupt into a silent exit 130 and
    a broken pipe into ``sys.exit(1)``. gmmcli decides those itself (in ``run``), so they are
    wrapped here, below Typer, and unwrapped in ``run``.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (EOFError, OSError, KeyboardInterrupt) as exc:
            raise _PassThrough(exc) from None


class _PassThrough(BaseException):
    def __init__(self, original: BaseException):
        super().__init__(original)
        self.original = original


EPILOG = """Examples:

  gmmcli fit sample_data/blobs.csv -k 4 --exclude id --seed 0 -o blobs.joblib

  gmmcli predict blobs.joblib sample_data/blobs.csv --keep id | head

  gmmcli select sample_data/moons.csv -k 1-20 -t full --plot bic.png > grid.csv
"""

app = typer.Typer(
    name="gmmcli",
    cls=_Group,
    help="Fit, select, score and sample Gaussian mixture models from the shell.\n\n"
    "Data goes to stdout (or -o FILE), messages to stderr, one 'error:' line and an exit code "
    "when something is wrong. Every command reads CSV or TSV from a file or - (stdin).\n\n"
    "Run 'gmmcli COMMAND --help' for a command's options; 'man gmmcli' (docs/gmmcli.1) has them "
    "all, and 'gmmcli completion bash|zsh|fish' prints a shell completion script.",
    epilog=EPILOG,
    no_args_is_help=False,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"gmmcli {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors on stderr.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks, for bug reports.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    console.configure(quiet=quiet, verbose=verbose)


_COMMANDS = {
    "fit": (fit.fit, fit.EPILOG),
    "predict": (scoring.predict, scoring.EPILOGS["predict"]),
    "proba": (scoring.proba, scoring.EPILOGS["proba"]),
    "score": (scoring.score, scoring.EPILOGS["score"]),
    "info": (info.info, info.EPILOG),
    "select": (select.select, select.EPILOG),
    "lrt": (lrt.lrt, lrt.EPILOG),
    "sample": (sample.sample, sample.EPILOG),
    "plot": (plot.plot, plot.EPILOG),
    "digits-demo": (digits.digits_demo, digits.EPILOG),
    "compare": (compare.compare, compare.EPILOG),
    "check": (check.check, check.EPILOG),
    "completion": (completion.completion, completion.EPILOG),
}
for _name, (_function, _epilog) in _COMMANDS.items():
    app.command(_name, cls=help.Command, epilog=_epilog)(_function)


@functools.cache
def _command():
    """The click command tree Typer builds from ``app``: built once per process, as its ~20 ms
    (reading every command's signature) would otherwise be paid again by every in-process run."""
    return typer.main.get_command(app)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and turn every failure into an exit code."""
    _hold_closed_standard_fds()
    sys.exit(run(argv))


def _hold_closed_standard_fds() -> None:
    """Started with stdin, stdout or stderr closed (``>&-``): put /dev/null on that descriptor.

    Python has already set ``sys.stdout`` (say) to None, so gmmcli knows it is closed; but the
    next file opened would otherwise get descriptor 1, and a worker process (which inherits
    it as its stdout) could print into an output file.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                opened = os.open(os.devnull, os.O_RDWR)
                if opened != fd:  # a lower one was closed too and took it: keep it open as well
                    os.dup2(opened, fd)


def run(argv: list[str] | None = None) -> int:
    """Run gmmcli with ``argv``; return the exit code instead of exiting.

    Every way out is decided here: a GmmcliError is one ``error:`` line and its exit code; a
    signal is 128 + its number (after the stack has unwound, so temp files are gone); a closed
    stdout pipe is quiet (exit 0); an OSError nobody mapped is 74; anything else is a bug
    (exit 1). The traceback is shown only with --verbose.
    """
    from .signals import raising_signals

    with raising_signals(), _warnings_to_console():
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    from .errors import DataError, GmmcliError, IOFailure, OutputClosed, SettingError
    from .signals import Interrupted

    click = _click_exceptions()
    console.configure()  # no state from an earlier in-process run; the callback sets the flags
    command = _command()
    argv = _hoist_global_flags(command, sys.argv[1:] if argv is None else list(argv))
    if completion.COMPLETE_VAR in os.environ:  # the shell asks what to complete: Typer's classes answer
        from typer._completion_classes import completion_init

        completion_init()
    elif not [a for a in argv if a not in _GLOBAL_FLAGS]:  # bare 'gmmcli': help, on stderr, exit 2
        with typer.Context(command, info_name="gmmcli", **command.context_settings) as ctx:
            if sys.stderr is not None:
                print(command.get_help(ctx), end="", file=sys.stderr)
        return 2
    if "--help" in argv or "-h" in argv:
        _help_quiet_on_closed_pipe()
    try:
        try:
            result = command.main(args=argv, prog_name="gmmcli", standalone_mode=False)
            if sys.stdout is not None:
                sys.stdout.flush()
        except _PassThrough as wrapped:
            raise wrapped.original from None
        return result if isinstance(result, int) else 0
    except SettingError as exc:  # a setting out of range, in the library's words: name the option
        from .commands.options import OPTION_NAMES

        _report(exc.worded(OPTION_NAMES.get(exc.setting, exc.setting)))
        return 2
    except GmmcliError as exc:
        _report(str(exc))
        return exc.exit_code
    except Interrupted as exc:
        _report(str(exc))
        return exc.exit_code
    except click.NoArgsIsHelpError:  # Typer has already printed the help
        return 2
    except click.UsageError as exc:
        hint = f" (see 'gmmcli {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.parent else ""
        _report(f"{exc.format_message()}{hint}".replace("\n", " "))
        return 2
    except (typer.Exit, getattr(click, "Exit", typer.Exit)) as exc:
        return exc.exit_code
    except (typer.Abort, getattr(click, "Abort", typer.Abort), KeyboardInterrupt):
        _report("interrupted")
        return 130
    except (BrokenPipeError, OutputClosed):
        return _closed_pipe()
    except OSError as exc:  # an I/O failure no layer mapped (stdout on a full disk, say)
        where = f" on {exc.filename}" if exc.filename else ""
        _report(f"I/O error{where}: {exc.strerror or first_line(exc)}")
        return IOFailure.exit_code
    except MemoryError:
        _report(
            "out of memory: this job needs more memory than is available (use less data, "
            "fewer components or fewer samples)"
        )
        return DataError.exit_code
    except Exception as exc:  # a bug: say so in one line, traceback only with --verbose
        _report(f"internal error: {type(exc).__name__}: {first_line(exc)} (rerun with --verbose for details)")
        return 1


_GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def _hoist_global_flags(group, argv: list[str]) -> list[str]:
    """``gmmcli fit ... --quiet`` means ``gmmcli --quiet fit ...``: cron lines are written that way.

    Only exact -q/--quiet/-v/--verbose tokens after the command name move, and never one that
    is the value of an option (``--columns -q``) or follows ``--``, or that the command itself
    defines.
    """
    position = next((i for i, token in enumerate(argv) if not token.startswith("-") or token == "--"), None)
    if position is None or argv[position] == "--":
        return argv
    command = getattr(group, "commands", {}).get(argv[position])
    if command is None:
        return argv
    own, takes_value = set(), set()
    for param in command.params:
        names = list(getattr(param, "opts", [])) + list(getattr(param, "secondary_opts", []))
        own.update(names)
        if (
            getattr(param, "param_type_name", "") == "option"
            and not getattr(param, "is_flag", False)
            and not getattr(param, "count", False)
        ):
            takes_value.update(names)
    hoisted, rest = [], []
    i = position + 1
    while i < len(argv):
        token = argv[i]
        if token == "--":
            rest.extend(argv[i:])
            break
        if token in takes_value:
            rest.extend(argv[i : i + 2])
            i += 2
            continue
        (hoisted if token in _GLOBAL_FLAGS and token not in own else rest).append(token)
        i += 1
    return argv[:position] + hoisted + [argv[position]] + rest


def _help_quiet_on_closed_pipe() -> None:
    """``gmmcli --help | head -1``: rich, which draws the help, exits 1 when the reader goes
    away; for gmmcli a closed pipe is a quiet success (exit 0), so it raises OutputClosed."""
    try:
        from rich.console import Console
    except ImportError:
        return

    def closed(self) -> None:
        raise OutputClosed()

    Console.on_broken_pipe = closed


@contextlib.contextmanager
def _warnings_to_console():
    """Library warnings (pandas, numpy, scikit-learn) as one ``warning:`` line, not a source dump.

    --quiet silences them with every other message; --verbose keeps Python's full form.
    """
    previous = warnings.showwarning
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        if console.verbose():
            previous(message, category, filename, lineno, file, line)
            return
        said = first_line(message) if isinstance(message, Warning) else str(message).strip()
        text = f"{said} ({category.__name__})"
        if text not in seen:  # the same numpy warning from ten places is one line
            seen.add(text)
            console.warn(text)

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.simplefilter("ignore", ResourceWarning)  # about our own clean-up: not for users
        warnings.showwarning = show
        yield


def _click_exceptions():
    """The click exception classes Typer raises: vendored in newer Typer, plain click before."""
    try:
        from typer._click import exceptions
    except ImportError:  # typer < 0.2x depends on click itself
        from click import exceptions
    return exceptions


def _report(message: str) -> None:
    if console.verbose() and sys.exc_info()[0] is not None and sys.stderr is not None:
        import traceback

        with contextlib.suppress(OSError, ValueError):
            traceback.print_exc()
    console.error(message)


def _closed_pipe() -> int:
    """The reader went away (``| head``): stop quietly with success, so ``set -o pipefail`` holds.

    Whatever is still buffered for stdout goes to /dev/null, so that the interpreter's final
    flush cannot print "Exception ignored ... BrokenPipeError".
    """
    if sys.stdout is not None and sys.stdout is sys.__stdout__:  # never rewire a test runner's capture
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
    return 0
