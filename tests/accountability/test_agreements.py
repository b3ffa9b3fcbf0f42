"""Performance agreements: drafted from the plan, signed by the department's head alone,
locked once signed, amended as new versions, reviewed quarterly."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata.models import AuditEvent, PerformanceAgreement
from civicstat.services import agreements
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, PermissionDenied
from civicstat.spec.workspace import canonical_json

DEPT = "customer-service"


def test_a_draft_holds_the_objectives_the_department_owns_with_their_targets(
    example_ctx: Context, head: Actor
) -> None:
    agreements.draft(example_ctx, head, DEPT, statement="We commit to these.")

    current = agreements.get(example_ctx, head, DEPT).current
    assert current is not None
    assert [c.objective for c in current.commitments] == [
        "close-requests-on-time",
        "close-requests-fast",
    ]
    assert current.commitments[0].target["value"] == 85
    assert current.statement == "We commit to these."
    assert not current.signed


def test_signing_records_who_when_and_the_hash_of_the_content(
    example_ctx: Context, head: Actor
) -> None:
    agreements.draft(example_ctx, head, DEPT)

    digest = agreements.sign(example_ctx, head, DEPT, version=1)

    with example_ctx.db.session() as session:
        row = session.scalars(select(PerformanceAgreement)).one()
        content = row.content
        assert row.signed_by == "user:cs-head"
        assert row.signed_at is not None
        assert row.signed_at.utcoffset() is not None
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "agreement:sign")
        ).one()
    assert digest == hashlib.sha256(canonical_json(content).encode()).hexdigest()
    assert event.detail["content_hash"] == digest
    current = agreements.get(example_ctx, head, DEPT).current
    assert current is not None
    assert current.hash_matches is True


def test_a_signed_agreement_is_locked(example_ctx: Context, head: Actor) -> None:
    agreements.draft(example_ctx, head, DEPT)
    agreements.sign(example_ctx, head, DEPT, version=1)

    with pytest.raises(InvalidInput, match="signed and locked"):
        agreements.draft(example_ctx, head, DEPT, statement="changed my mind")
    with pytest.raises(InvalidInput, match="already signed"):
        agreements.sign(example_ctx, head, DEPT, version=1)


def test_a_tampered_signed_agreement_no_longer_matches_its_hash(
    example_ctx: Context, head: Actor
) -> None:
    agreements.draft(example_ctx, head, DEPT)
    agreements.sign(example_ctx, head, DEPT, version=1)
    with example_ctx.db.write() as session:
        row = session.scalars(select(PerformanceAgreement)).one()
        row.content = {**row.content, "statement": "quietly changed"}

    current = agreements.get(example_ctx, head, DEPT).current
    assert current is not None
    assert current.hash_matches is False


def test_only_the_head_of_the_department_signs(
    example_ctx: Context, head: Actor, other_head: Actor, admin: Actor
) -> None:
    agreements.draft(example_ctx, admin, DEPT)

    for someone in (admin, other_head):
        with pytest.raises(PermissionDenied):
            agreements.sign(example_ctx, someone, DEPT, version=1)
    with pytest.raises(PermissionDenied):
        agreements.draft(example_ctx, other_head, DEPT)
    agreements.sign(example_ctx, head, DEPT, version=1)

    with example_ctx.db.session() as session:
        denied = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "agreement:sign", AuditEvent.outcome == "denied"
            )
        ).all()
    assert [e.actor for e in denied] == ["operator:pytest", "user:pw-head"]


def test_an_amendment_is_a_new_version_and_the_signed_one_is_kept(
    example_ctx: Context, head: Actor
) -> None:
    agreements.draft(example_ctx, head, DEPT, statement="first")
    first_hash = agreements.sign(example_ctx, head, DEPT, version=1)

    agreements.amend(example_ctx, head, DEPT, statement="second")
    with pytest.raises(InvalidInput, match="not the latest"):
        agreements.sign(example_ctx, head, DEPT, version=1)
    second_hash = agreements.sign(example_ctx, head, DEPT, version=2)

    versions = agreements.get(example_ctx, head, DEPT).versions
    assert [(v.version, v.statement, v.content_hash) for v in versions] == [
        (2, "second", second_hash),
        (1, "first", first_hash),
    ]
    with example_ctx.db.session() as session:
        rows = {r.version: r for r in session.scalars(select(PerformanceAgreement))}
    assert rows[2].previous_id == rows[1].id


def test_a_draft_cannot_be_amended(example_ctx: Context, head: Actor) -> None:
    agreements.draft(example_ctx, head, DEPT)

    with pytest.raises(InvalidInput, match="only a signed agreement"):
        agreements.amend(example_ctx, head, DEPT)


def test_quarterly_review_notes_are_appended_to_the_signed_version(
    example_ctx: Context, head: Actor, admin: Actor
) -> None:
    agreements.draft(example_ctx, head, DEPT)
    with pytest.raises(InvalidInput, match="none is signed"):
        agreements.add_review(example_ctx, admin, DEPT, "Q1", "too early")
    agreements.sign(example_ctx, head, DEPT, version=1)

    agreements.add_review(example_ctx, admin, DEPT, "Q1", "On track except closures.")
    agreements.add_review(example_ctx, head, DEPT, "Q2", "Backlog cleared.")

    current = agreements.get(example_ctx, head, DEPT).current
    assert current is not None
    assert [(r.quarter, r.author) for r in current.reviews] == [
        ("Q1", "operator:pytest"),
        ("Q2", "user:cs-head"),
    ]
    with pytest.raises(InvalidInput, match="quarter"):
        agreements.add_review(example_ctx, head, DEPT, "Q5", "no such quarter")
