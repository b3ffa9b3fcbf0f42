"""The inventory: every dataset the actor may read, with who answers for it, how sensitive
it is, how fresh, who it is shared with, and where its data goes (lineage).

Lineage runs source → dataset → measures (directly, or through the measures built from
them) → objectives. A dataset the actor may not read is neither listed nor described: it
answers like one that does not exist.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.governance.actors import Actor, Role
from civicstat.governance.permissions import CATALOG_READ, Resource, require
from civicstat.metadata import accounts, data_versions
from civicstat.plan import AppliedPlan
from civicstat.services import access, publication
from civicstat.services.context import Context
from civicstat.services.disclosure import Reader
from civicstat.services.errors import NotFound
from civicstat.services.freshness import source_freshness
from civicstat.spec.models import Classification, Source

_CATALOG = Resource("catalog", "catalog")


class ColumnEntry(BaseModel):
    name: str
    type: str
    description: str | None
    classification: Classification  # the column's own, else the dataset's
    pii: str | None  # the kind of personal data, if any
    masking: str | None  # how it reads unless unmasked, when the column sets it


class FreshnessEntry(BaseModel):
    last_success: dt.datetime | None
    stale_after_hours: float | None
    stale: bool


class MeasureEntry(BaseModel):
    id: str
    title: str
    kind: str
    direct: bool  # computed from the dataset's rows, not built from other measures


class ObjectiveEntry(BaseModel):
    id: str
    title: str
    department: str
    measure: str


class Lineage(BaseModel):
    source: str
    connector: str
    dataset: str
    measures: list[MeasureEntry]
    objectives: list[ObjectiveEntry]


class DatasetEntry(BaseModel):
    id: str
    title: str
    description: str | None
    owner: str
    owner_title: str
    stewards: list[str]  # user names of the owner department's stewards
    classification: Classification
    pii_columns: list[str]
    columns: list[ColumnEntry]
    freshness: FreshnessEntry
    version: int | None
    row_count: int | None
    agreements: list[access.SharingAgreementView]
    lineage: Lineage


def catalog(ctx: Context, actor: Actor) -> list[DatasetEntry]:
    """Every dataset the actor may read, by id."""
    require(actor, CATALOG_READ, _CATALOG)
    now = ctx.clock()
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        if plan is None:
            return []
        sources = sorted(plan.sources.values(), key=lambda s: s.dataset_id)
        return [_entry(session, plan, s, now) for s in sources if _readable(actor, plan, s)]


def entry(ctx: Context, actor: Actor, dataset_id: str) -> DatasetEntry:
    """One dataset's inventory entry; NotFound when it does not exist or may not be read."""
    require(actor, CATALOG_READ, _CATALOG)
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        source = plan.source_for_dataset(dataset_id) if plan else None
        if plan is None or source is None or not _readable(actor, plan, source):
            raise NotFound.of("dataset", dataset_id)
        return _entry(session, plan, source, ctx.clock())


def _readable(actor: Actor, plan: AppliedPlan, source: Source) -> bool:
    return Reader(plan, actor).visible(source.dataset_id)


def _entry(session: Session, plan: AppliedPlan, source: Source, now: dt.datetime) -> DatasetEntry:
    dataset_id = source.dataset_id
    version = data_versions.current(session, dataset_id)
    columns = [
        ColumnEntry(
            name=c.name,
            type=c.type,
            description=c.description,
            classification=c.classification or source.classification,
            pii=_text(getattr(c, "pii", None)),
            masking=_text(getattr(c, "masking", None)),
        )
        for c in source.columns
    ]
    owner = plan.departments.get(source.owner)
    return DatasetEntry(
        id=dataset_id,
        title=source.title,
        description=source.description,
        owner=source.owner,
        owner_title=owner.title if owner else source.owner,
        stewards=_stewards(session, source.owner),
        classification=source.classification,
        pii_columns=[c.name for c in columns if c.pii is not None],
        columns=columns,
        freshness=_freshness(session, source, now),
        version=version.version if version else None,
        row_count=version.row_count if version else None,
        agreements=_agreements(plan, dataset_id, now),
        lineage=_lineage(plan, source),
    )


def _stewards(session: Session, department: str) -> list[str]:
    return accounts.active_names_with_role(session, Role.STEWARD.value, department)


def _freshness(session: Session, source: Source, now: dt.datetime) -> FreshnessEntry:
    found = source_freshness(session, source, now)
    return FreshnessEntry(
        last_success=found.last_success,
        stale_after_hours=found.stale_after_hours,
        stale=found.stale,
    )


def _agreements(
    plan: AppliedPlan, dataset_id: str, now: dt.datetime
) -> list[access.SharingAgreementView]:
    today = access.local_day(plan, now)
    return [
        access.agreement_view(a, today)
        for a in sorted(plan.agreements.values(), key=lambda a: a.id)
        if dataset_id in a.datasets
    ]


def _lineage(plan: AppliedPlan, source: Source) -> Lineage:
    dataset_id = source.dataset_id
    measures = []
    for measure in sorted(plan.measures.values(), key=lambda m: m.id):
        if dataset_id in publication.datasets_behind(plan, measure):
            direct = plan.effective(measure).dataset == dataset_id
            measures.append(
                MeasureEntry(id=measure.id, title=measure.title, kind=measure.kind, direct=direct)
            )
    ids = {m.id for m in measures}
    objectives = [
        ObjectiveEntry(id=o.id, title=o.title, department=o.department, measure=o.measure)
        for _, o in plan.objectives()
        if o.measure in ids
    ]
    return Lineage(
        source=source.id,
        connector=source.connector,
        dataset=dataset_id,
        measures=measures,
        objectives=objectives,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
