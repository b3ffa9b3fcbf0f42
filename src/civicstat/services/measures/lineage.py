"""What a measure is and where its numbers come from: its definition and method, the
objectives it measures, and the chain back to the source — data version, ingest run, raw
payloads — with each source's freshness."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

from pydantic import BaseModel

from civicstat.governance.actors import Actor
from civicstat.governance.permissions import RUN_READ, Resource, allowed
from civicstat.metadata import data_versions, observations, raw_files, runs
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.disclosure import Reader
from civicstat.services.freshness import Freshness
from civicstat.services.measures._read import Reading, reading
from civicstat.spec import measure_kinds
from civicstat.spec.measure_kinds import MeasureKind
from civicstat.spec.models import Measure


class ObjectiveRef(BaseModel):
    id: str
    title: str
    goal: str
    goal_title: str
    department: str
    department_title: str
    direction: str
    warning_band: float


class InputRef(BaseModel):
    role: str  # numerator, denominator, of, or an input's name in a derived expression
    measure: str
    title: str


class RawPayload(BaseModel):
    name: str
    sha256: str
    size: int
    received_at: dt.datetime


class SourceLineage(BaseModel):
    id: str
    title: str
    description: str | None
    connector: str
    owner: str
    owner_title: str
    classification: str
    load: str
    schedule: str | None
    stale_after_hours: float | None
    last_success: dt.datetime | None
    stale: bool


class DatasetLineage(BaseModel):
    id: str
    source: SourceLineage | None
    current_version: str | None  # e.g. calls_911@3, the version readers see now
    used_versions: list[str]  # versions behind the measure's current observations
    row_count: int | None  # None: the actor may not read this dataset's contents
    published_at: dt.datetime | None
    run_id: int | None  # the run that published the current version
    run_status: str | None
    payloads: list[RawPayload]  # raw files of that run (to those who may see runs and rows)


class MeasureDescription(BaseModel):
    id: str
    title: str
    description: str | None
    kind: str
    method: str  # what the kind computes, in a sentence
    unit: str
    grain: str
    definition: list[tuple[str, str]]  # every field set in the spec, as written
    definition_hash: str  # of the definition and, for composite measures, their inputs'
    inputs: list[InputRef]
    objectives: list[ObjectiveRef]
    datasets: list[DatasetLineage]
    computed_at: dt.datetime | None  # the newest current observation
    observations: int  # current, all periods and slices


def describe(ctx: Context, actor: Actor, measure_id: str) -> MeasureDescription:
    with reading(ctx, actor, measure_id) as read:
        return description_of(read)


def description_of(read: Reading) -> MeasureDescription:
    """The description of a measure being read (see :func:`describe`)."""
    plan, measure = read.plan, read.measure
    computed_at, count = observations.current_extent(read.session, measure.id)
    fresh = {f.source: f for f in read.freshness}
    lineage = [_dataset(read, fresh, d) for d in sorted(plan.datasets_of(measure))]
    row = plan.effective(measure)
    kind = measure_kinds.get(measure.kind)
    return MeasureDescription(
        id=measure.id,
        title=measure.title,
        description=measure.description,
        kind=measure.kind,
        method=_method(kind),
        unit=kind.unit(row),
        grain=measure.grain,
        definition=definition_of(measure),
        definition_hash=plan.definition_hash(measure),
        inputs=_inputs(plan, measure),
        objectives=objectives_of(plan, measure.id),
        datasets=lineage,
        computed_at=computed_at.replace(tzinfo=dt.UTC)
        if computed_at is not None and computed_at.tzinfo is None
        else computed_at,
        observations=count,
    )


def method_of(measure: Measure) -> str:
    """What the measure's kind computes, in a sentence."""
    return _method(measure_kinds.get(measure.kind))


def _method(kind: MeasureKind) -> str:
    """The first paragraph of the kind's declaration, which says what it counts (the
    computing part's docstring says how)."""
    doc = inspect.getdoc(type(kind)) or ""
    first = doc.split("\n\n")[0].replace("\n", " ").replace("``", "").strip()
    return first or f"{type(kind).__name__} of the rows"


def definition_of(measure: Measure) -> list[tuple[str, str]]:
    """Every field the spec sets on the measure, as written (id, title, description aside)."""
    body = measure.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    skip = {"id", "title", "description"}
    return [(key, _as_text(value)) for key, value in body.items() if key not in skip]


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_as_text(v)}" for k, v in value.items())
    return str(value)


def _inputs(plan: AppliedPlan, measure: Measure) -> list[InputRef]:
    named: list[tuple[str, str]] = []
    if measure.numerator:
        named.append(("numerator", measure.numerator))
    if measure.denominator:
        named.append(("denominator", measure.denominator))
    if measure.of:
        named.append(("accumulates", measure.of))
    named += sorted(measure.inputs.items())
    return [
        InputRef(role=role, measure=m, title=plan.measures[m].title)
        for role, m in named
        if m in plan.measures
    ]


def objectives_of(plan: AppliedPlan, measure_id: str) -> list[ObjectiveRef]:
    """The objectives a measure measures, with their goal and department."""
    out = []
    for goal, objective in plan.objectives():
        if objective.measure != measure_id:
            continue
        department = plan.departments.get(objective.department)
        out.append(
            ObjectiveRef(
                id=objective.id,
                title=objective.title,
                goal=goal.id,
                goal_title=goal.title,
                department=objective.department,
                department_title=department.title if department else objective.department,
                direction=objective.target.direction,
                warning_band=objective.target.warning_band,
            )
        )
    return out


def _dataset(read: Reading, fresh: dict[str, Freshness], dataset_id: str) -> DatasetLineage:
    plan, actor, session = read.plan, read.actor, read.session
    source = plan.source_for_dataset(dataset_id)
    version = data_versions.current(session, dataset_id)
    used = observations.versions_used(session, read.measure.id, dataset_id)
    # The measure's definition names the dataset, so its source is described; its
    # contents, runs and payloads only to those who may read it (services.disclosure).
    may_read_rows = Reader(plan, actor).visible(dataset_id)
    may_see_runs = (
        may_read_rows
        and source is not None
        and allowed(actor, RUN_READ, Resource("source", source.id, source.owner))
    )
    run = runs.get(session, version.run_id) if version and version.run_id else None
    payloads: list[RawPayload] = []
    if run is not None and may_see_runs:
        payloads = [
            RawPayload(
                name=f.original_name, sha256=f.sha256, size=f.size, received_at=f.received_at
            )
            for f in raw_files.of_run(session, run.id)
        ]
    lineage_source = None
    if source is not None:
        owner = plan.departments.get(source.owner)
        freshness = fresh.get(source.id)
        lineage_source = SourceLineage(
            id=source.id,
            title=source.title,
            description=source.description,
            connector=source.connector,
            owner=source.owner,
            owner_title=owner.title if owner else source.owner,
            classification=str(source.classification),
            load=str(source.load.mode),
            schedule=source.schedule,
            stale_after_hours=source.stale_after_hours,
            last_success=freshness.last_success if freshness else None,
            stale=freshness.stale if freshness else False,
        )
    return DatasetLineage(
        id=dataset_id,
        source=lineage_source,
        current_version=version.label if version else None,
        used_versions=[f"{dataset_id}@{v}" for v in used],
        row_count=version.row_count if version and may_read_rows else None,
        published_at=version.created_at if version else None,
        run_id=run.id if run and may_see_runs else None,
        run_status=run.status if run and may_see_runs else None,
        payloads=payloads,
    )
