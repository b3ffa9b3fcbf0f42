"""The SODA read API and whole-dataset downloads: a public dataset read as ``actors.PUBLIC``
reads it (public datasets, public columns, personal data only generalised, masked in the
engine), through SoQL compiled to one Ibis query over the governed table, aggregates
passing small-cell suppression.

A dataset that is not public is answered exactly like one that does not exist (NotFound).
A query that cannot be read or run is InvalidInput, with a message naming columns, never
values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dtypes
import pyarrow as pa

from civicstat.governance.actors import PUBLIC
from civicstat.governance.soda_query import Compiled, Request, compile_request, read_request
from civicstat.governance.soql import SoqlError
from civicstat.services import datasets, open_data
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound, PermissionDenied
from civicstat.services.open_data import PublicDataset

log = logging.getLogger(__name__)
DOWNLOAD_BATCH = 20_000  # rows read at a time by a whole-dataset download
# The declared column types as the warehouse stores them (for a dataset with no data yet).
_DECLARED = {
    "string": "string",
    "integer": "int64",
    "float": "float64",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


@dataclass(frozen=True)
class SodaAnswer:
    """A SODA read's answer: the dataset (for its version and dates), the columns answered
    with their Socrata types (text, number, checkbox, floating_timestamp), and the rows."""

    dataset: PublicDataset
    columns: list[str]
    types: list[str]
    rows: list[dict[str, object]]


@dataclass(frozen=True)
class Download:
    """A whole public dataset, read in batches as the caller iterates ``batches``."""

    dataset: PublicDataset
    columns: list[str]
    types: list[str]
    schema: pa.Schema
    batches: Iterator[pa.Table]


def socrata_type(kind: dtypes.DataType) -> str:
    """Socrata's name for a column type."""
    if kind.is_boolean():
        return "checkbox"
    if kind.is_numeric():
        return "number"
    if kind.is_timestamp() or kind.is_date():
        return "floating_timestamp"
    return "text"


def query(ctx: Context, dataset_id: str, params: Sequence[tuple[str, str]]) -> SodaAnswer:
    """A ``/resource`` read: ``params`` are the query string's (``$select``, ``$where``,
    ``$group``…, ``column=value``), ``$limit`` 1,000 by default and 50,000 at most."""
    found = open_data.dataset(ctx, dataset_id)
    read = _open(ctx, dataset_id)
    try:
        request = read_request(params)
    except SoqlError as error:
        raise InvalidInput(str(error)) from None
    with datasets.governed_table(ctx, read) as table:
        compiled = _compile(_or_empty(table, read), request, read)
        result = _run(ctx, compiled)
        types = [socrata_type(compiled.query.schema()[c]) for c in compiled.columns]
    return SodaAnswer(found, compiled.columns, types, result.to_pylist())


def download(ctx: Context, dataset_id: str, *, batch: int = DOWNLOAD_BATCH) -> Download:
    """The whole dataset as the public reads it, in its default order, ``batch`` rows at a
    time (memory stays bounded), all from the version current when the download began."""
    found = open_data.dataset(ctx, dataset_id)
    read = _open(ctx, dataset_id)
    with datasets.governed_table(ctx, read) as table:
        shape = _compile(_or_empty(table, read), Request(limit=0), read)
        schema = shape.query.schema()
    columns = shape.columns
    types = [socrata_type(schema[c]) for c in columns]

    def batches() -> Iterator[pa.Table]:
        offset = 0
        while True:
            with datasets.governed_table(ctx, read) as table:
                if table is None:
                    return
                page = _compile(table, Request(limit=batch, offset=offset), read)
                rows = _run(ctx, page)
            if rows.num_rows:
                yield rows
            if rows.num_rows < batch:
                return
            offset += batch

    return Download(found, columns, types, schema.to_pyarrow(), batches())


def _open(ctx: Context, dataset_id: str) -> datasets.GovernedRead:
    try:
        return datasets.open_read(ctx, PUBLIC, dataset_id)
    except PermissionDenied:
        raise NotFound.of("dataset", dataset_id) from None


def _or_empty(table: ibis.Table | None, read: datasets.GovernedRead) -> ibis.Table:
    """The governed table; for a dataset with no data yet, an empty one of its columns."""
    if table is not None:
        return table
    schema = {v.name: _DECLARED.get(v.type, "string") for v in read.views}
    return ibis.memtable(pa.Table.from_pylist([], ibis.schema(schema).to_pyarrow()))


def _compile(table: ibis.Table, request: Request, read: datasets.GovernedRead) -> Compiled:
    try:
        return compile_request(table, request, k=read.k, stable=read.stable)
    except SoqlError as error:
        raise InvalidInput(str(error)) from None


def _run(ctx: Context, compiled: Compiled) -> pa.Table:
    """Run the query; an engine refusing it (a number overflowing, say) is the query's
    fault, answered without the engine's message, which may quote a value."""
    try:
        result: pa.Table = ctx.warehouse.execute(compiled.query)
    except Exception as error:
        log.info("a SODA query failed in the engine: %s", type(error).__name__)
        raise InvalidInput("the query could not be run: check its values and types") from None
    return result.select(compiled.columns)
