"""gmmcli completion SHELL: the script that makes bash, zsh or fish complete gmmcli's commands,
options, choices and file names."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import one_of

SHELLS = ("bash", "zsh", "fish")

EPILOG = """Examples:

  gmmcli completion bash > ~/.local/share/bash-completion/completions/gmmcli

  echo 'eval "$(gmmcli completion zsh)"' >> ~/.zshrc

  gmmcli completion fish > ~/.config/fish/completions/gmmcli.fish
"""


def completion(
    shell: Annotated[
        str,
        typer.Argument(
            help="The shell to write the completion script for.",
            show_default=False,
            **one_of(*SHELLS),
        ),
    ],
) -> None:
    """Print the shell completion script for bash, zsh or fish on stdout.

    Load it from your shell's start-up file or completion folder (see the examples). The script
    asks gmmcli itself what to complete, so it stays right when gmmcli changes.
    """
    from typer._completion_shared import get_completion_script

    from ..errors import UsageError

    if shell not in SHELLS:
        raise UsageError(f"unknown shell {shell!r} (choose from {', '.join(SHELLS)})")
    print(get_completion_script(prog_name="gmmcli", complete_var=COMPLETE_VAR, shell=shell).strip())


#: The environment variable the scripts set when they ask gmmcli for completions.
COMPLETE_VAR = "_GMMCLI_COMPLETE"
