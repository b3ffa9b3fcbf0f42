"""Plan revisions: each apply of a changed workspace is a new, immutable revision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.models import Definition, Revision, SpecObject
from civicstat.spec.workspace import SpecObject as SpecItem


@dataclass(frozen=True)
class ApplyResult:
    revision: Revision | None  # None when the workspace was unchanged
    added: list[str]
    changed: list[str]
    retired: list[str]


def latest(session: Session) -> Revision | None:
    return session.scalar(select(Revision).order_by(Revision.id.desc()).limit(1))


def apply(
    session: Session,
    items: Sequence[SpecItem],
    layout: dict[str, Any],
    content_hash: str,
    applied_by: str,
) -> ApplyResult:
    """Store the workspace as a new revision unless its content hash is unchanged.

    Objects no longer in the workspace are retired, never deleted: observations computed
    from them keep pointing at the definition that produced them.
    """
    previous = latest(session)
    if previous is not None and previous.content_hash == content_hash:
        return ApplyResult(None, [], [], [])
    revision = Revision(content_hash=content_hash, applied_by=applied_by, layout=layout)
    session.add(revision)
    session.flush()

    existing = {(o.kind, o.key): o for o in session.scalars(select(SpecObject))}
    known_hashes = set(session.scalars(select(Definition.hash)))
    added: list[str] = []
    changed: list[str] = []
    for item in items:
        if item.hash not in known_hashes:
            session.add(
                Definition(
                    hash=item.hash,
                    kind=item.kind,
                    key=item.key,
                    body=item.body,
                    first_revision_id=revision.id,
                )
            )
            known_hashes.add(item.hash)
        row = existing.pop((item.kind, item.key), None)
        name = f"{item.kind} {item.key}"
        if row is None:
            session.add(
                SpecObject(
                    kind=item.kind,
                    key=item.key,
                    title=item.title,
                    definition_hash=item.hash,
                    created_revision_id=revision.id,
                    updated_revision_id=revision.id,
                )
            )
            added.append(name)
        elif row.definition_hash != item.hash or row.retired_revision_id is not None:
            row.definition_hash = item.hash
            row.title = item.title
            row.updated_revision_id = revision.id
            row.retired_revision_id = None
            changed.append(name)
    retired = []
    for row in existing.values():
        if row.retired_revision_id is None:
            row.retired_revision_id = revision.id
            retired.append(f"{row.kind} {row.key}")
    revision.summary = f"{len(added)} added, {len(changed)} changed, {len(retired)} retired"
    return ApplyResult(revision, added, changed, retired)


def active_objects(session: Session, kind: str | None = None) -> Sequence[SpecObject]:
    query = select(SpecObject).where(SpecObject.retired_revision_id.is_(None))
    if kind is not None:
        query = query.where(SpecObject.kind == kind)
    return session.scalars(query.order_by(SpecObject.kind, SpecObject.key)).all()


def definition(session: Session, hash_: str) -> Definition | None:
    return session.get(Definition, hash_)


def applied_bodies(session: Session) -> dict[tuple[str, str], dict[str, Any]]:
    """The body of every active object's current definition, by (kind, key)."""
    rows = session.execute(
        select(SpecObject.kind, SpecObject.key, Definition.body)
        .join(Definition, Definition.hash == SpecObject.definition_hash)
        .where(SpecObject.retired_revision_id.is_(None))
    )
    return {(kind, key): body for kind, key, body in rows}
