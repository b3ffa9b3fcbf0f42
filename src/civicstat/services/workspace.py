"""Apply a workspace folder (validating one is ``services.authoring.load``)."""

from __future__ import annotations

from pathlib import Path

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import WORKSPACE_APPLY, Resource, require
from civicstat.metadata import revisions
from civicstat.metadata.revisions import ApplyResult
from civicstat.services import policy
from civicstat.services.context import Context
from civicstat.spec.validate import load_workspace


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
