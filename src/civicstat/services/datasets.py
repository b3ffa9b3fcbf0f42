"""Read curated datasets, governed."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from civicstat.governance import audit
from civicstat.governance.actors import Actor
from civicstat.governance.permissions import DATASET_READ, Resource, allowed
from civicstat.metadata import datasets
from civicstat.services.context import Context
from civicstat.services.errors import NotFound, PermissionDenied
from civicstat.spec.models import Classification

_AUDITED = {Classification.CONFIDENTIAL, Classification.RESTRICTED}


class DatasetSummary(BaseModel):
    id: str
    title: str
    owner: str
    classification: Classification
    version: int | None
    published_at: dt.datetime | None
    row_count: int  # counted from the version's files, not copied from the run record
    columns: list[dict[str, str]]


def describe(ctx: Context, actor: Actor, dataset_id: str) -> DatasetSummary:
    """A dataset's current version, with its rows counted by the warehouse."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        source = plan.source_for_dataset(dataset_id) if plan else None
        version = datasets.current(session, dataset_id) if source else None
    # A dataset that does not exist is answered like one the actor may not read (an
    # unclassified resource counts as restricted), so its absence tells nothing.
    resource = Resource(
        "dataset",
        dataset_id,
        source.owner if source else None,
        source.classification if source else None,
    )
    if source is None and allowed(actor, DATASET_READ, resource):
        raise NotFound.of("dataset", dataset_id)
    if source is None or not allowed(actor, DATASET_READ, resource):
        if actor.is_authenticated:
            with ctx.db.write() as session:
                audit.record(session, actor, "dataset:read", "dataset", dataset_id, "denied")
        raise PermissionDenied(actor, DATASET_READ, resource)
    if source.classification in _AUDITED:
        with ctx.db.write() as session:
            audit.record(
                session,
                actor,
                "dataset:read",
                "dataset",
                dataset_id,
                version=version.version if version else None,
            )
    rows = 0
    if version is not None:
        with ctx.warehouse.session() as table:
            rows = int(
                ctx.warehouse.scalar(table(dataset_id, version.version, version.files).count())
            )
    return DatasetSummary(
        id=dataset_id,
        title=source.title,
        owner=source.owner,
        classification=source.classification,
        version=version.version if version else None,
        published_at=version.created_at if version else None,
        row_count=rows,
        columns=version.columns if version else [],
    )
