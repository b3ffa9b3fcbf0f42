"""What the public side's answers are made from, in one cheap query: the newest plan
revision, data version, dataset head move, observation, approval, document and ingest run.

Any change a public answer could show moves at least one of them, so ``web.public_cache``
keys its copies on the tuple and never serves an answer made before the change.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicstat.metadata.models import (
    DatasetHead,
    DataVersion,
    Document,
    IngestRun,
    MeasureApproval,
    Observation,
    Revision,
)


def stamp(session: Session) -> tuple[object, ...]:
    """The newest of each (by primary key, or by time where rows are updated in place)."""
    parts = (
        func.max(Revision.id),
        func.max(DataVersion.id),
        func.max(DatasetHead.updated_at),
        func.max(Observation.id),
        func.max(MeasureApproval.id),
        func.max(Document.id),
        func.max(IngestRun.id),
        func.max(IngestRun.finished_at),
    )
    row = session.execute(select(*(select(p).scalar_subquery() for p in parts))).one()
    return tuple(row)
