"""Performance agreements: a department head's commitments for the plan's period.

A draft is taken from the applied plan (the objectives the department owns, with their
targets). Signing, by the head of that department alone, records who, when and the SHA-256
of the content's canonical JSON; a signed version is locked, and an amendment is a new
version with its own signature. Quarterly review notes are appended to the signed version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.audit import Event
from civicstat.governance.permissions import (
    AGREEMENT_DRAFT,
    AGREEMENT_READ,
    AGREEMENT_REVIEW,
    AGREEMENT_SIGN,
    Resource,
    allowed,
    require,
)
from civicstat.metadata import accountability
from civicstat.metadata.models import AgreementReview, PerformanceAgreement
from civicstat.plan import AppliedPlan
from civicstat.services.audit import require_recorded
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound
from civicstat.spec.workspace import canonical_json

MAX_TEXT = 4000
QUARTERS = ("Q1", "Q2", "Q3", "Q4")


class Commitment(BaseModel):
    objective: str
    title: str
    measure: str
    target: dict[str, Any]


class ReviewView(BaseModel):
    id: int
    quarter: str
    text: str
    author: str
    at: dt.datetime


class AgreementVersion(BaseModel):
    id: int
    version: int
    period: str
    statement: str
    commitments: list[Commitment]
    drafted_by: str
    drafted_at: dt.datetime
    signed_by: str | None
    signed_at: dt.datetime | None
    content_hash: str | None
    hash_matches: bool | None  # None while unsigned
    reviews: list[ReviewView]

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


class AgreementView(BaseModel):
    department: str
    department_title: str
    period: str
    versions: list[AgreementVersion]  # newest first
    may_draft: bool
    may_sign: bool
    may_review: bool

    @property
    def current(self) -> AgreementVersion | None:
        return self.versions[0] if self.versions else None


def content_hash(content: dict[str, Any]) -> str:
    """The SHA-256 of the content's canonical JSON: what a signature vouches for."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def period_of(plan: AppliedPlan) -> str:
    return f"{plan.period.start.isoformat()}/{plan.period.end.isoformat()}"


def get(ctx: Context, actor: Actor, department_id: str) -> AgreementView:
    """Every version of the department's agreement for the plan's period, newest first."""
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        resource = _department(plan, department_id)
        require(actor, AGREEMENT_READ, resource)
        period = period_of(plan)
        rows = accountability.agreement_versions(session, department_id, period)
        reviews = accountability.reviews(session, [r.id for r in rows])
    by_agreement: dict[int, list[ReviewView]] = {}
    for r in reviews:
        by_agreement.setdefault(r.agreement_id, []).append(
            ReviewView(id=r.id, quarter=r.quarter, text=r.text, author=r.author, at=r.at)
        )
    return AgreementView(
        department=department_id,
        department_title=plan.departments[department_id].title,
        period=period,
        versions=[_view(row, by_agreement.get(row.id, [])) for row in rows],
        may_draft=allowed(actor, AGREEMENT_DRAFT, resource),
        may_sign=allowed(actor, AGREEMENT_SIGN, resource),
        may_review=allowed(actor, AGREEMENT_REVIEW, resource),
    )


def draft(ctx: Context, actor: Actor, department_id: str, statement: str = "") -> int:
    """Start (or refresh) the unsigned version from the plan; refused once signed."""
    statement = _text(statement, "a statement", required=False)
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    resource = _department(plan, department_id)
    require_recorded(ctx, actor, AGREEMENT_DRAFT, resource, Event.AGREEMENT_DRAFT)
    period = period_of(plan)
    with ctx.db.write() as session:
        rows = accountability.agreement_versions(session, department_id, period)
        content = _content(plan, department_id, statement)
        if rows and rows[0].signed_at is not None:
            raise InvalidInput(
                f"version {rows[0].version} is signed and locked: amend it for a new version"
            )
        if rows:
            row = rows[0]
            row.content = content
            row.drafted_by = str(actor)
            row.drafted_at = ctx.clock()
        else:
            row = PerformanceAgreement(
                department=department_id,
                period=period,
                version=1,
                content=content,
                drafted_by=str(actor),
                drafted_at=ctx.clock(),
            )
            session.add(row)
        return _drafted(session, actor, row)


