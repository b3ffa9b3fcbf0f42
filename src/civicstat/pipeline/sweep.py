"""Find and remove what a killed ingest left in the lake: files that no record refers to.

A run lands its raw copies and writes a fresh table folder before the transaction that
records them, so a process killed in between (SIGKILL, power loss) leaves them behind,
named by nothing. For one source, a leftover is a file under ``raw/<source>/`` that no raw
file record or document names, or a folder under ``tables/<dataset>/`` that no data
version lists, last changed before a cutoff (the grace period).

The caller must hold the source's run lock (:func:`civicstat.pipeline.locks.source_lock`)
while it looks and removes: no run of the source is then in progress, and no version of
it can be published meanwhile, so a committed version's files or a running ingest's are
never taken. The grace period also covers what has no lock: a document being added, and a
run that lost its lock but has not stopped yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicstat.metadata.models import DataVersion, Document, RawFile
from civicstat.warehouse.storage import Lake, LakeEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Leftover:
    """A file or table folder (``kind``) of the lake that nothing refers to."""

    kind: str  # "raw" or "table"
    relative: str  # path in the lake
    size: int


def leftovers(
    session: Session,
    lake: Lake,
    *,
    source_id: str | None,
    dataset_id: str | None,
    cutoff: float,
) -> list[Leftover]:
    """The source's raw files and the dataset's table folders that no record refers to
    and that last changed before ``cutoff`` (seconds since the epoch)."""
    found: list[Leftover] = []
    if source_id is not None:
        named = _raw_records(session, f"raw/{source_id}/")
        found += [
            Leftover("raw", e.relative, e.size)
            for e in lake.unlisted_raw_files(source_id, named)
            if _settled(e, cutoff)
        ]
    if dataset_id is not None:
        listed = _version_folders(session, dataset_id)
        found += [
            Leftover("table", e.relative, e.size)
            for e in lake.unlisted_table_folders(dataset_id, listed)
            if _settled(e, cutoff)
        ]
    return found


def remove(lake: Lake, found: Sequence[Leftover]) -> list[Leftover]:
    """Delete the leftovers (and folders they leave empty); returns those deleted. One
    that cannot be deleted is logged and kept for the next sweep."""
    removed = []
    for item in found:
        try:
            if item.kind == "table":
                lake.discard(item.relative)
                if lake.path(item.relative).exists():
                    raise OSError("some of its files could not be deleted")
                lake.remove_empty_folders(item.relative, "tables")
            else:
                lake.remove(item.relative)
                lake.remove_empty_folders(item.relative, "raw")
        except OSError as error:
            log.warning("could not remove %s from the lake: %s", item.relative, error)
            continue
        removed.append(item)
    return removed


def _settled(entry: LakeEntry, cutoff: float) -> bool:
    return entry.modified < cutoff


def _raw_records(session: Session, prefix: str) -> set[str]:
    """Paths under ``prefix`` named by a raw file record (even one pruned) or a document."""
    paths: set[str] = set()
    for column in (RawFile.lake_path, Document.lake_path):
        paths.update(
            session.scalars(select(column).where(column.startswith(prefix, autoescape=True)))
        )
    return paths


def _version_folders(session: Session, dataset_id: str) -> set[str]:
    """The folders holding a file of any version of the dataset, current or not."""
    files = session.scalars(select(DataVersion.files).where(DataVersion.dataset_id == dataset_id))
    return {str(path).rpartition("/")[0] for version in files for path in version}
