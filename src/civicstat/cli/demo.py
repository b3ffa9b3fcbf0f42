"""``demo``: build the Riverton demo city and serve it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civicstat.cli._common import WorkspaceArg, err, me, opened, out
from civicstat.cli.data import ingest
from civicstat.cli.servers import serve
from civicstat.cli.workspace import apply
from civicstat.demo.admin import approve_for_publication, ensure_admin


def demo(
    directory: WorkspaceArg = Path("riverton"),
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve when built")
    ] = True,
    calls: Annotated[int, typer.Option(help="911 calls to generate")] = 1_100_000,
    port: int = 8000,
) -> None:
    """Build the Riverton demo city (data, plan, measures) and serve it."""
    # numpy and pyarrow: only here
    from civicstat.demo.riverton import APPROVED_FOR_PUBLICATION, write_workspace

    if not (directory / "civicstat.yaml").exists():
        with err.status("generating Riverton's data…"):
            write_workspace(directory, calls=calls)
    apply(directory)
    ingest(None, directory, True)
    with opened(directory) as ctx:
        admin = ensure_admin(ctx, me(), directory)
        approved = approve_for_publication(ctx, me(), APPROVED_FOR_PUBLICATION)
    fresh = [a.measure_id for a in approved if a.newly_approved]
    if fresh:
        out.print(f"approved for the public portal: {', '.join(fresh)}", markup=False)
    out.print(
        f"\nRiverton is ready. Its public portal is at http://127.0.0.1:{port}/portal\n"
        f"Sign in at http://127.0.0.1:{port}/login as "
        f"[bold]{admin.username}[/bold] with password [bold]{admin.password}[/bold]\n"
        f"(kept in {admin.path})."
    )
    if serve_after:
        serve(directory, "127.0.0.1", port)
