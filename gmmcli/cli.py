"""The gmmcli command line: the Typer app, global options, and the one place errors become exit codes.

Commands live in ``gmmcli/commands/``; this module only wires them up. Heavy libraries are
imported inside the commands, so ``gmmcli --help`` and shell completion stay fast.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated

import typer

from . import __version__, console
from .commands import fit, info, scoring
from .commands import select as select_command

app = typer.Typer(
    name="gmmcli",
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
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks, for bug reports.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    console.configure(quiet=quiet, verbose=verbose)


app.command(epilog=fit.EPILOG)(fit.fit)
for _name in scoring.EPILOGS:
    app.command(epilog=scoring.EPILOGS[_name])(getattr(scoring, _name))
app.command(epilog=info.EPILOG)(info.info)
app.command(epilog=select_command.EPILOG)(select_command.select)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app and turn every failure into an exit code."""
    sys.exit(run(argv))


def run(argv: list[str] | None = None) -> int:
    """Run gmmcli with ``argv``; return the exit code instead of exiting."""
    from .errors import GmmcliError

    click = _click_exceptions()

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="gmmcli", standalone_mode=False)
        sys.stdout.flush()
        return result if isinstance(result, int) else 0
    except GmmcliError as exc:
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
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as exc:  # a bug: say so in one line, traceback only with --verbose
        _report(f"internal error: {type(exc).__name__}: {exc} (rerun with --verbose for details)")
        return 1


def _click_exceptions():
    """The click exception classes Typer raises: vendored in newer Typer, plain click before."""
    try:
        from typer._click import exceptions
    except ImportError:  # typer < 0.2x depends on click itself
        from click import exceptions
    return exceptions


def _report(message: str) -> None:
    if console.verbose() and sys.exc_info()[0] is not None:
        import traceback

        traceback.print_exc()
    console.error(message)


def _closed_pipe() -> int:
    """The reader went away (``| head``): stop quietly, like any Unix filter."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE if hasattr(signal, "SIGPIPE") else 1
