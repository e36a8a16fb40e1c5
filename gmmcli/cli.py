"""The gmmcli command line: the Typer app, global options, and the one place errors become exit codes.

Commands live in ``gmmcli/commands/``; this module only wires them up. Heavy libraries are
imported inside the commands, so ``gmmcli --help`` and shell completion stay fast.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Annotated

import typer
import typer.core

from . import __version__, console
from .commands import check, compare, digits, fit, info, lrt, plot, sample, scoring, select
from .errors import first_line


class _Group(typer.core.TyperGroup):
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


app = typer.Typer(
    name="gmmcli",
    cls=_Group,
    help="Fit, select, score and sample Gaussian mixture models from the shell.\n\n"
    "Data goes to stdout, messages to stderr; exit codes are listed in the README.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    console.configure(quiet=quiet, verbose=verbose)


app.command("fit", epilog=fit.EPILOG)(fit.fit)
app.command("predict", epilog=scoring.EPILOGS["predict"])(scoring.predict)
app.command("proba", epilog=scoring.EPILOGS["proba"])(scoring.proba)
app.command("score", epilog=scoring.EPILOGS["score"])(scoring.score)
app.command("info", epilog=info.EPILOG)(info.info)
app.command("select", epilog=select.EPILOG)(select.select)
app.command("lrt", epilog=lrt.EPILOG)(lrt.lrt)
app.command("sample", epilog=sample.EPILOG)(sample.sample)
app.command("plot", epilog=plot.EPILOG)(plot.plot)
app.command("digits-demo", epilog=digits.EPILOG)(digits.digits_demo)
app.command("compare", epilog=compare.EPILOG)(compare.compare)
app.command("check", epilog=check.EPILOG)(check.check)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and turn every failure into an exit code."""
    sys.exit(run(argv))


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
    command = typer.main.get_command(app)
    argv = _hoist_global_flags(command, sys.argv[1:] if argv is None else list(argv))
    if not argv or "--help" in argv or "-h" in argv:
        _plain_help_off_terminal()
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


def _plain_help_off_terminal() -> None:
    """Typer draws help with rich, which FORCE_COLOR or TTY_COMPATIBLE turn to escape codes
    even in a pipe or a log file; gmmcli's rule is colour on a terminal only, and never with
    NO_COLOR."""
    if console.colour_allowed(sys.stdout):
        return
    try:
        from typer import rich_utils
    except ImportError:  # Typer without rich: plain help already
        return
    rich_utils.COLOR_SYSTEM = None
    rich_utils.FORCE_TERMINAL = False


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
