"""The stat meeting's agenda: what is off track or stale, what is new since last time, and
how last meeting's action items moved."""

from __future__ import annotations

import datetime as dt

from civicstat.governance.actors import Actor
from civicstat.services import actions, stat_meeting
from civicstat.services.context import Context

OFF = "close-requests-on-time"


def test_the_agenda_lists_off_track_objectives_as_new_before_any_meeting(
    ingested_ctx: Context, admin: Actor
) -> None:
    agenda = stat_meeting.agenda(ingested_ctx, admin)

    assert agenda.last_meeting is None
    assert [(i.objective.id, i.reason, i.new) for i in agenda.items] == [(OFF, "off_target", True)]
    assert agenda.follow_up == []


def test_after_a_meeting_the_agenda_follows_up_its_action_items(
    ingested_ctx: Context, admin: Actor, head: Actor
) -> None:
    kept = actions.add_action(ingested_ctx, head, OFF, "Hire", "cs-head", dt.date(2025, 6, 1))
    closed = actions.add_action(ingested_ctx, head, OFF, "Retrain", "cs-head", dt.date(2025, 5, 1))
    stat_meeting.record(ingested_ctx, admin, dt.date(2025, 4, 1), "CM, CS head", "Agreed.")

    actions.set_status(ingested_ctx, head, closed, "done")
    added = actions.add_action(ingested_ctx, head, OFF, "Audit", "cs-head", dt.date(2025, 7, 1))
    agenda = stat_meeting.agenda(ingested_ctx, admin)

    assert agenda.last_meeting is not None
    assert agenda.last_meeting.attendees == "CM, CS head"
    assert [(i.objective.id, i.new, i.open_actions) for i in agenda.items] == [(OFF, False, 2)]
    assert [(f.action.id, f.status_then, f.action.status) for f in agenda.follow_up] == [
        (kept, "open", "open"),
        (closed, "open", "done"),
        (added, None, "open"),
    ]
