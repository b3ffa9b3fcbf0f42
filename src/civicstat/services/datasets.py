"""Read curated datasets, governed: the one door every read of a dataset's rows goes through.

``rows`` checks the permission and the clearance, keeps the rows the actor may see (row
access), leaves out the columns above their clearance and masks PII, all inside the Ibis
query; it lets them filter, sort and group only by what they read in clear, and it audits
what must be audited before any data is read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from civicstat.governance import audit, masking
from civicstat.governance import row_query as query
from civicstat.governance.actors import Actor
from civicstat.governance.audit import Event, Outcome
from civicstat.governance.columns import ColumnView, visible_columns
from civicstat.governance.permissions import (
    DATASET_EXPORT,
    DATASET_READ,
    DATASET_UNMASK,
    Action,
    Resource,
    allowed,
)
from civicstat.governance.rows import RowScope, row_filter, row_scope
from civicstat.governance.secrets import secret_key
from civicstat.metadata import data_versions
from civicstat.metadata.models import DataVersion
from civicstat.plan import AppliedPlan
from civicstat.services.context import Context
from civicstat.services.errors import Forbidden, InvalidInput, NotFound, PermissionDenied
from civicstat.spec.models import Classification, Masking, PiiKind, Source

if TYPE_CHECKING:
    import ibis.expr.types as ir

MAX_LIMIT = query.MAX_LIMIT
_AUDITED = {Classification.CONFIDENTIAL, Classification.RESTRICTED}


class DatasetSummary(BaseModel):
    id: str
    title: str
    owner: str
    classification: Classification
    version: int | None
    published_at: dt.datetime | None
    row_count: int  # the rows the actor may see, counted from the version's files
    # The columns the actor reads: name, type, classification, and pii and masking when
    # the column is masked for them.
    columns: list[dict[str, str]]


class ColumnPublic(BaseModel):
    name: str
    type: str
    classification: Classification | None  # None: not declared, hence restricted
    pii: PiiKind | None
    masking: Masking | None  # how it is masked for this reader; None: in clear


class RowsPage(BaseModel):
    dataset: str
    version: int | None
    columns: list[ColumnPublic]
    rows: list[dict[str, Any]]
    total: int  # rows (or groups) that match, before limit and offset
    limit: int
    offset: int


@dataclass(frozen=True)
class _Readable:
    plan: AppliedPlan
    source: Source
    version: DataVersion | None
    resource: Resource


def _open(ctx: Context, actor: Actor, dataset_id: str, action: Action, event: Event) -> _Readable:
    """The dataset, once ``actor`` may ``action`` it. A dataset that does not exist is
    answered like one the actor may not read (an unclassified resource counts as
    restricted), so its absence tells nothing."""
    with ctx.db.session() as session:
        plan = ctx.applied_plan(session)
        source = plan.source_for_dataset(dataset_id) if plan else None
        version = data_versions.current(session, dataset_id) if source else None
    resource = Resource(
        "dataset",
        dataset_id,
        source.owner if source else None,
        source.classification if source else None,
    )
    if source is None and allowed(actor, action, resource):
        raise NotFound.of("dataset", dataset_id)
    if plan is None or source is None or not allowed(actor, action, resource):
        if actor.is_authenticated:
            with ctx.db.write() as session:
                audit.record(session, actor, event, "dataset", dataset_id, Outcome.DENIED)
        raise PermissionDenied(actor, action, resource)
    return _Readable(plan, source, version, resource)


def _stored_columns(found: _Readable) -> list[dict[str, str]]:
    if found.version is not None:
        return list(found.version.columns)
    return [{"name": c.name, "type": c.type} for c in found.source.columns]


def describe(ctx: Context, actor: Actor, dataset_id: str) -> DatasetSummary:
    """A dataset's current version, with the rows the actor may see counted by the
    warehouse and the columns they read."""
    found = _open(ctx, actor, dataset_id, DATASET_READ, Event.DATASET_READ)
    source, version = found.source, found.version
    if source.classification in _AUDITED:
        with ctx.db.write() as session:
            audit.record(
                session,
                actor,
                Event.DATASET_READ,
                "dataset",
                dataset_id,
                version=version.version if version else None,
            )
    views = visible_columns(actor, source, _stored_columns(found), found.plan.masking)
    rows = 0
    if version is not None:
        scope = row_scope(actor, source, found.plan.departments)
        with ctx.warehouse.session() as table:
            visible = row_filter(table(dataset_id, version.version, version.files), scope)
            rows = int(ctx.warehouse.scalar(visible.count()))
    return DatasetSummary(
        id=dataset_id,
        title=source.title,
        owner=source.owner,
        classification=source.classification,
        version=version.version if version else None,
        published_at=version.created_at if version else None,
        row_count=rows,
        columns=[_describe_column(v) for v in views],
    )


def _describe_column(view: ColumnView) -> dict[str, str]:
    column = {
        "name": view.name,
        "type": view.type,
        "classification": str(view.classification or "unclassified"),
    }
    if view.masking is not None:
        column |= {"pii": str(view.pii), "masking": str(view.masking)}
    return column


def rows(
    ctx: Context,
    actor: Actor,
    dataset_id: str,
    *,
    limit: int = 100,
    offset: int = 0,
    order: Sequence[str] = (),
    filters: Mapping[str, Sequence[str]] | None = None,
    group_by: Sequence[str] = (),
    unmask: bool = False,
    export: bool = False,
) -> RowsPage:
    """The rows of a dataset that ``actor`` may see, as they may see them.

    ``filters`` keeps rows whose column equals one of the values; ``order`` sorts by
    columns (``-name``: descending); ``group_by`` counts rows per group instead. Each
    of them may use only columns the actor reads in clear. ``unmask`` reads PII in clear
    (``dataset:unmask``: admin or steward, signed in with a second factor), audited.
    ``export`` is the CSV download (``dataset:export``), audited whatever the data.
    """
    action, event = (
        (DATASET_EXPORT, Event.DATASET_EXPORT) if export else (DATASET_READ, Event.DATASET_READ)
    )
    found = _open(ctx, actor, dataset_id, action, event)
    if unmask and not allowed(actor, DATASET_UNMASK, found.resource):
        with ctx.db.write() as session:
            audit.record(
                session, actor, Event.DATASET_UNMASK, "dataset", dataset_id, Outcome.DENIED
            )
        raise Forbidden(
            "reading personal data in clear (unmask) needs the dataset:unmask permission "
            "(admin or steward) and a sign-in with a second factor"
        )
    try:
        return _page(
            ctx, actor, found, limit=limit, offset=offset, order=order,
            filters=filters or {}, group_by=group_by, unmask=unmask, export=export,
        )  # fmt: skip
    except query.RowQueryError as error:
        raise InvalidInput(str(error)) from None


def _page(
    ctx: Context,
    actor: Actor,
    found: _Readable,
    *,
    limit: int,
    offset: int,
    order: Sequence[str],
    filters: Mapping[str, Sequence[str]],
    group_by: Sequence[str],
    unmask: bool,
    export: bool,
) -> RowsPage:
    """The page ``rows`` answers, once the actor may read the dataset at all: the read is
    checked against the columns they may use and audited before any data is read."""
    query.check_page(limit, offset)
    dataset_id, source, version = found.resource.id, found.source, found.version
    views = visible_columns(
        actor, source, _stored_columns(found), found.plan.masking, unmask=unmask
    )
    by_name = {v.name: v for v in views}
    want = query.shape(
        by_name, dataset_id, order=order, group_by=group_by, filters=filters,
        stable=source.load.key,
    )  # fmt: skip
    scope = row_scope(actor, source, found.plan.departments)
    _audit_read(ctx, actor, found, views, scope, export, unmask, filters, want.keys, want.groups)
    count = ColumnPublic(
        name=query.COUNT, type="integer", classification=None, pii=None, masking=None
    )
    columns = (
        [*(ColumnPublic(**_public(by_name[g])) for g in want.groups), count]
        if want.groups
        else [ColumnPublic(**_public(v)) for v in views]
    )
    if version is None:
        return RowsPage(
            dataset=dataset_id, version=None, columns=columns, rows=[], total=0,
            limit=limit, offset=offset,
        )  # fmt: skip
    with ctx.warehouse.session() as table:
        base = row_filter(table(dataset_id, version.version, version.files), scope)
        base = query.filtered(base, filters, by_name, dataset_id)
        total, page = query.read_page(
            ctx.warehouse, base, views, want, key=_hash_key(ctx, views), limit=limit,
            offset=offset,
        )  # fmt: skip
    return RowsPage(
        dataset=dataset_id,
        version=version.version,
        columns=columns,
        rows=page,
        total=total,
        limit=limit,
        offset=offset,
    )


@dataclass(frozen=True)
class GovernedRead:
    """A read that may go ahead: the dataset's version as it was opened (a long download
    reads that version to its end), the reader's columns and rows, the small-cell
    threshold."""

    found: _Readable
    views: list[ColumnView]
    scope: RowScope
    k: int

    @property
    def stable(self) -> list[str]:
        """The dataset's key columns the reader sees in clear: the rows' default order."""
        clear = {v.name for v in self.views if v.clear}
        return [k for k in self.found.source.load.key if k in clear]

    @property
    def version(self) -> DataVersion | None:
        return self.found.version


def open_read(ctx: Context, actor: Actor, dataset_id: str) -> GovernedRead:
    """Check that ``actor`` may read the dataset (PermissionDenied otherwise, as ``rows``)
    and audit the read as ``rows`` would; then build its table with :func:`governed_table`."""
    found = _open(ctx, actor, dataset_id, DATASET_READ, Event.DATASET_READ)
    views = visible_columns(actor, found.source, _stored_columns(found), found.plan.masking)
    scope = row_scope(actor, found.source, found.plan.departments)
    _audit_read(ctx, actor, found, views, scope, False, False, None, [], [])
    return GovernedRead(found, views, scope, found.plan.suppression.k)


@contextmanager
def governed_table(ctx: Context, read: GovernedRead) -> Iterator[ir.Table | None]:
    """The rows of ``read`` as the reader sees them (their rows, their columns, masked in
    the engine), as an Ibis table to query further inside the block; None with no data
    yet. The query must run inside the block."""
    version = read.found.version
    if version is None:
        yield None
        return
    with ctx.warehouse.session() as table:
        base = row_filter(table(read.found.resource.id, version.version, version.files), read.scope)
        yield query.as_seen(base, read.views, _hash_key(ctx, read.views))


def export_csv(ctx: Context, actor: Actor, dataset_id: str, **options: Any) -> str:
    """The rows ``rows`` gives (as ``dataset:export``), as CSV that a spreadsheet opens
    without running any cell as a formula."""
    options.setdefault("limit", MAX_LIMIT)
    page = rows(ctx, actor, dataset_id, export=True, **options)
    return query.to_csv([c.name for c in page.columns], page.rows)


def _public(view: ColumnView) -> dict[str, Any]:
    return {
        "name": view.name,
        "type": view.type,
        "classification": view.classification,
        "pii": view.pii,
        "masking": view.masking,
    }


def _hash_key(ctx: Context, views: list[ColumnView]) -> masking.KeyInQuery | None:
    """The hash keys for the query, when a column is hashed: as engine variables, so that
    the query's text (which an engine may log) does not carry them."""
    if not any(v.masking is Masking.HASH for v in views):
        return None
    key = masking.hash_key(secret_key(ctx.settings))
    if ctx.warehouse.set_variables(
        {masking.INNER_VARIABLE: key.inner, masking.OUTER_VARIABLE: key.outer}
    ):
        return masking.KeyInQuery.variables()
    return masking.KeyInQuery.literals(key)


