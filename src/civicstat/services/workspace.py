"""Validate and apply a workspace folder."""

from __future__ import annotations

from pathlib import Path

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import WORKSPACE_APPLY, Resource, require
from civicstat.metadata import revisions
from civicstat.metadata.revisions import ApplyResult
from civicstat.services import policy
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.boundary import Boundary
from civicstat.spec.validate import load_workspace
from civicstat.spec.workspace import Workspace


def load(root: Path, settings: Settings | None = None) -> Workspace:
    """Load and check the workspace files; raises SpecError listing every problem. With
    ``settings``, local paths are judged by this machine's data roots too."""
    if settings is None:
        return load_workspace(root)
    lake = settings.resolved_lake()  # the spec's own lake_url is judged when stores open
    return load_workspace(root, Boundary.of(root, settings.data_roots, [lake]))


def apply(ctx: Context, actor: Actor, root: Path | None = None) -> ApplyResult:
    """Store the workspace as a new plan revision (none when nothing changed)."""
    workspace = load_workspace(root or ctx.root, ctx.boundary)
    require(actor, WORKSPACE_APPLY, Resource("workspace", workspace.settings.name))
    with ctx.db.write() as session:
        previous = revisions.latest(session)
        previous_layout = previous.layout if previous is not None else None
        result = revisions.apply(
            session,
            workspace.spec_objects(),
            workspace.layout(),
            workspace.content_hash(),
            str(actor),
        )
        if result.revision is not None:
            audit.record(
                session,
                actor,
                "workspace:apply",
                "revision",
                str(result.revision.id),
                content_hash=workspace.content_hash(),
                summary=result.revision.summary,
            )
        policy.record_apply(session, actor, workspace, result, previous_layout)
    return result
