"""How options that several commands take together reach a command as one value.

A group is a frozen dataclass of Typer-annotated fields (``OptionGroup``); a command declares
one parameter whose default is ``Group.shown(names...)`` where its --help lists them, and
``grouped`` rewrites the command's signature so that Typer parses the separate options and the
command receives one ``Group``. The groups themselves are in ``options``.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from dataclasses import dataclass


@dataclass(frozen=True)
class Shown:
    """Where a command's --help shows options of a group: ``names`` (parameter names), in order."""

    group: type
    names: tuple[str, ...]


class OptionGroup:
    """Options that several commands take together: a frozen dataclass whose fields are the
    options (each annotated with its Typer option, defaulting to the option's default)."""

    @classmethod
    def options(cls) -> dict[str, inspect.Parameter]:
        """The group's options as parameters (name, Typer annotation, default), in field order."""
        if "_options" not in cls.__dict__:
            hints = typing.get_type_hints(cls, include_extras=True)
            cls._options = {
                f.name: inspect.Parameter(
                    f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name]
                )
                for f in dataclasses.fields(cls)
            }
        return cls._options

    @classmethod
    def shown(cls, *names: str) -> Shown:
        """The default of the parameter that stands for these options (all of them: none named)."""
        unknown = set(names) - set(f.name for f in dataclasses.fields(cls))
        if unknown:
            raise TypeError(f"{cls.__name__} has no option {sorted(unknown)[0]!r}")
        return Shown(cls, names or tuple(f.name for f in dataclasses.fields(cls)))


def grouped(command):
    """``command`` as Typer reads it: each parameter whose default is ``Group.shown(...)`` is
    replaced, at its place in the signature (so in --help), by those options of the group;
    the command is called with one ``Group`` value, under that parameter's name, made of the
    values given. A group shown at two places (fit lists --delimiter and --no-header after
    --jobs) is received by the first; the later parameter keeps its default and goes unused."""
    import functools

    signature = inspect.signature(command, eval_str=True)
    parameters, receiver, group_of = [], {}, {}
    for param in signature.parameters.values():
        place = param.default
        if not isinstance(place, Shown):
            parameters.append(param)
            continue
        receiver.setdefault(place.group, param.name)
        options = place.group.options()
        for name in place.names:
            if name in group_of or (name in signature.parameters and name != param.name):
                raise TypeError(f"{command.__name__}: option {name!r} is declared twice")
            group_of[name] = place.group
            parameters.append(options[name].replace(kind=param.kind))

    @functools.wraps(command)
    def run(**given):
        values: dict[type, dict] = {group: {} for group in receiver}
        for name in [n for n in given if n in group_of]:
            values[group_of[name]][name] = given.pop(name)
        for group, fields in values.items():
            given[receiver[group]] = group(**fields)
        return command(**given)

    run.__signature__ = signature.replace(parameters=parameters)
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    run.__annotations__["return"] = signature.return_annotation
    return run
