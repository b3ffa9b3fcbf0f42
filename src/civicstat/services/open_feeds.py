"""What the open data feeds (data.json, CKAN, Data Packages) need beside the dataset
catalog: the portal's identity, each publishable measure as an open dataset with its
definition, and the newest change behind an answer, for HTTP caching.

Measures are read as the public reads them: only publishable ones (``publication``), and
their numbers only through ``public.public_series``. A measure that may not be published
answers :func:`published_measure` exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable

from pydantic import BaseModel
from sqlalchemy.orm import Session

from civicstat.metadata import observations, revisions
from civicstat.plan import AppliedPlan
from civicstat.services import publication
from civicstat.services._plain_words import what_counts
from civicstat.services.context import Context
from civicstat.services.errors import NotFound
from civicstat.services.measures.lineage import definition_of, method_of
from civicstat.services.open_data import PublicDataset, is_public
from civicstat.spec import measure_kinds
from civicstat.spec.models import Contact, Measure


class Portal(BaseModel):
    """Who publishes, and where: what every feed says about the catalog as a whole."""

    title: str
    publisher: str
    url: str | None  # the portal's public address, if the workspace sets it
    contact: Contact | None
    license: str | None
    revision_id: int
    applied_at: dt.datetime  # when the plan now served was applied (UTC)


class DatasetRef(BaseModel):
    id: str
    title: str
    public: bool  # whether its rows are published too


class PublishedMeasure(BaseModel):
    """A publishable measure as an open dataset: its definition, without its numbers."""

    id: str
    title: str
    description: str | None
    kind: str
    method: str  # what the kind computes, in a sentence
    unit: str
    grain: str
    definition: list[tuple[str, str]]  # every field set in the spec, as written
    in_words: str  # the definition in plain words
    definition_hash: str
    department: str | None
    department_title: str | None
    datasets: list[DatasetRef]
    computed_at: dt.datetime | None  # the newest current observation (UTC)
    first_day: dt.date | None  # of the first period
    last_day: dt.date | None  # of the last period
    etag: str


class Stamp(BaseModel):
    """An HTTP validator pair: the entity tag and the time of the newest change."""

    etag: str
    modified: dt.datetime


def portal(ctx: Context) -> Portal:
    """The portal's identity; NotFound when no plan is applied or the portal is off."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        latest = revisions.latest(session)
        if plan is None or latest is None or not plan.settings.portal.enabled:
            raise NotFound("the portal is not published")
        settings = plan.settings
        return Portal(
            title=settings.portal.title or f"{settings.title} Open Data",
            publisher=settings.portal.publisher or settings.title,
            url=settings.portal.url.rstrip("/") if settings.portal.url else None,
            contact=settings.portal.contact,
            license=settings.portal.license,
            revision_id=plan.revision_id,
            applied_at=_utc(latest.applied_at),
        )


def published_measures(ctx: Context) -> list[PublishedMeasure]:
    """Every publishable measure, by id; none when the portal is switched off."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        if plan is None or not plan.settings.portal.enabled:
            return []
        found = []
        for measure in sorted(plan.measures.values(), key=lambda m: m.id):
            if publication.state(session, plan, measure).publishable:
                found.append(_published(session, plan, measure))
        return found


def published_measure(ctx: Context, measure_id: str) -> PublishedMeasure:
    """One publishable measure; NotFound when it does not exist or may not be published."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        measure = plan.measures.get(measure_id) if plan else None
        if plan is None or measure is None or not plan.settings.portal.enabled:
            raise NotFound.of("measure", measure_id)
        if not publication.state(session, plan, measure).publishable:
            raise NotFound.of("measure", measure_id)
        return _published(session, plan, measure)


def stamp(
    site: Portal,
    datasets: Iterable[PublicDataset] = (),
    measures: Iterable[PublishedMeasure] = (),
) -> Stamp:
    """The validators of an answer built from the plan and these datasets and measures:
    any new data version, computed series or applied plan changes both."""
    parts = [f"plan:{site.revision_id}"]
    times = [site.applied_at]
    for d in datasets:
        parts.append(f"d:{d.etag}")
        times += [_utc(d.modified)] if d.modified else []
    for m in measures:
        parts.append(f"m:{m.etag}")
        times += [m.computed_at] if m.computed_at else []
    etag = hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]
    return Stamp(etag=etag, modified=max(times))


# Fields of a definition that name no column and no value: published whatever the data.
_SAID_OF_ANY = frozenset(
    {"kind", "grain", "unit", "window", "measures", "numerator", "denominator"}
)


def _published(session: Session, plan: AppliedPlan, measure: Measure) -> PublishedMeasure:
    row = plan.effective(measure)
    kind = measure_kinds.get(measure.kind)
    computed_at, _ = observations.current_extent(session, measure.id)
    first, end = observations.current_span(session, measure.id)
    datasets = []
    owners = set()
    for dataset_id in sorted(plan.datasets_of(measure)):
        source = plan.source_for_dataset(dataset_id)
        title = source.title if source else dataset_id
        owners |= {source.owner} if source else set()
        datasets.append(
            DatasetRef(id=dataset_id, title=title, public=bool(source and is_public(source)))
        )
    # A composite measure's owner: the one department owning every dataset under it.
    department = plan.owner(measure) or (owners.pop() if len(owners) == 1 else None)
    found = plan.departments.get(department) if department else None
    # Over data that is not public, the conditions and column names are not published:
    # the portal's measure page says the same (services._plain_words).
    public = all(d.public for d in datasets)
    written = definition_of(measure)
    definition = written if public else [(k, v) for k, v in written if k in _SAID_OF_ANY]
    method = method_of(measure)
    in_words = " ".join([method, *what_counts(plan, row, measure, show_conditions=public)])
    definition_hash = plan.definition_hash(measure)
    computed = _utc(computed_at) if computed_at else None
    tag = f"{measure.id}:{definition_hash}:{computed}:{plan.revision_id}"
    return PublishedMeasure(
        id=measure.id,
        title=measure.title,
        description=measure.description.strip() if measure.description else None,
        kind=measure.kind,
        method=method,
        unit=kind.unit(row),
        grain=str(measure.grain),
        definition=definition,
        in_words=in_words,
        definition_hash=definition_hash,
        department=department,
        department_title=found.title if found else department,
        datasets=datasets,
        computed_at=computed,
        first_day=first,
        last_day=end - dt.timedelta(days=1) if end else None,
        etag=hashlib.sha256(tag.encode()).hexdigest()[:20],
    )


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
