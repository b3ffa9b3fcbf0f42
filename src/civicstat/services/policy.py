"""Governance policy changed by an apply, each change its own audit event.

The revision records the whole workspace; these events say, in the audit log's own terms,
which sharing agreements were added, changed or retired and whether the suppression
threshold moved, so a reviewer of the log need not diff revisions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.audit import Event
from civicstat.metadata.revisions import ApplyResult
from civicstat.spec.workspace import Workspace


def record_apply(
    session: Session,
    actor: Actor,
    workspace: Workspace,
    result: ApplyResult,
    previous_layout: dict[str, Any] | None,
) -> None:
    """Audit the agreement and suppression changes of an apply that made a new revision."""
    if result.revision is None:
        return
    revision = result.revision.id
    agreements = {a.id: a for a in workspace.governance.agreements}
    for how, names in (("added", result.added), ("changed", result.changed)):
        for key in _keys(names, "agreement"):
            body = agreements[key].model_dump(mode="json")
            audit.record(
                session,
                actor,
                Event.AGREEMENT_CHANGE,
                "agreement",
                key,
                change=how,
                revision=revision,
                agreement=body,
            )
    for key in _keys(result.retired, "agreement"):
        audit.record(
            session,
            actor,
            Event.AGREEMENT_CHANGE,
            "agreement",
            key,
            change="retired",
            revision=revision,
        )
    before = (previous_layout or {}).get("suppression")
    after = workspace.governance.suppression.model_dump(mode="json")
    if before != after:
        audit.record(
            session,
            actor,
            Event.POLICY_CHANGE,
            "policy",
            "suppression",
            change="suppression",
            before=before,
            after=after,
            revision=revision,
        )


def _keys(names: list[str], kind: str) -> list[str]:
    prefix = f"{kind} "
    return [name[len(prefix) :] for name in names if name.startswith(prefix)]
