"""Getting data in and looking after it: ``ingest``, ``runs``, ``lake`` and ``documents``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civicstat.cli._common import WorkspaceOpt, err, me, opened, out
from civicstat.cli.progress import ingest_progress
from civicstat.services import ingest as ingest_service
from civicstat.services import lake as lake_service
from civicstat.services import runs as runs_service
from civicstat.services import upkeep
from civicstat.services.errors import IngestError, SourceBusy

lake_app = typer.Typer(help="Look after the lake.", no_args_is_help=True)
documents_app = typer.Typer(
    help="Documents (PDF, images) kept with datasets.", no_args_is_help=True
)


def ingest(
    sources: Annotated[list[str] | None, typer.Argument(help="Source ids (default: all)")] = None,
    workspace: WorkspaceOpt = Path("."),
    recompute: Annotated[bool, typer.Option(help="Recompute dependent measures")] = True,
) -> None:
    """Pull sources, keep raw payloads, publish new data versions."""
    with opened(workspace) as ctx:
        chosen = sources or ingest_service.source_ids(ctx)
        failed = 0
        for source_id in chosen:
            with ingest_progress(source_id) as shown:
                try:
                    outcome = ingest_service.ingest(
                        ctx, me(), source_id, recompute=recompute, progress=shown
                    )
                except IngestError as error:
                    # Error text comes from data (file names, values): never read as markup.
                    message = f"{source_id}: failed (run {error.run_id}): {error}"
                    err.print(message, style="red", markup=False, soft_wrap=True)
                    failed += 1
                    continue
                except SourceBusy as busy:
                    message = f"{source_id}: not run: {busy}"
                    err.print(message, style="yellow", markup=False, soft_wrap=True)
                    failed += 1
                    continue
            _print_outcome(source_id, outcome)
    if failed:
        raise typer.Exit(1)


def _print_outcome(source_id: str, outcome: ingest_service.IngestOutcome) -> None:
    """The run's result line, its warnings, and the measures it recomputed."""
    result = outcome.result
    v = result.version
    if result.status == "unchanged" or v is None:
        current = f", still {v.label}" if v else ""
        out.print(f"{source_id}: unchanged{current} (run {result.run_id})")
    else:
        out.print(f"{source_id}: {v.row_count:,} rows → {v.label} (run {result.run_id})")
    for warning in result.warnings:
        err.print(f"  warning: {warning}", markup=False, soft_wrap=True)
    for c in outcome.computed:
        out.print(f"  {c.measure_id}: {c.observations} observations")


def runs(
    workspace: WorkspaceOpt = Path("."),
    limit: int = 20,
    unmask: Annotated[
        bool, typer.Option("--unmask", help="Show personal data in error messages in clear")
    ] = False,
) -> None:
    """List recent ingest runs."""
    with opened(workspace) as ctx:
        upkeep.recover_abandoned(ctx)  # runs whose process died show as abandoned, not running
        for run in runs_service.recent(ctx, me(), limit, unmask=unmask):
            started = f"{run.started_at:%Y-%m-%d %H:%M:%S}"
            line = f"{run.id:>5}  {started}  {run.source_id:<24} {run.status:<10}"
            line += f" {run.rows_loaded:>10,} rows"
            if run.rows_quarantined:
                line += f", {run.rows_quarantined:,} quarantined"
            if run.error:
                line += f"  {run.error.text.splitlines()[0]}"
            out.print(line, markup=False, soft_wrap=True)


@lake_app.command("prune")
def lake_prune(workspace: WorkspaceOpt = Path(".")) -> None:
    """Delete raw payloads older than their source's retention.raw_days."""
    with opened(workspace) as ctx:
        result = lake_service.prune(ctx, me())
    out.print(f"{result.files} raw payload(s) deleted, {result.bytes:,} bytes freed")


@lake_app.command("sweep")
def lake_sweep(
    workspace: WorkspaceOpt = Path("."),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be removed; remove nothing")
    ] = False,
) -> None:
    """Delete lake files no run or version refers to: what killed ingests left."""
    with opened(workspace) as ctx:
        result = lake_service.sweep(ctx, me(), dry_run=dry_run)
    for item in result.removed:
        out.print(f"{item.relative}{'/' if item.kind == 'table' else ''}", markup=False)
    verb = "would be removed" if dry_run else "removed"
    out.print(f"{len(result.removed)} leftover(s) {verb}, {result.bytes:,} bytes")
    for source in result.busy:
        err.print(f"skipped {source}: being ingested; sweep again later", markup=False)


@documents_app.command("add")
def documents_add(
    dataset: str,
    path: Annotated[Path, typer.Argument(help="A PDF, image or text file", dir_okay=False)],
    title: Annotated[str | None, typer.Option(help="Title (default: the file name)")] = None,
    workspace: WorkspaceOpt = Path("."),
) -> None:
    """Register a document (PDF, image) of a dataset; it is kept as-is in the lake."""
    with opened(workspace) as ctx:
        document = lake_service.add_document(ctx, me(), dataset, path, title)
    kept = f"{document.size:,} bytes, sha256 {document.sha256[:12]}…"
    out.print(f"{dataset}: document {document.title!r} kept ({kept})", markup=False)


@documents_app.command("list")
def documents_list(dataset: str, workspace: WorkspaceOpt = Path(".")) -> None:
    """List the documents of a dataset."""
    with opened(workspace) as ctx:
        for d in lake_service.documents(ctx, me(), dataset):
            out.print(
                f"{d.id:>4}  {d.title}  ({d.original_name}, {d.content_type}, {d.size:,} bytes)",
                markup=False,
            )
