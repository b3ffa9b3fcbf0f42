"""Measures: ``compute`` them, and ``measures approve`` them for publication."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civicstat.cli._common import WorkspaceOpt, me, opened, out
from civicstat.services import publication as publication_service
from civicstat.services.measures.compute import compute as compute_measures

measures_app = typer.Typer(help="Approve measures for publication.", no_args_is_help=True)


def compute(
    measures: Annotated[list[str] | None, typer.Argument(help="Measure ids (default: all)")] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Recompute measures from their datasets' current versions."""
    with opened(workspace) as ctx:
        for c in compute_measures(ctx, me(), measures):
            note = "unchanged" if not c.changed else f"{c.observations} observations"
            out.print(f"{c.measure_id}: {note} ({c.data_version or 'no data yet'})")


@measures_app.command("approve")
def measures_approve(
    measure_id: Annotated[str, typer.Argument(help="Measure id")],
    note: Annotated[str, typer.Option("--note", help="Why, for the audit log")] = "",
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Approve a measure's current definition for publication (needed when it reads data
    that is not public); a changed definition needs approving again."""
    with opened(workspace) as ctx:
        state = publication_service.approve(ctx, me(), measure_id, note=note)
    what = "approved" if state.newly_approved else "was already approved"
    out.print(
        f"measure {measure_id} {what} for publication "
        f"(definition {state.definition_hash[:12]}, data {state.classification})",
        markup=False,
    )
