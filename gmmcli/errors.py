"""One exception hierarchy; each class carries the exit code the CLI ends with.

Exit codes follow BSD sysexits so that shell scripts can branch on them (see README).
"""

from __future__ import annotations


class GmmcliError(Exception):
    """An expected failure: reported as one ``error:`` line, never a traceback."""

    exit_code = 1


class UsageError(GmmcliError):
    """Options that cannot work together or are out of range."""

    exit_code = 2


class DataError(GmmcliError):
    """The input data is unusable: empty, non-numeric, NaN, too few rows, bad model file."""

    exit_code = 65


class InputMissing(GmmcliError):
    """An input file does not exist or cannot be read."""

    exit_code = 66


class CannotCreateOutput(GmmcliError):
    """An output file or folder cannot be created."""

    exit_code = 73


class IOFailure(GmmcliError):
    """Reading or writing failed part-way (disk full, device error)."""

    exit_code = 74


class FitFailed(GmmcliError):
    """EM could not produce a usable model (an ill-defined covariance, no fittable cell)."""

    exit_code = 65


class NotConverged(GmmcliError):
    """EM stopped at --max-iter without converging and --strict was given."""

    exit_code = 3


class Drifted(GmmcliError):
    """``gmmcli check``: the data does not look like the model's training data any more."""

    exit_code = 4


class SettingError(UsageError, ValueError):
    """A setting out of range, named by its library name (``n_init``); the command line names
    the option instead (``--n-init``) and exits 2. ``template`` has one ``{}`` for the name.
    A ValueError for library callers, a UsageError (exit 2) for the command line."""

    def __init__(self, setting: str, template: str):
        self.setting, self.template = setting, template
        super().__init__(template.format(setting))

    def worded(self, name: str) -> str:
        return self.template.format(name)


class DegenerateFit(GmmcliError):
    """A component of the fit is degenerate (held up only by reg_covar) and --strict was given."""

    exit_code = 3


class OutputClosed(Exception):
    """The reader of stdout went away (``| head``): not an error, gmmcli stops quietly."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
