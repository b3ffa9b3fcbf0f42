"""Data versions and the dataset heads that publish them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicstat.metadata.models import DatasetHead, DataVersion, utcnow


def publish(
    session: Session,
    *,
    dataset_id: str,
    files: list[str],
    columns: list[dict[str, str]],
    row_count: int,
    run_id: int | None,
    checksum: str = "",
    inputs: list[str] | None = None,
) -> DataVersion:
    """Record a new version and make it the head, in the caller's transaction.

    Readers look the head up and read its files: until this transaction commits they see
    the previous version whole, afterwards the new one whole.
    """
    latest = session.scalar(
        select(func.max(DataVersion.version)).where(DataVersion.dataset_id == dataset_id)
    )
    version = DataVersion(
        dataset_id=dataset_id,
        version=(latest or 0) + 1,
        run_id=run_id,
        files=files,
        columns=columns,
        row_count=row_count,
        checksum=checksum,
        inputs=inputs or [],
    )
    session.add(version)
    session.flush()
    head = session.get(DatasetHead, dataset_id)
    if head is None:
        session.add(DatasetHead(dataset_id=dataset_id, data_version_id=version.id))
    else:
        head.data_version_id = version.id
        head.updated_at = utcnow()
    return version


def current(session: Session, dataset_id: str) -> DataVersion | None:
    return session.scalar(
        select(DataVersion)
        .join(DatasetHead, DatasetHead.data_version_id == DataVersion.id)
        .where(DatasetHead.dataset_id == dataset_id)
    )


def first_published(session: Session, dataset_id: str) -> dt.datetime | None:
    """When the dataset's first version was published (a catalog's "issued")."""
    return session.scalar(
        select(func.min(DataVersion.created_at)).where(DataVersion.dataset_id == dataset_id)
    )
