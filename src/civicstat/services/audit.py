"""Reading the audit log: list recent events, verify the chain, export its head.

Reading the log is itself an audited event, written before anything is read: if it cannot
be written, nothing is shown.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from civicstat.governance import audit, audit_heads
from civicstat.governance.actors import Actor
from civicstat.governance.audit import ChainCheck, Checkpoint, Event, Outcome
from civicstat.governance.permissions import AUDIT_READ, Action, PermissionDenied, Resource, allowed
from civicstat.metadata import audit_log
from civicstat.metadata.models import utcnow
from civicstat.services.context import Context
from civicstat.services.disclosure import Reader
from civicstat.services.errors import InvalidInput, ServiceError

log = logging.getLogger(__name__)
_LOG = Resource("audit", "log")
# Detail fields that may quote a dataset's data: a run's error, kept by ingest events
# recorded before the log stopped keeping it.
_QUOTES_DATA = frozenset({"error"})
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class EventView:
    id: int
    at: dt.datetime
    actor: str
    action: str
    object_kind: str
    object_id: str
    outcome: str
    detail: dict[str, Any]


def verify(ctx: Context, actor: Actor, *, expect: Sequence[Checkpoint] = ()) -> ChainCheck:
    """Walk the whole chain and compare it with exported heads: ``expect`` and those in the
    workspace's heads file (when there is one); the result names the first problem, and
    append-only triggers that are not in place."""
    heads = [*_exported(ctx), *expect]
    _read(ctx, actor, "verify", heads=len(heads) or None)
    with ctx.db.session() as session:
        return audit.check(session, heads)


def export_head(ctx: Context, actor: Actor) -> Checkpoint:
    """Note the chain's head (its count and newest hash) outside the database: appended to
    the heads file and written to the log, and recorded in the chain too (``audit:head``)."""
    require_recorded(ctx, actor, AUDIT_READ, _LOG, Event.AUDIT_HEAD)
    with ctx.db.write() as session:
        checkpoint = audit.head(session)
        key_id = audit.key_id(audit.key_of(session))
        audit.record(
            session,
            actor,
            Event.AUDIT_HEAD,
            "audit",
            "log",
            records=checkpoint.records,
            head=checkpoint.head,
        )
    at = utcnow()
    log.info("audit head %s", audit_heads.line(checkpoint, at, key_id))
    path = ctx.settings.resolved_audit_heads()
    try:
        audit_heads.append(path, checkpoint, at, key_id)
    except OSError as error:
        raise ServiceError(
            f"the audit head could not be appended to {path} ({error.strerror or error})"
        ) from error
    return checkpoint


def _exported(ctx: Context) -> list[Checkpoint]:
    path: Path = ctx.settings.resolved_audit_heads()
    if not path.exists():
        return []
    try:
        return audit_heads.read(path)
    except audit_heads.HeadsFileError as error:
        raise InvalidInput(str(error)) from error


def recent(
    ctx: Context,
    actor: Actor,
    *,
    limit: int = 50,
    action: str | None = None,
    who: str | None = None,
) -> list[EventView]:
    """The newest events first, optionally of one action or one actor."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"a limit is between 1 and {MAX_LIMIT}")
    _read(ctx, actor, "list", only_action=action, only_actor=who, limit=limit)
    with ctx.db.session() as session:
        reader = Reader(ctx.applied_plan(session), actor)
        events = [
            EventView(
                e.id,
                e.at,
                e.actor,
                e.action,
                e.object_kind,
                e.object_id,
                e.outcome,
                _detail(reader, e.object_kind, e.object_id, e.detail),
            )
            for e in audit_log.newest(session, limit=limit, action=action, who=who)
        ]
    reader.record(ctx, via="audit")
    return events


def _detail(reader: Reader, kind: str, object_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An event's detail with each field that may quote data shown as the rows API would
    show it (``services.disclosure``); other fields as recorded."""
    quoting = _QUOTES_DATA & detail.keys()
    if not quoting:
        return detail
    dataset = object_id
    if kind == "source":
        source = reader.plan.sources.get(object_id) if reader.plan else None
        dataset = source.dataset_id if source else ""
    shown = dict(detail)
    for key in sorted(quoting):
        shown[key] = reader.text(dataset, str(detail[key]), what="text from the data").text
    return shown


def require_recorded(
    ctx: Context, actor: Actor, action: Action, resource: Resource, event: Event
) -> None:
    """``permissions.require``, with a refusal of a signed-in actor kept in the audit log as
    ``event`` with outcome ``denied`` (in its own transaction, so that it stays)."""
    if allowed(actor, action, resource):
        return
    if actor.is_authenticated:
        with ctx.db.write() as session:
            audit.record(session, actor, event, resource.kind, resource.id, Outcome.DENIED)
    raise PermissionDenied(actor, action, resource)


def _read(ctx: Context, actor: Actor, how: str, **detail: Any) -> None:
    require_recorded(ctx, actor, AUDIT_READ, _LOG, Event.AUDIT_READ)
    with ctx.db.write() as session:
        filters = {k: v for k, v in detail.items() if v is not None}
        audit.record(session, actor, Event.AUDIT_READ, "audit", "log", how=how, **filters)
