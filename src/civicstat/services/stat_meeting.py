"""The stat meeting: an agenda generated from the plan's statuses, and a record of each
meeting held, so the next agenda can say what is new and how last time's actions went."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from civicstat.domain.targets import Status
from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.audit import Event
from civicstat.governance.permissions import (
    MEETING_READ,
    MEETING_RUN,
    Resource,
    allowed,
    require,
)
from civicstat.metadata import accountability
from civicstat.metadata.models import StatMeeting
from civicstat.services import actions as actions_service
from civicstat.services import plan as plan_service
from civicstat.services.audit import require_recorded
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput

_MEETINGS = Resource("meeting", "stat")
OPEN = ("open", "in_progress")
MAX_TEXT = 10_000


class AgendaItem(BaseModel):
    objective: plan_service.ObjectiveView
    goal_title: str
    reason: str  # off_target or stale
    new: bool  # not on the last meeting's agenda with this status
    open_actions: int


class FollowUp(BaseModel):
    action: actions_service.ActionView
    status_then: str | None  # None: added since the last meeting


class MeetingView(BaseModel):
    id: int
    held_on: dt.date
    attendees: str
    notes: str
    recorded_by: str
    recorded_at: dt.datetime


class Agenda(BaseModel):
    last_meeting: MeetingView | None
    items: list[AgendaItem]
    follow_up: list[FollowUp]
    meetings: list[MeetingView]  # newest first
    may_run: bool


def agenda(ctx: Context, actor: Actor) -> Agenda:
    """Off-track and stale objectives now, marked new since the last meeting, and the
    action items open at that meeting or added since, with their status then and now."""
    require(actor, MEETING_READ, _MEETINGS)
    view = plan_service.get_plan(ctx, actor)
    with ctx.db.session() as session:
        rows = accountability.meetings(session)
    last = rows[0] if rows else None
    then_objectives = last.objectives if last is not None else {}
    every_action = actions_service.actions_of(ctx)
    items = []
    for goal in view.goals:
        for objective in goal.objectives:
            reason = _reason(objective)
            if reason is None:
                continue
            items.append(
                AgendaItem(
                    objective=objective,
                    goal_title=goal.title,
                    reason=reason,
                    new=then_objectives.get(objective.id) != reason,
                    open_actions=sum(
                        1 for a in every_action if a.objective == objective.id and a.status in OPEN
                    ),
                )
            )
    follow_up = []
    if last is not None:
        then_actions = last.actions
        for action in reversed(every_action):  # oldest first
            if str(action.id) in then_actions:
                follow_up.append(FollowUp(action=action, status_then=then_actions[str(action.id)]))
            elif action.created_at > last.recorded_at:
                follow_up.append(FollowUp(action=action, status_then=None))
    return Agenda(
        last_meeting=_view(last) if last is not None else None,
        items=items,
        follow_up=follow_up,
        meetings=[_view(r) for r in rows],
        may_run=allowed(actor, MEETING_RUN, _MEETINGS),
    )


def record(ctx: Context, actor: Actor, held_on: dt.date, attendees: str, notes: str) -> int:
    """Record a meeting with the agenda as it stands: the next agenda starts from here."""
    attendees, notes = attendees.strip(), notes.strip()
    if not attendees:
        raise InvalidInput("attendees are required")
    if len(attendees) > MAX_TEXT or len(notes) > MAX_TEXT:
        raise InvalidInput(f"attendees and notes are at most {MAX_TEXT} characters each")
    require_recorded(ctx, actor, MEETING_RUN, _MEETINGS, Event.MEETING_RECORD)
    now = agenda(ctx, actor)
    open_actions = {
        str(a.id): a.status for a in actions_service.actions_of(ctx) if a.status in OPEN
    }
    with ctx.db.write() as session:
        row = StatMeeting(
            held_on=held_on,
            attendees=attendees,
            notes=notes,
            objectives={i.objective.id: i.reason for i in now.items},
            actions=open_actions,
            recorded_by=str(actor),
            recorded_at=ctx.clock(),
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            Event.MEETING_RECORD,
            "meeting",
            str(row.id),
            held_on=held_on.isoformat(),
            objectives=len(now.items),
        )
        return row.id


def _reason(objective: plan_service.ObjectiveView) -> str | None:
    if objective.stale or objective.status is Status.STALE:
        return Status.STALE.value
    if objective.status is Status.OFF_TARGET:
        return Status.OFF_TARGET.value
    return None


def _view(row: StatMeeting) -> MeetingView:
    return MeetingView(
        id=row.id,
        held_on=row.held_on,
        attendees=row.attendees,
        notes=row.notes,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )
