"""Commentary and action items on an objective: why it is off track and who does what.

Nothing here is edited in place: a revised comment is a new row replacing the old one,
and every status an action item has had is kept with who set it and when.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.audit import Event
from civicstat.governance.permissions import ACTION_READ, ACTION_WRITE, Resource, allowed, require
from civicstat.metadata import accountability, accounts
from civicstat.metadata.models import ActionItem, ActionItemChange, ObjectiveComment
from civicstat.plan import AppliedPlan
from civicstat.services import plan as plan_service
from civicstat.services.audit import require_recorded
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound

STATUSES = ("open", "in_progress", "done", "dropped")
MAX_TEXT = 4000
MAX_TITLE = 500


class CommentView(BaseModel):
    id: int
    period: str
    text: str
    author: str
    at: dt.datetime
    earlier: list[CommentView]  # the revisions it replaced, newest first


class StatusChange(BaseModel):
    status: str
    note: str
    changed_by: str
    changed_at: dt.datetime


class ActionView(BaseModel):
    id: int
    objective: str
    title: str
    owner: str
    due: dt.date
    status: str
    created_by: str
    created_at: dt.datetime
    history: list[StatusChange]  # oldest first; the first is its creation as "open"


class ObjectiveActions(BaseModel):
    objective: plan_service.ObjectiveView
    goal_id: str
    goal_title: str
    comments: list[CommentView]  # current revisions, newest first
    actions: list[ActionView]
    may_write: bool


def get(ctx: Context, actor: Actor, objective_id: str) -> ObjectiveActions:
    """The objective as the plan shows it, with its commentary and action items."""
    with ctx.db.session() as session:
        applied = ctx.require_plan(session)
    resource = _objective(applied, objective_id)
    require(actor, ACTION_READ, resource)
    view = plan_service.get_plan(ctx, actor)
    goal, objective = next((g, o) for g in view.goals for o in g.objectives if o.id == objective_id)
    with ctx.db.session() as session:
        rows = accountability.comments(session, objective_id)
    return ObjectiveActions(
        objective=objective,
        goal_id=goal.id,
        goal_title=goal.title,
        comments=_threads(rows),
        actions=actions_of(ctx, objective_ids=[objective_id]),
        may_write=allowed(actor, ACTION_WRITE, resource),
    )


def comment(
    ctx: Context, actor: Actor, objective_id: str, text: str, replaces: int | None = None
) -> int:
    """Explain the objective's status for its latest period; ``replaces`` revises a comment."""
    text = _text(text, "a comment", MAX_TEXT)
    with ctx.db.session() as session:
        applied = ctx.require_plan(session)
    resource = _objective(applied, objective_id)
    require_recorded(ctx, actor, ACTION_WRITE, resource, Event.OBJECTIVE_COMMENT)
    period = _current_period(ctx, actor, objective_id)
    with ctx.db.write() as session:
        if replaces is not None:
            old = accountability.comment(session, replaces)
            if old is None or old.objective_id != objective_id:
                raise NotFound.of("comment", str(replaces))
            if accountability.replacement_of(session, replaces) is not None:
                raise InvalidInput("that comment has already been revised: revise the latest")
        row = ObjectiveComment(
            objective_id=objective_id,
            period=period,
            text=text,
            author=str(actor),
            at=ctx.clock(),
            replaces_id=replaces,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            Event.OBJECTIVE_COMMENT,
            "objective",
            objective_id,
            comment=row.id,
            replaces=replaces,
        )
        return row.id


def add_action(
    ctx: Context, actor: Actor, objective_id: str, title: str, owner: str, due: dt.date
) -> int:
    """A new open action item, owned by an active user, due on a date."""
    title = _text(title, "a title", MAX_TITLE)
    owner = owner.strip().lower()
    with ctx.db.session() as session:
        applied = ctx.require_plan(session)
        user = accounts.user_by_name(session, owner)
    resource = _objective(applied, objective_id)
    require_recorded(ctx, actor, ACTION_WRITE, resource, Event.ACTION_ADD)
    if user is None or not user.is_active:
        raise InvalidInput(f"no active user {owner!r} to own the action")
    with ctx.db.write() as session:
        now = ctx.clock()
        row = ActionItem(
            objective_id=objective_id,
            title=title,
            owner=owner,
            due=due,
            status="open",
            created_by=str(actor),
            created_at=now,
        )
        session.add(row)
        session.flush()
        session.add(
            ActionItemChange(
                action_item_id=row.id,
                status="open",
                note="",
                changed_by=str(actor),
                changed_at=now,
            )
        )
        audit.record(
            session,
            actor,
            Event.ACTION_ADD,
            "objective",
            objective_id,
            action_item=row.id,
            owner=owner,
            due=due.isoformat(),
        )
        return row.id


