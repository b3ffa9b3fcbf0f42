"""The public catalog: what the portal, ``data.json``, the CKAN and SODA APIs and the
Data Packages say about datasets, from one place.

Only public datasets are published, read as ``actors.PUBLIC`` reads them: public columns
only, personal data left out unless generalised. :func:`inventory` also names the
datasets that are not public (``data.json`` lists them as non-public, with no download),
but for restricted ones, whose existence is itself withheld; it gives their title and
description only, never a column or a number. A dataset that is not public answers
:func:`dataset` exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.governance.actors import PUBLIC
from civicstat.governance.columns import visible_columns
from civicstat.governance.permissions import DATASET_READ, Resource, allowed
from civicstat.metadata import data_versions
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.freshness import source_freshness
from civicstat.spec.models import Classification, Contact, Frequency, Source, frequency_of

# DCAT-US's accrualPeriodicity (ISO 8601 repeating durations) for each frequency.
ACCRUAL_PERIODICITY = {
    Frequency.CONTINUOUS: "R/PT1S",
    Frequency.HOURLY: "R/PT1H",
    Frequency.DAILY: "R/P1D",
    Frequency.WEEKLY: "R/P1W",
    Frequency.MONTHLY: "R/P1M",
    Frequency.QUARTERLY: "R/P3M",
    Frequency.ANNUALLY: "R/P1Y",
    Frequency.IRREGULAR: "irregular",
}


class PublicColumn(BaseModel):
    name: str
    type: str  # the declared type: string, integer, float, boolean, date, timestamp
    description: str | None
    generalised: bool  # personal data published generalised (month, hundred block)


class PublicDataset(BaseModel):
    id: str
    title: str
    description: str | None
    department: str  # the owner department's id
    department_title: str
    keywords: list[str]
    themes: list[str]
    license: str | None
    contact: Contact | None
    frequency: Frequency
    accrual_periodicity: str  # ISO 8601, as DCAT-US wants it
    schedule: str | None  # cron
    version: int | None  # None: no data yet
    issued: dt.datetime | None  # first version published (UTC)
    modified: dt.datetime | None  # current version published (UTC)
    last_success: dt.datetime | None  # last successful pull (UTC)
    stale: bool
    row_count: int
    columns: list[PublicColumn]
    primary_key: list[str]  # the load key, when every column of it is public
    etag: str  # changes with the data version and the published description


class ListedDataset(BaseModel):
    """A dataset as the inventory lists it to the public: ``accessLevel`` is "public"
    for a public one, else "non-public" (title and description only)."""

    id: str
    title: str
    description: str | None
    department: str
    department_title: str
    keywords: list[str]
    themes: list[str]
    access_level: str
    modified: dt.datetime | None


def is_public(source: Source) -> bool:
    """Whether the public may read the dataset at all (the one rule, in ``permissions``)."""
    resource = Resource("dataset", source.dataset_id, source.owner, source.classification)
    return allowed(PUBLIC, DATASET_READ, resource)


def catalog(ctx: Context) -> list[PublicDataset]:
    """Every public dataset, by id; none when the portal is switched off."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        if plan is None or not plan.settings.portal.enabled:
            return []
        now = ctx.clock()
        sources = sorted(plan.sources.values(), key=lambda s: s.dataset_id)
        return [_public(session, plan, s, now) for s in sources if is_public(s)]


def dataset(ctx: Context, dataset_id: str) -> PublicDataset:
    """One public dataset; NotFound when it does not exist or is not public."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        source = plan.source_for_dataset(dataset_id) if plan else None
        if plan is None or source is None or not plan.settings.portal.enabled:
            raise NotFound.of("dataset", dataset_id)
        if not is_public(source):
            raise NotFound.of("dataset", dataset_id)
        return _public(session, plan, source, ctx.clock())


def inventory(ctx: Context) -> list[ListedDataset]:
    """Every dataset of the workspace but the restricted ones, public or not, as the
    public inventory lists it."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        if plan is None or not plan.settings.portal.enabled:
            return []
        listed = []
        for source in sorted(plan.sources.values(), key=lambda s: s.dataset_id):
            if source.classification is Classification.RESTRICTED:
                continue  # its very existence is withheld, as from staff not cleared for it
            public = is_public(source)
            version = data_versions.current(session, source.dataset_id) if public else None
            listed.append(
                ListedDataset(
                    id=source.dataset_id,
                    title=source.title,
                    description=source.description,
                    department=source.owner,
                    department_title=_department_title(plan, source.owner),
                    keywords=list(source.catalog.keywords),
                    themes=list(source.catalog.themes),
                    access_level="public" if public else "non-public",
                    modified=version.created_at if version else None,
                )
            )
        return listed


def _department_title(plan: AppliedPlan, department: str) -> str:
    found = plan.departments.get(department)
    return found.title if found else department


def _public(session: Session, plan: AppliedPlan, source: Source, now: dt.datetime) -> PublicDataset:
    dataset_id = source.dataset_id
    version = data_versions.current(session, dataset_id)
    stored = (
        list(version.columns)
        if version is not None
        else [{"name": c.name, "type": c.type} for c in source.columns]
    )
    views = visible_columns(PUBLIC, source, stored, plan.masking)
    columns = [
        PublicColumn(
            name=v.name,
            type=v.type,
            description=v.declared.description if v.declared else None,
            generalised=v.masking is not None,
        )
        for v in views
    ]
    fresh = source_freshness(session, source, now)
    portal = plan.settings.portal
    frequency = frequency_of(source)
    # Rows limited by department or user are never public (row_query gives the public none).
    rows = version.row_count if version is not None and source.row_access is None else 0
    return PublicDataset(
        id=dataset_id,
        title=source.title,
        description=source.description,
        department=source.owner,
        department_title=_department_title(plan, source.owner),
        keywords=list(source.catalog.keywords),
        themes=list(source.catalog.themes),
        license=source.catalog.license or portal.license,
        contact=source.catalog.contact or portal.contact,
        frequency=frequency,
        accrual_periodicity=ACCRUAL_PERIODICITY[frequency],
        schedule=source.schedule,
        version=version.version if version else None,
        issued=data_versions.first_published(session, dataset_id),
        modified=version.created_at if version else None,
        last_success=fresh.last_success,
        stale=fresh.stale,
        row_count=rows,
        columns=columns,
        primary_key=_primary_key(source, columns),
        etag=_etag(plan, source, version.version if version else None),
    )


def _primary_key(source: Source, columns: list[PublicColumn]) -> list[str]:
    published = {c.name for c in columns}
    key = list(source.load.key)
    return key if key and all(k in published for k in key) else []


def _etag(plan: AppliedPlan, source: Source, version: int | None) -> str:
    """A validator for HTTP caching: the data version and the plan revision (which holds
    the description), so that a change to either makes caches fetch again."""
    text = f"{source.dataset_id}:{version}:{plan.revision_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]
