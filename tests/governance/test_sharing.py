"""Data sharing agreements and access requests: access beyond a role, for a time.

Time is frozen through the context's clock: a grant in force one day is gone the next,
with no sleeping and nothing else changed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from governance_helpers import PASSWORD
from sqlalchemy import select

from civicstat.governance import audit
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent
from civicstat.services import access, datasets, inventory, workspace
from civicstat.services.accounts import sessions, sign_in, users
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound, PermissionDenied

DATASET = "service_requests"
BEFORE_EXPIRY = dt.datetime(2026, 3, 31, 23, 0, tzinfo=dt.UTC)  # the 31st in UTC and locally
AFTER_EXPIRY = dt.datetime(2026, 4, 2, 12, 0, tzinfo=dt.UTC)
BEFORE_START = dt.datetime(2025, 12, 31, 12, 0, tzinfo=dt.UTC)

AGREEMENT = """
agreements:
  - id: works-311
    title: 311 requests for street repair planning
    parties:
      - department: public-works
      - external: County Roads Authority
    datasets: [service_requests]
    purpose: Plan pothole repairs
    legal_basis: Interlocal agreement 2025-14
    start: 2026-01-01
    expires: 2026-03-31
    approver: Dana Ruiz, Chief Data Officer
"""


def _reclassify(root: Path, classification: str) -> None:
    source = root / "sources" / f"{DATASET}.yaml"
    text = source.read_text(encoding="utf-8")
    assert text.count("\nclassification: public\n") == 1
    source.write_text(
        text.replace("\nclassification: public\n", f"\nclassification: {classification}\n"),
        encoding="utf-8",
    )


@pytest.fixture
def shared_ctx(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    """The 311 dataset confidential, shared with public works by an agreement for Q1 2026;
    a sub-department of public works, and analysts in three departments."""
    _reclassify(example_root, "confidential")
    governance = example_root / "governance.yaml"
    streets = "  - id: streets\n    title: Streets Division\n    parent: public-works\n"
    text = governance.read_text(encoding="utf-8").replace(
        "\n# Small counts", f"\n{streets}\n# Small counts"
    )
    governance.write_text(text + AGREEMENT, encoding="utf-8")
    assert workspace.apply(example_ctx, admin).revision is not None
    for name, department in (
        ("wes", "public-works"),
        ("sam", "streets"),
        ("pat", "parks-recreation"),
    ):
        users.add_user(
            example_ctx, admin, username=name, password=PASSWORD, role=Role.ANALYST,
            department=department,
        )  # fmt: skip
    return example_ctx


def _signed_in(ctx: Context, username: str) -> str:
    """A browser session for the user, through the sign-in service; returns its token."""
    actor = sign_in.authenticate(ctx, username, PASSWORD)
    assert actor is not None
    token, _ = sessions.open_session(ctx, actor)
    return token


def _actor_at(ctx: Context, token: str, when: dt.datetime) -> Actor:
    """Who the session's user is on a request at ``when`` (on the context's clock)."""
    ctx.clock = lambda: when
    resumed = sessions.resume_session(ctx, token)
    assert resumed is not None
    return resumed.actor


def _events(ctx: Context, action: str) -> list[AuditEvent]:
    with ctx.db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def test_a_party_member_reads_the_dataset_until_the_agreement_expires(
    shared_ctx: Context,
) -> None:
    token = _signed_in(shared_ctx, "wes")

    during = _actor_at(shared_ctx, token, BEFORE_EXPIRY)
    assert datasets.describe(shared_ctx, during, DATASET).id == DATASET
    assert [e.id for e in inventory.catalog(shared_ctx, during)] == [DATASET]

    after = _actor_at(shared_ctx, token, AFTER_EXPIRY)
    with pytest.raises(PermissionDenied):  # answered as 404 on the web, like a missing one
        datasets.describe(shared_ctx, after, DATASET)
    with pytest.raises(NotFound):
        inventory.entry(shared_ctx, after, DATASET)
    assert inventory.catalog(shared_ctx, after) == []


def test_an_agreement_gives_nothing_before_it_starts(shared_ctx: Context) -> None:
    early = _actor_at(shared_ctx, _signed_in(shared_ctx, "wes"), BEFORE_START)

    with pytest.raises(PermissionDenied):
        datasets.describe(shared_ctx, early, DATASET)


def test_a_party_department_covers_its_sub_departments_only(shared_ctx: Context) -> None:
    streets = _actor_at(shared_ctx, _signed_in(shared_ctx, "sam"), BEFORE_EXPIRY)
    parks = _actor_at(shared_ctx, _signed_in(shared_ctx, "pat"), BEFORE_EXPIRY)

    assert datasets.describe(shared_ctx, streets, DATASET).id == DATASET
    with pytest.raises(PermissionDenied):
        datasets.describe(shared_ctx, parks, DATASET)


def test_the_inventory_lists_the_agreement_with_its_parties(shared_ctx: Context) -> None:
    wes = _actor_at(shared_ctx, _signed_in(shared_ctx, "wes"), BEFORE_EXPIRY)

    [agreement] = inventory.entry(shared_ctx, wes, DATASET).agreements

    assert agreement.parties == ["public-works", "County Roads Authority"]
    assert agreement.in_force
    assert agreement.legal_basis == "Interlocal agreement 2025-14"


def test_agreement_changes_are_audited_on_apply(
    shared_ctx: Context, example_root: Path, admin: Actor
) -> None:
    [added] = _events(shared_ctx, "agreement:change")
    assert (added.object_id, added.detail["change"]) == ("works-311", "added")
    assert added.detail["agreement"]["expires"] == "2026-03-31"

    governance = example_root / "governance.yaml"
    text = governance.read_text(encoding="utf-8")
    governance.write_text(text.replace("expires: 2026-03-31", "expires: 2026-06-30"), "utf-8")
    workspace.apply(shared_ctx, admin)
    governance.write_text(text.replace(AGREEMENT, ""), "utf-8")
    workspace.apply(shared_ctx, admin)

    changes = [(e.object_id, e.detail["change"]) for e in _events(shared_ctx, "agreement:change")]
    assert changes == [("works-311", "added"), ("works-311", "changed"), ("works-311", "retired")]
    with shared_ctx.db.session() as session:
        assert audit.verify(session) is None


def test_a_changed_suppression_threshold_is_audited_as_a_policy_change(
    example_ctx: Context, example_root: Path, admin: Actor
) -> None:
    governance = example_root / "governance.yaml"
    text = governance.read_text(encoding="utf-8")
    governance.write_text(text.replace("  k: 11", "  k: 5"), encoding="utf-8")
    workspace.apply(example_ctx, admin)

    changes = [
        e.detail for e in _events(example_ctx, "policy:change") if e.object_id == "suppression"
    ]
    assert changes[0]["before"] is None  # the first apply sets it
    assert (changes[-1]["before"], changes[-1]["after"]) == ({"k": 11}, {"k": 5})


# --- access requests -----------------------------------------------------------------


@pytest.fixture
def requests_ctx(shared_ctx: Context, admin: Actor) -> Context:
    """Stewards of the owning department (customer-service) and of another one."""
    for name, department in (("sue", "customer-service"), ("otto", "parks-recreation")):
        users.add_user(
            shared_ctx, admin, username=name, password=PASSWORD, role=Role.STEWARD,
            department=department,
        )  # fmt: skip
    return shared_ctx


def test_an_approved_request_lets_the_analyst_read_until_it_expires(
    requests_ctx: Context, admin: Actor
) -> None:
    pat = _signed_in(requests_ctx, "pat")
    start = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
    requests_ctx.clock = lambda: start
    asked = access.request(
        requests_ctx, _actor_at(requests_ctx, pat, start), DATASET, reason="Parks study", days=30
    )
    sue = _actor_at(requests_ctx, _signed_in(requests_ctx, "sue"), start)

    granted = access.approve(requests_ctx, sue, asked.id)

    assert granted.expires_at == start + dt.timedelta(days=30)
    day_29 = _actor_at(requests_ctx, pat, start + dt.timedelta(days=29))
    assert datasets.describe(requests_ctx, day_29, DATASET).id == DATASET
    day_31 = _actor_at(requests_ctx, pat, start + dt.timedelta(days=31))
    with pytest.raises(PermissionDenied):
        datasets.describe(requests_ctx, day_31, DATASET)
    with pytest.raises(NotFound):
        inventory.entry(requests_ctx, day_31, DATASET)
    actions = [e.action for e in _events(requests_ctx, "access:request")]
    actions += [e.action for e in _events(requests_ctx, "access:approve")]
    assert actions == ["access:request", "access:approve"]


def test_only_the_owning_departments_steward_or_an_admin_decides(
    requests_ctx: Context, admin: Actor
) -> None:
    asked = access.request(
        requests_ctx, admin, DATASET, reason="Parks study", days=10, for_user="pat"
    )
    otto = _actor_at(requests_ctx, _signed_in(requests_ctx, "otto"), BEFORE_EXPIRY)
    pat = _actor_at(requests_ctx, _signed_in(requests_ctx, "pat"), BEFORE_EXPIRY)

    with pytest.raises(NotFound):
        access.approve(requests_ctx, otto, asked.id)
    with pytest.raises(NotFound):
        access.approve(requests_ctx, pat, asked.id)  # an analyst decides nothing
    denied = access.deny(requests_ctx, admin, asked.id, note="Use the public extract")

    assert denied.status == access.DENIED
    assert [e.outcome for e in _events(requests_ctx, "access:approve")] == ["denied", "denied"]
    assert [e.outcome for e in _events(requests_ctx, "access:deny")] == ["ok"]
    with pytest.raises(InvalidInput):
        access.approve(requests_ctx, admin, asked.id)  # already decided
    with pytest.raises(PermissionDenied):
        datasets.describe(requests_ctx, pat, DATASET)


def test_no_one_decides_their_own_request(
    requests_ctx: Context, example_root: Path, admin: Actor
) -> None:
    """Restricted data is beyond a steward's clearance, so the owner's steward may ask for
    it; someone else must decide."""
    source = example_root / "sources" / f"{DATASET}.yaml"
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("confidential", "restricted"), encoding="utf-8")
    workspace.apply(requests_ctx, admin)
    sue = _actor_at(requests_ctx, _signed_in(requests_ctx, "sue"), BEFORE_EXPIRY)
    asked = access.request(requests_ctx, sue, DATASET, reason="Cross-check", days=5)

    with pytest.raises(InvalidInput, match="someone other"):
        access.approve(requests_ctx, sue, asked.id)
    assert access.approve(requests_ctx, admin, asked.id).status == access.APPROVED


def test_a_request_needs_a_reason_a_known_dataset_and_a_sensible_length(
    requests_ctx: Context, admin: Actor
) -> None:
    pat = _actor_at(requests_ctx, _signed_in(requests_ctx, "pat"), BEFORE_EXPIRY)

    with pytest.raises(InvalidInput):
        access.request(requests_ctx, pat, DATASET, reason="  ", days=30)
    with pytest.raises(InvalidInput):
        access.request(requests_ctx, pat, DATASET, reason="why", days=400)
    with pytest.raises(NotFound):
        access.request(requests_ctx, pat, "no_such_dataset", reason="why", days=30)
    wes = _actor_at(requests_ctx, _signed_in(requests_ctx, "wes"), BEFORE_EXPIRY)
    with pytest.raises(InvalidInput, match="may already read"):
        access.request(requests_ctx, wes, DATASET, reason="why", days=30)


def test_each_sees_their_own_requests_and_those_they_decide(
    requests_ctx: Context, admin: Actor
) -> None:
    access.request(requests_ctx, admin, DATASET, reason="Parks study", days=10, for_user="pat")
    pat = _actor_at(requests_ctx, _signed_in(requests_ctx, "pat"), BEFORE_EXPIRY)
    sue = _actor_at(requests_ctx, _signed_in(requests_ctx, "sue"), BEFORE_EXPIRY)
    otto = _actor_at(requests_ctx, _signed_in(requests_ctx, "otto"), BEFORE_EXPIRY)

    assert [r.requested_by for r in access.list_requests(requests_ctx, pat)] == ["pat"]
    assert [r.requested_by for r in access.list_requests(requests_ctx, sue)] == ["pat"]
    assert access.list_requests(requests_ctx, otto) == []
    assert len(access.list_requests(requests_ctx, admin, status="pending")) == 1
