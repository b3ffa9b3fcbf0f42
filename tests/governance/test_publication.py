"""What the public sees of a measure: only published ones, always suppressed; a measure
over data that is not public only once its definition is approved, and again after every
change of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from governance_helpers import PASSWORD
from sqlalchemy import select

from civicstat.governance.actors import Actor, Role
from civicstat.governance.suppression import Cell, dimension_of, suppress
from civicstat.metadata import observations
from civicstat.metadata.models import AuditEvent
from civicstat.services import ingest, public, publication, workspace
from civicstat.services.accounts import sign_in, users
from civicstat.services.context import Context
from civicstat.services.errors import NotFound, PermissionDenied

MEASURE = "requests-received"  # a count of 311 requests by month and district
K = 11


@pytest.fixture
def computed(example_ctx: Context, admin: Actor) -> Context:
    """The example's 311 requests ingested and every measure computed."""
    ingest.ingest(example_ctx, admin, "service_requests")
    return example_ctx


def _reclassify(ctx: Context, root: Path, admin: Actor, classification: str) -> None:
    source = root / "sources" / "service_requests.yaml"
    text = source.read_text(encoding="utf-8")
    source.write_text(
        text.replace("\nclassification: public\n", f"\nclassification: {classification}\n"),
        encoding="utf-8",
    )
    assert workspace.apply(ctx, admin).revision is not None


def test_no_published_count_is_below_k(computed: Context) -> None:
    series = public.public_series(computed, MEASURE)

    assert series.k == K
    shown = [p for p in series.points if not p.suppressed]
    hidden = [p for p in series.points if p.suppressed]
    assert shown, "the example has large district-months"
    assert hidden, "and small ones"
    assert all(p.n is not None and p.n >= K for p in shown)
    assert all(p.value is None and p.n is None and p.numerator is None for p in hidden)


def test_no_hidden_district_is_the_total_minus_the_shown_ones(computed: Context) -> None:
    series = public.public_series(computed, MEASURE)
    with computed.db.session() as session:
        actual = {
            (o.period_start, o.slice_key): o.n
            for o in observations.current_observations(session, MEASURE)
        }

    months = {p.period_start for p in series.points}
    for month in months:
        points = [p for p in series.points if p.period_start == month]
        total = next(p for p in points if p.slice == "")
        districts = [p for p in points if dimension_of(p.slice) == "district"]
        hidden = [p for p in districts if p.suppressed]
        if total.suppressed or not hidden:
            continue
        assert len(hidden) >= 2
        residual = (total.n or 0) - sum(p.n or 0 for p in districts if not p.suppressed)
        assert residual >= K
        assert all(actual[(month, p.slice)] != residual for p in hidden)


# Measures whose cells carry a numerator and a denominator besides the count n: a share
# (by district, and filtered to potholes) and a ratio of two measures.
WITH_PARTS = ("pct-requests-closed-on-time", "pct-potholes-repaired-on-time",
              "pothole-share-of-requests")  # fmt: skip
WHERE = {"period_start", "period_end", "slice", "suppressed"}  # says which cell, not what


@pytest.mark.parametrize("measure_id", [MEASURE, *WITH_PARTS])
def test_a_hidden_cell_publishes_no_number_and_a_shown_one_publishes_its_own(
    computed: Context, measure_id: str
) -> None:
    """Every field of a published point but where it sits is withheld when the cell is
    hidden (value, numerator, denominator, n and any added later); a shown cell is the
    stored observation exactly."""
    series = public.public_series(computed, measure_id)
    with computed.db.session() as session:
        stored = {
            (o.period_start, o.slice_key): o
            for o in observations.current_observations(session, measure_id)
        }

    hidden = [p for p in series.points if p.suppressed]
    shown = [p for p in series.points if not p.suppressed]
    assert hidden, "the example has small cells"
    assert shown, "and large ones"
    assert {"value", "numerator", "denominator", "n"} <= set(hidden[0].model_dump()) - WHERE
    for point in hidden:
        withheld = {k: v for k, v in point.model_dump().items() if k not in WHERE}
        assert withheld == dict.fromkeys(withheld), point
    for point in shown:
        o = stored[(point.period_start, point.slice)]
        published = (point.value, point.numerator, point.denominator, point.n)
        assert published == (o.value, o.numerator, o.denominator, o.n)
        assert point.period_end == o.period_end
    assert len(series.points) == len(stored)
    if measure_id in WITH_PARTS:  # there was something to withhold
        parts = [stored[(p.period_start, p.slice)] for p in hidden]
        assert all(o.numerator is not None and o.denominator is not None for o in parts)


def test_public_series_matches_the_suppression_function(computed: Context) -> None:
    series = public.public_series(computed, MEASURE)
    with computed.db.session() as session:
        cells = [
            Cell(o.period_start, dimension_of(o.slice_key), o.slice_key, o.n)
            for o in observations.current_observations(session, MEASURE)
        ]
    expected = {(c.period, c.slice) for c in suppress(cells, K)}
    assert {(p.period_start, p.slice) for p in series.points if p.suppressed} == expected


def test_a_measure_over_confidential_data_is_published_only_once_approved(
    computed: Context, example_root: Path, admin: Actor
) -> None:
    _reclassify(computed, example_root, admin, "confidential")

    with pytest.raises(NotFound, match="no measure 'requests-received'"):
        public.public_series(computed, MEASURE)

    approved = publication.approve(computed, admin, MEASURE, note="Board, 2 March")

    assert approved.newly_approved
    assert approved.publishable
    assert public.public_series(computed, MEASURE).points
    with computed.db.session() as session:
        [event] = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "policy:change", AuditEvent.object_kind == "measure"
            )
        )
    assert event.detail["change"] == "approve-for-publication"
    assert event.detail["definition_hash"] == approved.definition_hash
    assert publication.approve(computed, admin, MEASURE).newly_approved is False


def test_a_changed_definition_needs_a_new_approval(
    computed: Context, example_root: Path, admin: Actor
) -> None:
    _reclassify(computed, example_root, admin, "restricted")
    publication.approve(computed, admin, MEASURE)
    measure = example_root / "measures" / f"{MEASURE}.yaml"
    text = measure.read_text(encoding="utf-8")
    measure.write_text(
        text.replace("breakdowns: [district]", "breakdowns: [request_type]"), "utf-8"
    )
    workspace.apply(computed, admin)

    with pytest.raises(NotFound):
        public.public_series(computed, MEASURE)
    assert publication.approve(computed, admin, MEASURE).newly_approved


def test_a_measure_over_public_data_needs_no_approval(computed: Context) -> None:
    with computed.db.session() as session:
        plan = computed.require_plan(session)
        state = publication.state(session, plan, plan.measures[MEASURE])

    assert not state.needs_approval
    assert state.publishable


@pytest.mark.parametrize("role", [Role.STEWARD, Role.DEPARTMENT_HEAD, Role.ANALYST])
def test_only_an_admin_approves_a_measure(
    computed: Context, example_root: Path, admin: Actor, role: Role
) -> None:
    _reclassify(computed, example_root, admin, "confidential")
    users.add_user(
        computed, admin, username="someone", password=PASSWORD, role=role,
        department="customer-service",
    )  # fmt: skip
    actor = sign_in.authenticate(computed, "someone", PASSWORD)
    assert actor is not None

    with pytest.raises(PermissionDenied):
        publication.approve(computed, actor, MEASURE)
    with pytest.raises(NotFound):
        public.public_series(computed, MEASURE)


def test_an_unknown_measure_is_not_found(computed: Context) -> None:
    with pytest.raises(NotFound):
        public.public_series(computed, "no-such-measure")