def amend(ctx: Context, actor: Actor, department_id: str, statement: str = "") -> int:
    """A new unsigned version after the signed one, which stays as it was."""
    statement = _text(statement, "a statement", required=False)
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    resource = _department(plan, department_id)
    require_recorded(ctx, actor, AGREEMENT_DRAFT, resource, Event.AGREEMENT_DRAFT)
    period = period_of(plan)
    with ctx.db.write() as session:
        rows = accountability.agreement_versions(session, department_id, period)
        if not rows or rows[0].signed_at is None:
            raise InvalidInput("only a signed agreement is amended; edit the draft instead")
        row = PerformanceAgreement(
            department=department_id,
            period=period,
            version=rows[0].version + 1,
            previous_id=rows[0].id,
            content=_content(plan, department_id, statement),
            drafted_by=str(actor),
            drafted_at=ctx.clock(),
        )
        session.add(row)
        return _drafted(session, actor, row, amends=rows[0].version)


def _drafted(session: Session, actor: Actor, row: PerformanceAgreement, **detail: Any) -> int:
    """Audit a drafted version (new or edited) in its transaction; returns its id."""
    session.flush()
    audit.record(
        session,
        actor,
        Event.AGREEMENT_DRAFT,
        "department",
        row.department,
        version=row.version,
        period=row.period,
        **detail,
    )
    return row.id


def sign(ctx: Context, actor: Actor, department_id: str, version: int) -> str:
    """Sign the named draft version (the one the head read); returns the content hash."""
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    resource = _department(plan, department_id)
    require_recorded(ctx, actor, AGREEMENT_SIGN, resource, Event.AGREEMENT_SIGN)
    with ctx.db.write() as session:
        rows = accountability.agreement_versions(session, department_id, period_of(plan))
        if not rows:
            raise InvalidInput("there is no draft to sign")
        row = rows[0]
        if row.version != version:
            raise InvalidInput(f"version {version} is not the latest (version {row.version})")
        if row.signed_at is not None:
            raise InvalidInput(f"version {row.version} is already signed")
        row.content_hash = content_hash(row.content)
        row.signed_by = str(actor)
        row.signed_at = ctx.clock()
        audit.record(
            session,
            actor,
            Event.AGREEMENT_SIGN,
            "department",
            department_id,
            version=row.version,
            content_hash=row.content_hash,
        )
        return row.content_hash


def add_review(ctx: Context, actor: Actor, department_id: str, quarter: str, text: str) -> int:
    """Append a quarterly review note to the latest signed version."""
    if quarter not in QUARTERS:
        raise InvalidInput(f"a quarter is one of {', '.join(QUARTERS)}")
    text = _text(text, "a review note")
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
    resource = _department(plan, department_id)
    require_recorded(ctx, actor, AGREEMENT_REVIEW, resource, Event.AGREEMENT_REVIEW)
    with ctx.db.write() as session:
        versions = accountability.agreement_versions(session, department_id, period_of(plan))
        signed = [r for r in versions if r.signed_at]
        if not signed:
            raise InvalidInput("a review is of a signed agreement: none is signed yet")
        note = AgreementReview(
            agreement_id=signed[0].id,
            quarter=quarter,
            text=text,
            author=str(actor),
            at=ctx.clock(),
        )
        session.add(note)
        session.flush()
        audit.record(
            session,
            actor,
            Event.AGREEMENT_REVIEW,
            "department",
            department_id,
            version=signed[0].version,
            quarter=quarter,
        )
        return note.id


def _department(plan: AppliedPlan, department_id: str) -> Resource:
    if department_id not in plan.departments:
        raise NotFound.of("department", department_id)
    return Resource("department", department_id, department=department_id)


def _content(plan: AppliedPlan, department_id: str, statement: str) -> dict[str, Any]:
    commitments = [
        Commitment(
            objective=o.id,
            title=o.title,
            measure=o.measure,
            target=o.target.model_dump(mode="json", exclude_none=True),
        ).model_dump()
        for _, o in plan.objectives()
        if o.department == department_id
    ]
    return {
        "department": department_id,
        "period": {"start": plan.period.start.isoformat(), "end": plan.period.end.isoformat()},
        "plan_revision": plan.revision_id,
        "statement": statement,
        "commitments": commitments,
    }


def _view(row: PerformanceAgreement, reviews: list[ReviewView]) -> AgreementVersion:
    content = row.content
    return AgreementVersion(
        id=row.id,
        version=row.version,
        period=row.period,
        statement=content.get("statement", ""),
        commitments=[Commitment.model_validate(c) for c in content.get("commitments", [])],
        drafted_by=row.drafted_by,
        drafted_at=row.drafted_at,
        signed_by=row.signed_by,
        signed_at=row.signed_at,
        content_hash=row.content_hash,
        hash_matches=None
        if row.content_hash is None
        else content_hash(content) == row.content_hash,
        reviews=reviews,
    )


def _text(value: str, what: str, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{what} is required")
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} is at most {MAX_TEXT} characters")
    return value
