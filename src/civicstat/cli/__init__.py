"""The ``civicstat`` command: parse arguments, call a service, print the answer.

Errors are one clear line on stderr and a non-zero exit: 2 for an invalid spec or usage,
1 for anything else that went wrong. Each group of commands is a module of its own, loaded
when one of its commands runs (or ``--help`` lists them all), so that ``civicstat
validate`` does not load what ``civicstat serve`` needs.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:  # the click that TyperGroup is typed with (Typer vendors its own)
    from typer._click import Command, Context

__all__ = ["app", "main"]

# Name → module and attribute of its command (a function) or group (a Typer), in the
# order ``civicstat --help`` lists them: the commands first, then the groups.
COMMANDS: dict[str, str] = {
    "version": "workspace:version",
    "init": "workspace:init",
    "validate": "workspace:validate",
    "schema": "workspace:schema",
    "infer": "workspace:infer",
    "apply": "workspace:apply",
    "ingest": "data:ingest",
    "compute": "measures:compute",
    "runs": "data:runs",
    "serve": "servers:serve",
    "worker": "servers:worker",
    "demo": "demo:demo",
    "users": "accounts:users_app",
    "tokens": "accounts:tokens_app",
    "lake": "data:lake_app",
    "audit": "governance:audit_app",
    "documents": "data:documents_app",
    "measures": "measures:measures_app",
    "access": "governance:access_app",
}


class _Commands(TyperGroup):
    """The root group: every command is built from its module when first asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Lazy(self.commands)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)


class _Lazy(MutableMapping[str, "Command"]):
    """Every command's name from the start (for listings and "did you mean"); a command
    itself, and its module, only once looked up."""

    def __init__(self, built: Mapping[str, Command]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(COMMANDS), **self._built})

    def __len__(self) -> int:
        return len(COMMANDS.keys() | self._built.keys())


def _build(name: str) -> Command:
    """The click command Typer makes of ``name``'s function or group, as if registered here."""
    module, attribute = COMMANDS[name].split(":")
    target = getattr(importlib.import_module(f"civicstat.cli.{module}"), attribute)
    one = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    one.callback()(_root)
    if isinstance(target, typer.Typer):
        one.add_typer(target, name=name)
    else:
        one.command(name=name)(target)
    return typer.main.get_group(one).commands[name]


def _root() -> None:
    """Nothing to do before a command; its being there makes Typer build a group."""


app = typer.Typer(
    cls=_Commands,
    help="CivicStat: performance management on a city's own data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.callback()(_root)


def main() -> None:
    app()
