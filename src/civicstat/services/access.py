"""Access to a dataset beyond a role: sharing agreements and time-limited access requests.

An analyst asks for a dataset with a reason; the steward of the department that owns it
(or an admin) approves it for a number of days, or denies it. Agreements in
governance.yaml give their department parties' members access between their start and
expiry dates. Both become grants on the actor (``Actor.grants``), worked out afresh on
every request by ``with_grants`` with the context's clock, so access ends the moment a
grant expires; ``permissions.allowed`` is where a grant counts. Every step is audited.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.audit import Event
from civicstat.governance.permissions import (
    ACCESS_DECIDE,
    ACCESS_REQUEST,
    DATASET_READ,
    USER_MANAGE,
    Resource,
    allowed,
    require,
    token_scope,
)
from civicstat.metadata import access_requests, accounts
from civicstat.metadata.models import AccessRequest
from civicstat.plan import AppliedPlan
from civicstat.services.accounts.users import actor_of
from civicstat.services.audit import require_recorded
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound, PermissionDenied
from civicstat.spec.models import Agreement

PENDING = "pending"
APPROVED = "approved"
DENIED = "denied"
MAX_DAYS = 365
MAX_REASON = 2000


class AccessRequestView(BaseModel):
    id: int
    dataset_id: str
    requested_by: str
    reason: str
    days: int
    status: str  # pending, approved, denied
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str
    expires_at: dt.datetime | None
    in_force: bool  # approved and not yet expired


class SharingAgreementView(BaseModel):
    """A data sharing agreement as a governance page lists it, with whether it gives access
    today (in the workspace's time zone)."""

    id: str
    title: str
    parties: list[str]
    datasets: list[str]
    purpose: str
    legal_basis: str
    start: dt.date
    expires: dt.date
    approver: str
    in_force: bool


def request(
    ctx: Context,
    actor: Actor,
    dataset_id: str,
    *,
    reason: str,
    days: int = 30,
    for_user: str | None = None,
) -> AccessRequestView:
    """Ask for ``days`` of read access to a dataset. An admin (the operator at the CLI)
    files it for another user with ``for_user``; anyone else asks for themselves."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("say why the data is needed: a reason is required")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason is at most {MAX_REASON} characters")
    _check_days(days)
    if for_user is not None:
        require(actor, USER_MANAGE, Resource("user", for_user.strip().lower()))
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        requester = actor if for_user is None else _user_actor(session, for_user)
    if requester.kind != "user":
        raise InvalidInput("access is asked for a user: name one (--user at the CLI)")
    resource = dataset_resource(plan, dataset_id)
    if resource is None:
        raise NotFound.of("dataset", dataset_id)
    require_recorded(ctx, requester, ACCESS_REQUEST, resource, Event.ACCESS_REQUEST)
    if allowed(requester, DATASET_READ, resource):
        raise InvalidInput(f"{requester.name} may already read dataset {dataset_id!r}")
    with ctx.db.write() as session:
        row = AccessRequest(
            dataset_id=dataset_id,
            requested_by=requester.name,
            reason=reason,
            days=days,
            status=PENDING,
            requested_at=ctx.clock(),
            decision_note="",
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            Event.ACCESS_REQUEST,
            "access-request",
            str(row.id),
            dataset=dataset_id,
            requested_by=requester.name,
            days=days,
            reason=reason,
        )
        return _view(row, ctx.clock())


def approve(
    ctx: Context, actor: Actor, request_id: int, *, days: int | None = None, note: str = ""
) -> AccessRequestView:
    """Grant a pending request from now for its days (or ``days``): the dataset's steward
    or an admin, never the person who asked."""
    if days is not None:
        _check_days(days)
    return _decide(ctx, actor, request_id, Event.ACCESS_APPROVE, days=days, note=note)


def deny(ctx: Context, actor: Actor, request_id: int, *, note: str = "") -> AccessRequestView:
    return _decide(ctx, actor, request_id, Event.ACCESS_DENY, days=None, note=note)


def list_requests(
    ctx: Context, actor: Actor, *, status: str | None = None
) -> list[AccessRequestView]:
    """The requests the actor made and those they may decide, newest first."""
    if actor.role is None:
        raise PermissionDenied(actor, ACCESS_REQUEST, Resource("dataset", "*"))
    if status is not None and status not in (PENDING, APPROVED, DENIED):
        raise InvalidInput(f"a status is {PENDING}, {APPROVED} or {DENIED}")
    now = ctx.clock()
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        rows = access_requests.requests(session, status=status)
    out = []
    for row in rows:
        resource = dataset_resource(plan, row.dataset_id) or Resource("dataset", row.dataset_id)
        mine = actor.kind == "user" and row.requested_by == actor.name
        if mine or allowed(actor, ACCESS_DECIDE, resource):
            out.append(_view(row, now))
    return out


def sharing_agreements(ctx: Context, actor: Actor) -> list[SharingAgreementView]:
    """The sharing agreements covering a dataset whose access requests the actor may decide
    (an admin: all of them), by id."""
    if actor.role is None:
        raise PermissionDenied(actor, ACCESS_DECIDE, Resource("dataset", "*"))
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
    if plan is None:
        return []
    today = local_day(plan, ctx.clock())
    out = []
    for agreement in sorted(plan.agreements.values(), key=lambda a: a.id):
        resources = [
            dataset_resource(plan, d) or Resource("dataset", d) for d in agreement.datasets
        ]
        if any(allowed(actor, ACCESS_DECIDE, r) for r in resources):
            out.append(agreement_view(agreement, today))
    return out


def agreement_view(agreement: Agreement, today: dt.date) -> SharingAgreementView:
    return SharingAgreementView(
        id=agreement.id,
        title=agreement.title,
        parties=[p.label for p in agreement.parties],
        datasets=list(agreement.datasets),
        purpose=agreement.purpose,
        legal_basis=agreement.legal_basis,
        start=agreement.start,
        expires=agreement.expires,
        approver=agreement.approver,
        in_force=agreement.active_on(today),
    )


def with_grants(ctx: Context, actor: Actor, *, now: dt.datetime | None = None) -> Actor:
    """The actor with the grants in force for them now (a user's only; others unchanged)."""
    if actor.kind != "user":
        return actor
    now = now or ctx.clock()
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        if plan is None:
            return actor
        found = grants_of(session, plan, actor.name, actor.department, now)
    return dataclasses.replace(actor, grants=found)


def grants_of(
    session: Session, plan: AppliedPlan, username: str, department: str | None, now: dt.datetime
) -> frozenset[str]:
    """What agreements and approved requests in force at ``now`` let this user read."""
    datasets = {
        dataset
        for agreement in agreements_in_force(plan, now)
        if department is not None and _is_party(plan, agreement, department)
        for dataset in agreement.datasets
    }
    datasets |= access_requests.granted_datasets(session, username, APPROVED, now)
    return frozenset(token_scope(DATASET_READ, d) for d in sorted(datasets))


def agreements_in_force(plan: AppliedPlan, now: dt.datetime) -> list[Agreement]:
    """Agreements whose start and expiry dates, in the workspace's time zone, include now."""
    today = local_day(plan, now)
    return [a for a in plan.agreements.values() if a.active_on(today)]


def local_day(plan: AppliedPlan, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(plan.settings.timezone)).date()


def dataset_resource(plan: AppliedPlan, dataset_id: str) -> Resource | None:
    """A dataset as a permission resource (owner and classification), None if unknown."""
    source = plan.source_for_dataset(dataset_id)
    if source is None:
        return None
    return Resource("dataset", dataset_id, source.owner, source.classification)


def _is_party(plan: AppliedPlan, agreement: Agreement, department: str) -> bool:
    """Whether a member of ``department`` is one of the agreement's parties: a party
    department covers its sub-departments too."""
    parties = {p.department for p in agreement.parties if p.department is not None}
    seen: set[str] = set()
    current: str | None = department
    while current is not None and current not in seen:
        if current in parties:
            return True
        seen.add(current)
        found = plan.departments.get(current)
        current = found.parent if found is not None else None
    return False


def _decide(
    ctx: Context, actor: Actor, request_id: int, event: Event, *, days: int | None, note: str
) -> AccessRequestView:
    note = note.strip()[:MAX_REASON]
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        row = access_requests.request(session, request_id)
        if row is None:
            raise NotFound.of("access request", str(request_id))
        dataset_id, requester, status = row.dataset_id, row.requested_by, row.status
    resource = dataset_resource(plan, dataset_id) or Resource("dataset", dataset_id)
    try:
        require_recorded(ctx, actor, ACCESS_DECIDE, resource, event)
    except PermissionDenied:
        raise NotFound.of("access request", str(request_id)) from None
    if actor.kind == "user" and actor.name == requester:
        raise InvalidInput("a request is decided by someone other than the person who asked")
    if status != PENDING:
        raise InvalidInput(f"access request {request_id} is already {status}")
    now = ctx.clock()
    with ctx.db.write() as session:
        found = access_requests.request(session, request_id, for_update=True)
        assert found is not None
        if found.status != PENDING:  # decided meanwhile by someone else
            raise InvalidInput(f"access request {request_id} is already {found.status}")
        found.decided_by = str(actor)
        found.decided_at = now
        found.decision_note = note
        detail: dict[str, Any] = {"dataset": dataset_id, "requested_by": requester}
        if event is Event.ACCESS_APPROVE:
            found.status = APPROVED
            found.days = days or found.days
            found.expires_at = now + dt.timedelta(days=found.days)
            detail |= {"days": found.days, "expires_at": found.expires_at.isoformat()}
        else:
            found.status = DENIED
        if note:
            detail["note"] = note
        audit.record(session, actor, event, "access-request", str(request_id), **detail)
        return _view(found, now)


def _user_actor(session: Session, username: str) -> Actor:
    name = username.strip().lower()
    user = accounts.user_by_name(session, name)
    if user is None or not user.is_active:
        raise NotFound.of("user", name)
    return actor_of(user)


def _check_days(days: int) -> None:
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"access is granted for 1 to {MAX_DAYS} days")


def _view(row: AccessRequest, now: dt.datetime) -> AccessRequestView:
    in_force = row.status == APPROVED and row.expires_at is not None and row.expires_at > now
    return AccessRequestView(
        id=row.id,
        dataset_id=row.dataset_id,
        requested_by=row.requested_by,
        reason=row.reason,
        days=row.days,
        status=row.status,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
        expires_at=row.expires_at,
        in_force=in_force,
    )