def set_status(ctx: Context, actor: Actor, action_id: int, status: str, note: str = "") -> None:
    """Move an action item to a new status; the change joins its history."""
    if status not in STATUSES:
        raise InvalidInput(f"a status is one of {', '.join(STATUSES)}")
    note = _text(note, "a note", MAX_TEXT, required=False)
    with ctx.db.session() as session:
        applied = ctx.require_plan(session)
        row = accountability.action_item(session, action_id)
        objective_id = row.objective_id if row is not None else None
    if objective_id is None or objective_id not in _objective_ids(applied):
        raise NotFound.of("action item", str(action_id))
    resource = _objective(applied, objective_id)
    require_recorded(ctx, actor, ACTION_WRITE, resource, Event.ACTION_STATUS)
    with ctx.db.write() as session:
        item = accountability.action_item(session, action_id)
        assert item is not None
        if item.status == status:
            raise InvalidInput(f"the action is already {status}")
        previous = item.status
        item.status = status
        session.add(
            ActionItemChange(
                action_item_id=action_id,
                status=status,
                note=note,
                changed_by=str(actor),
                changed_at=ctx.clock(),
            )
        )
        audit.record(
            session,
            actor,
            Event.ACTION_STATUS,
            "objective",
            objective_id,
            action_item=action_id,
            previous=previous,
            status=status,
        )


def actions_of(
    ctx: Context, *, objective_ids: list[str] | None = None, ids: list[int] | None = None
) -> list[ActionView]:
    """Action items with their history, newest first; callers check permission first."""
    with ctx.db.session() as session:
        items = accountability.action_items(session, objective_ids=objective_ids, ids=ids)
        changes = accountability.status_changes(session, [i.id for i in items])
    history: dict[int, list[StatusChange]] = {}
    for c in changes:
        history.setdefault(c.action_item_id, []).append(
            StatusChange(
                status=c.status, note=c.note, changed_by=c.changed_by, changed_at=c.changed_at
            )
        )
    return [
        ActionView(
            id=i.id,
            objective=i.objective_id,
            title=i.title,
            owner=i.owner,
            due=i.due,
            status=i.status,
            created_by=i.created_by,
            created_at=i.created_at,
            history=history.get(i.id, []),
        )
        for i in items
    ]


def _threads(rows: list[ObjectiveComment]) -> list[CommentView]:
    """Current revisions (those nothing replaces), each with the chain it replaced."""
    by_id = {r.id: r for r in rows}
    replaced = {r.replaces_id for r in rows if r.replaces_id is not None}
    out = []
    for row in rows:  # newest first
        if row.id in replaced:
            continue
        earlier = []
        previous = by_id.get(row.replaces_id) if row.replaces_id is not None else None
        while previous is not None:
            earlier.append(_comment(previous, []))
            nxt = previous.replaces_id
            previous = by_id.get(nxt) if nxt is not None else None
        out.append(_comment(row, earlier))
    return out


def _comment(row: ObjectiveComment, earlier: list[CommentView]) -> CommentView:
    return CommentView(
        id=row.id,
        period=row.period,
        text=row.text,
        author=row.author,
        at=row.at,
        earlier=earlier,
    )


def _current_period(ctx: Context, actor: Actor, objective_id: str) -> str:
    view = plan_service.get_plan(ctx, actor)
    found = next(o for g in view.goals for o in g.objectives if o.id == objective_id)
    return found.latest.period if found.latest is not None else ""


def _objective_ids(applied: AppliedPlan) -> set[str]:
    return {o.id for _, o in applied.objectives()}


def _objective(applied: AppliedPlan, objective_id: str) -> Resource:
    found = next((o for _, o in applied.objectives() if o.id == objective_id), None)
    if found is None:
        raise NotFound.of("objective", objective_id)
    return Resource("objective", objective_id, department=found.department)


def _text(value: str, what: str, limit: int, *, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(f"{what} is required")
    if len(value) > limit:
        raise InvalidInput(f"{what} is at most {limit} characters")
    return value
