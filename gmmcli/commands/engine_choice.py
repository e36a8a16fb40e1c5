"""--engine: which engine runs a command, checked before anything heavy is imported.

Kept apart from ``engine.dask_em`` so that the local engine's commands (most calls) validate
the option without importing the EM engine or Dask.
"""

from __future__ import annotations

from ..errors import UsageError

ENGINES = ("local", "dask")


def check_engine(
    engine: str, data: list[str], scheduler: str | None, worker_memory: str = "auto", **local_only
) -> None:
    """Validate --engine against the inputs and the options only one engine has (an option
    that would do nothing is refused, not ignored)."""
    if engine not in ENGINES:
        raise UsageError(f"unknown --engine {engine!r} (choose from {', '.join(ENGINES)})")
    memory_set = worker_memory != "auto"
    if engine == "local":
        if len(data) != 1:
            raise UsageError(
                f"{len(data)} inputs given: the local engine reads one (use --engine dask for several)"
            )
        if scheduler:
            raise UsageError("--scheduler goes with --engine dask")
        if memory_set:
            raise UsageError("--worker-memory goes with --engine dask")
        return
    if memory_set and scheduler:
        raise UsageError(
            "--worker-memory sizes a local cluster's workers: a --scheduler's workers keep their own"
        )
    for option, value in local_only.items():
        if value:
            raise UsageError(f"--{option.replace('_', '-')} is not supported with --engine dask")
    from ..engine.dask_em import require_dask

    require_dask()
