"""Accountability as stored: comments on objectives, action items and their history,
performance agreements with their reviews, and the stat meetings held.

Nothing here is edited in place by its users: a revised comment is a new row, an action
item's every status is kept, a signed agreement is amended by a new version.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.ids import get_row
from civicstat.metadata.models import (
    ActionItem,
    ActionItemChange,
    AgreementReview,
    ObjectiveComment,
    PerformanceAgreement,
    StatMeeting,
)

__all__ = [
    "action_item",
    "action_items",
    "agreement_versions",
    "comment",
    "comments",
    "meetings",
    "replacement_of",
    "reviews",
    "status_changes",
]


# Comments


def comments(session: Session, objective_id: str) -> list[ObjectiveComment]:
    """Every comment on an objective, revisions too, newest first."""
    return list(
        session.scalars(
            select(ObjectiveComment)
            .where(ObjectiveComment.objective_id == objective_id)
            .order_by(ObjectiveComment.id.desc())
        )
    )


def comment(session: Session, comment_id: int) -> ObjectiveComment | None:
    """The comment with this id, which may come from a caller (any integer)."""
    return get_row(session, ObjectiveComment, comment_id)


def replacement_of(session: Session, comment_id: int) -> int | None:
    """The id of the comment that revises this one, if any."""
    return session.scalar(
        select(ObjectiveComment.id).where(ObjectiveComment.replaces_id == comment_id)
    )


# Action items


def action_item(session: Session, action_id: int) -> ActionItem | None:
    """The action item with this id, which may come from a caller (any integer)."""
    return get_row(session, ActionItem, action_id)


def action_items(
    session: Session, *, objective_ids: list[str] | None = None, ids: list[int] | None = None
) -> list[ActionItem]:
    """Action items, of these objectives and/or with these ids when given, newest first."""
    query = select(ActionItem).order_by(ActionItem.id.desc())
    if objective_ids is not None:
        query = query.where(ActionItem.objective_id.in_(objective_ids))
    if ids is not None:
        query = query.where(ActionItem.id.in_(ids))
    return list(session.scalars(query))


def status_changes(session: Session, action_ids: list[int]) -> Sequence[ActionItemChange]:
    """The status changes of these action items, oldest first."""
    return session.scalars(
        select(ActionItemChange)
        .where(ActionItemChange.action_item_id.in_(action_ids))
        .order_by(ActionItemChange.id)
    ).all()


# Performance agreements


def agreement_versions(
    session: Session, department_id: str, period: str
) -> list[PerformanceAgreement]:
    """Every version of a department's agreement for a period, newest first."""
    return list(
        session.scalars(
            select(PerformanceAgreement)
            .where(
                PerformanceAgreement.department == department_id,
                PerformanceAgreement.period == period,
            )
            .order_by(PerformanceAgreement.version.desc())
        )
    )


def reviews(session: Session, agreement_ids: list[int]) -> Sequence[AgreementReview]:
    """The review notes of these agreement versions, oldest first."""
    return session.scalars(
        select(AgreementReview)
        .where(AgreementReview.agreement_id.in_(agreement_ids))
        .order_by(AgreementReview.id)
    ).all()


# Stat meetings


def meetings(session: Session) -> list[StatMeeting]:
    """Every meeting recorded, the latest held first."""
    return list(
        session.scalars(
            select(StatMeeting).order_by(StatMeeting.held_on.desc(), StatMeeting.id.desc())
        )
    )
