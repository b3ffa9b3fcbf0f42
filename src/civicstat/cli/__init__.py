"""The ``civicstat`` command: parse arguments, call a service, print the answer.

Errors are one clear line on stderr and a non-zero exit: 2 for an invalid spec or usage,
1 for anything else that went wrong. Each group of commands is a module of its own; this
one puts them together, in the order ``civicstat --help`` lists them.
"""

from __future__ import annotations

import typer

from civicstat.cli import accounts, data, demo, governance, measures, servers, workspace

__all__ = ["app", "main"]

app = typer.Typer(
    help="CivicStat: performance management on a city's own data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (
    workspace.version,
    workspace.init,
    workspace.validate,
    workspace.schema,
    workspace.infer,
    workspace.apply,
    data.ingest,
    measures.compute,
    data.runs,
    servers.serve,
    servers.worker,
    demo.demo,
):
    app.command()(command)
for group, name in (
    (accounts.users_app, "users"),
    (accounts.tokens_app, "tokens"),
    (data.lake_app, "lake"),
    (governance.audit_app, "audit"),
    (data.documents_app, "documents"),
    (measures.measures_app, "measures"),
    (governance.access_app, "access"),
):
    app.add_typer(group, name=name)


def main() -> None:
    app()
