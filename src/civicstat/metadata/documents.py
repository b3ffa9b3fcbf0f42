"""Documents: unstructured files (PDFs, images) kept in the lake beside a dataset."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.models import Document


def add(
    session: Session,
    dataset_id: str,
    *,
    title: str,
    lake_path: str,
    original_name: str,
    sha256: str,
    size: int,
    content_type: str,
    added_by: str,
) -> Document:
    document = Document(
        dataset_id=dataset_id,
        title=title,
        lake_path=lake_path,
        original_name=original_name,
        sha256=sha256,
        size=size,
        content_type=content_type,
        added_by=added_by,
    )
    session.add(document)
    session.flush()
    return document


def of_dataset(session: Session, dataset_id: str) -> Sequence[Document]:
    """A dataset's documents, in the order they were added."""
    return session.scalars(
        select(Document).where(Document.dataset_id == dataset_id).order_by(Document.id)
    ).all()