def _audit_read(
    ctx: Context,
    actor: Actor,
    found: _Readable,
    views: list[ColumnView],
    scope: RowScope,
    export: bool,
    unmask: bool,
    filters: Mapping[str, Sequence[str]] | None,
    keys: list[tuple[str, bool]],
    groups: list[str],
) -> None:
    """Record the read before any data is read: an export always, a read when the dataset
    or a column it returns is confidential or restricted, an unmask always. Names of
    columns only, never values."""
    sensitive = found.source.classification in _AUDITED or any(
        (v.classification or Classification.RESTRICTED) in _AUDITED for v in views
    )
    if not (export or sensitive or unmask):
        return
    detail: dict[str, Any] = {
        "version": found.version.version if found.version else None,
        "columns": [v.name for v in views],
        "masked": [v.name for v in views if not v.clear],
        "rows": "all" if scope.everything else f"by {scope.column}",
        "filters": sorted(filters or {}),
        "order": [n for n, _ in keys],
        "group_by": groups,
    }
    dataset_id = found.resource.id
    with ctx.db.write() as session:
        if unmask:
            pii = [v.name for v in views if v.pii is not None]
            audit.record(session, actor, Event.DATASET_UNMASK, "dataset", dataset_id, columns=pii)
        if export or sensitive:
            event = Event.DATASET_EXPORT if export else Event.DATASET_READ
            audit.record(session, actor, event, "dataset", dataset_id, **detail)
