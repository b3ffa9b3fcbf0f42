"""Commentary and action items: nothing is edited in place, every change is kept."""

from __future__ import annotations

import datetime as dt

import pytest
from accountability_helpers import person

from civicstat.governance.actors import Actor, Role
from civicstat.services import actions
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, PermissionDenied

OBJECTIVE = "close-requests-on-time"


def test_a_revised_comment_keeps_the_one_it_replaces(ingested_ctx: Context, head: Actor) -> None:
    first = actions.comment(ingested_ctx, head, OBJECTIVE, "Staff shortage in March.")
    actions.comment(ingested_ctx, head, OBJECTIVE, "Staff shortage in March and April.", first)

    comments = actions.get(ingested_ctx, head, OBJECTIVE).comments
    assert [c.text for c in comments] == ["Staff shortage in March and April."]
    assert [c.text for c in comments[0].earlier] == ["Staff shortage in March."]
    assert comments[0].period  # the objective's latest period
    with pytest.raises(InvalidInput, match="already been revised"):
        actions.comment(ingested_ctx, head, OBJECTIVE, "again", first)


def test_every_status_of_an_action_item_is_kept_with_who_and_when(
    ingested_ctx: Context, head: Actor, admin: Actor
) -> None:
    item = actions.add_action(
        ingested_ctx, head, OBJECTIVE, "Hire two call-takers", "cs-head", dt.date(2025, 6, 30)
    )
    actions.set_status(ingested_ctx, head, item, "in_progress", "posting is out")
    actions.set_status(ingested_ctx, admin, item, "done")

    (found,) = actions.get(ingested_ctx, head, OBJECTIVE).actions
    assert found.status == "done"
    assert [(h.status, h.changed_by, h.note) for h in found.history] == [
        ("open", "user:cs-head", ""),
        ("in_progress", "user:cs-head", "posting is out"),
        ("done", "operator:pytest", ""),
    ]
    with pytest.raises(InvalidInput, match="status is one of"):
        actions.set_status(ingested_ctx, head, item, "finished")


def test_an_action_is_owned_by_an_active_user(ingested_ctx: Context, head: Actor) -> None:
    with pytest.raises(InvalidInput, match="no active user"):
        actions.add_action(ingested_ctx, head, OBJECTIVE, "x", "nobody", dt.date(2025, 6, 30))


def test_only_the_owner_department_and_the_performance_office_write(
    ingested_ctx: Context, admin: Actor, other_head: Actor
) -> None:
    analyst = person(ingested_ctx, admin, "analyst", Role.ANALYST, "customer-service")
    for someone in (other_head, analyst):
        with pytest.raises(PermissionDenied):
            actions.comment(ingested_ctx, someone, OBJECTIVE, "not mine to explain")
    assert actions.get(ingested_ctx, analyst, OBJECTIVE).may_write is False
    actions.comment(ingested_ctx, admin, OBJECTIVE, "Please explain by Friday.")
