"""Which measures may be published, and approving a measure's definition for publication.

A measure inherits the governance of the data under it: when every dataset it reads is
public it may be published as it is; when any is internal, confidential or restricted
(or unclassified) its definition must first be approved for publication by an admin (the
chief data officer). An approval is of one definition hash, covering the measures it is
built from too: change the definition and it needs approving again.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.audit import Event
from civicstat.governance.permissions import MEASURE_APPROVE, Resource, allowed, require
from civicstat.metadata import approvals
from civicstat.metrics import kinds
from civicstat.plan import AppliedPlan
from civicstat.services.audit import require_recorded
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.spec.models import Classification, Measure

_LEVEL = {c: i for i, c in enumerate(Classification)}


class Publication(BaseModel):
    """Whether a measure may be published, and why."""

    measure_id: str
    definition_hash: str  # of the current definition, with everything it is built from
    classification: Classification  # the most sensitive dataset under it
    needs_approval: bool
    approved_by: str | None  # of the current definition
    approved_at: dt.datetime | None
    publishable: bool
    newly_approved: bool = False


def datasets_behind(plan: AppliedPlan, measure: Measure) -> set[str]:
    """Every dataset a measure reads, through the measures it is built from."""
    row = plan.effective(measure)
    if row.dataset is not None:
        return {row.dataset}
    out: set[str] = set()
    for dep in kinds.get(measure.kind).depends_on(measure):
        out |= datasets_behind(plan, plan.measures[dep])
    return out


def classification_of(plan: AppliedPlan, measure: Measure) -> Classification:
    """The most sensitive classification among the datasets under a measure; a dataset no
    source loads counts as restricted."""
    levels = [Classification.PUBLIC]
    for dataset in datasets_behind(plan, measure):
        source = plan.source_for_dataset(dataset)
        levels.append(source.classification if source else Classification.RESTRICTED)
    return max(levels, key=_LEVEL.__getitem__)


def state(session: Session, plan: AppliedPlan, measure: Measure) -> Publication:
    definition = plan.definition_hash(measure)
    classification = classification_of(plan, measure)
    needs = classification is not Classification.PUBLIC
    approval = approvals.of(session, measure.id, definition)
    return Publication(
        measure_id=measure.id,
        definition_hash=definition,
        classification=classification,
        needs_approval=needs,
        approved_by=approval.approved_by if approval else None,
        approved_at=approval.approved_at if approval else None,
        publishable=not needs or approval is not None,
    )


def get(ctx: Context, actor: Actor, measure_id: str) -> Publication:
    """A measure's publication state, for those who may approve it."""
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        measure = _measure(plan, measure_id)
    _require_approver(ctx, actor, plan, measure)
    with ctx.db.session() as session:
        return state(session, plan, measure)


def awaiting(ctx: Context, actor: Actor) -> list[Publication]:
    """Every measure whose publication needs an approval the actor may give, approved or
    not, by id; PermissionDenied for someone who may approve none."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        if plan is None:
            require(actor, MEASURE_APPROVE, Resource("measure", "*"))
            return []
        out = []
        for measure in sorted(plan.measures.values(), key=lambda m: m.id):
            resource = Resource("measure", measure.id, plan.owner(measure))
            if not allowed(actor, MEASURE_APPROVE, resource):
                continue
            found = state(session, plan, measure)
            if found.needs_approval:
                out.append(found)
    if not out:
        require(actor, MEASURE_APPROVE, Resource("measure", "*"))
    return out


def approve(ctx: Context, actor: Actor, measure_id: str, *, note: str = "") -> Publication:
    """Approve the measure's current definition for publication (a policy change, audited);
    approving one already approved changes nothing."""
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        measure = _measure(plan, measure_id)
    _require_approver(ctx, actor, plan, measure)
    with ctx.db.write() as session:
        current = state(session, plan, measure)
        if current.approved_by is not None:
            return current
        approvals.add(
            session,
            measure.id,
            current.definition_hash,
            approved_by=str(actor),
            approved_at=ctx.clock(),
            note=note.strip()[:2000],
        )
        audit.record(
            session,
            actor,
            Event.POLICY_CHANGE,
            "measure",
            measure.id,
            change="approve-for-publication",
            definition_hash=current.definition_hash,
            classification=str(current.classification),
            datasets=sorted(datasets_behind(plan, measure)),
            note=note.strip()[:2000],
        )
        session.flush()
        return state(session, plan, measure).model_copy(update={"newly_approved": True})


def _measure(plan: AppliedPlan, measure_id: str) -> Measure:
    measure = plan.measures.get(measure_id)
    if measure is None:
        raise NotFound.of("measure", measure_id)
    return measure


def _require_approver(ctx: Context, actor: Actor, plan: AppliedPlan, measure: Measure) -> None:
    resource = Resource("measure", measure.id, plan.owner(measure))
    require_recorded(ctx, actor, MEASURE_APPROVE, resource, Event.POLICY_CHANGE)
