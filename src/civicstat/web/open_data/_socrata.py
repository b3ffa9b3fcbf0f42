"""Values and documents as Socrata writes them: numbers as strings and null fields left
out of ``/resource`` JSON, floating timestamps with milliseconds, the error object, view
metadata (``/api/views``) and the Discovery API's catalog entries (``/api/catalog/v1``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterable, Mapping, Sequence
from email.utils import format_datetime
from typing import Any

from fastapi.responses import JSONResponse

from civicstat.services.open_data import PublicColumn, PublicDataset
from civicstat.web.downloads import safe_cell

# Our declared column types as Socrata names them.
DECLARED_TYPES = {
    "string": "text",
    "integer": "number",
    "float": "number",
    "boolean": "checkbox",
    "date": "floating_timestamp",
    "timestamp": "floating_timestamp",
}
_LATITUDE = ("latitude", "lat")
_LONGITUDE = ("longitude", "lon", "lng")


def text_of(value: Any) -> Any:
    """A value as Socrata's JSON carries it: a number as a string, a timestamp as
    ``2024-01-31T08:00:00.000``, a boolean as a boolean."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00.000"
    return str(value)


def json_row(columns: Sequence[str], row: Mapping[str, Any]) -> dict[str, Any]:
    """One row of ``/resource`` JSON: null fields are left out, as Socrata does."""
    found = {}
    for name in columns:
        value = text_of(row.get(name))
        if value is not None:
            found[name] = value
    return found


def csv_cell(value: Any) -> str:
    """One CSV cell in Socrata's forms, never a formula to a spreadsheet."""
    shown = text_of(value)
    if isinstance(shown, bool):
        return "true" if shown else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return shown or ""  # a number, negative ones included, is no formula
    return safe_cell(shown)


def csv_line(cells: Iterable[Any]) -> str:
    """One CSV line, every cell quoted as Socrata quotes them."""
    quoted = ('"' + csv_cell(c).replace('"', '""') + '"' for c in cells)
    return ",".join(quoted) + "\n"


def soda_headers(
    dataset: PublicDataset, columns: Sequence[str], types: Sequence[str]
) -> dict[str, str]:
    headers = {
        "X-SODA2-Fields": json.dumps(list(columns)),
        "X-SODA2-Types": json.dumps(list(types)),
    }
    return headers | caching(dataset)


def caching(dataset: PublicDataset) -> dict[str, str]:
    """ETag, Last-Modified and Cache-Control for answers computed from the dataset."""
    headers = {"ETag": f'"{dataset.etag}"', "Cache-Control": "public, max-age=300"}
    if dataset.modified is not None:
        modified = dataset.modified
        if modified.tzinfo is None:
            modified = modified.replace(tzinfo=dt.UTC)
        headers["Last-Modified"] = format_datetime(modified.astimezone(dt.UTC), usegmt=True)
    return headers


def error(status: int, code: str, message: str) -> JSONResponse:
    """Socrata's error object."""
    body = {"code": code, "error": True, "message": message, "data": {}}
    return JSONResponse(body, status_code=status)


def point_columns(columns: Sequence[str], types: Sequence[str]) -> tuple[str, str] | None:
    """The latitude and longitude columns among the answer's number columns, if any."""
    numbers = {c for c, t in zip(columns, types, strict=True) if t == "number"}
    latitude = next((c for c in _LATITUDE if c in numbers), None)
    longitude = next((c for c in _LONGITUDE if c in numbers), None)
    return (latitude, longitude) if latitude and longitude else None


def feature(
    row: Mapping[str, Any], columns: Sequence[str], point: tuple[str, str]
) -> dict[str, Any]:
    latitude, longitude = row.get(point[0]), row.get(point[1])
    geometry = None
    if isinstance(latitude, int | float) and isinstance(longitude, int | float):
        geometry = {"type": "Point", "coordinates": [float(longitude), float(latitude)]}
    properties = json_row([c for c in columns if c not in point], row)
    return {"type": "Feature", "geometry": geometry, "properties": properties}


def _epoch(moment: dt.datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def _column(position: int, column: PublicColumn) -> dict[str, Any]:
    kind = DECLARED_TYPES.get(column.type, "text")
    return {
        "id": position,
        "name": column.name,
        "fieldName": column.name,
        "dataTypeName": kind,
        "renderTypeName": kind,
        "description": column.description or "",
        "position": position,
        "format": {},
    }


def view(dataset: PublicDataset, base_url: str) -> dict[str, Any]:
    """``/api/views/{id}.json``: the dataset as Socrata's view metadata describes it."""
    contact = dataset.contact
    return {
        "id": dataset.id,
        "name": dataset.title,
        "description": dataset.description or "",
        "assetType": "dataset",
        "attribution": dataset.department_title,
        "category": dataset.themes[0] if dataset.themes else None,
        "tags": dataset.keywords,
        "displayType": "table",
        "viewType": "tabular",
        "provenance": "official",
        "publicationStage": "published",
        "createdAt": _epoch(dataset.issued),
        "publicationDate": _epoch(dataset.issued),
        "rowsUpdatedAt": _epoch(dataset.modified),
        "viewLastModified": _epoch(dataset.modified),
        "license": {"name": dataset.license, "termsLink": dataset.license}
        if dataset.license
        else None,
        "columns": [_column(i, c) for i, c in enumerate(dataset.columns, 1)],
        "metadata": {
            "custom_fields": {
                "Update": {"Frequency": str(dataset.frequency)},
                "Contact": {"Name": contact.name, "Email": contact.email} if contact else {},
            },
            "rowCount": dataset.row_count,
        },
        "dataUri": f"{base_url}/resource/{dataset.id}.json",
    }


def catalog_entry(dataset: PublicDataset, base_url: str, domain: str) -> dict[str, Any]:
    """One result of the Discovery API (``/api/catalog/v1``)."""
    updated = dataset.modified.isoformat() if dataset.modified else None
    created = dataset.issued.isoformat() if dataset.issued else None
    return {
        "resource": {
            "name": dataset.title,
            "id": dataset.id,
            "parent_fxf": [],
            "description": dataset.description or "",
            "attribution": dataset.department_title,
            "contact_email": dataset.contact.email if dataset.contact else None,
            "type": "dataset",
            "updatedAt": updated,
            "createdAt": created,
            "data_updated_at": updated,
            "columns_name": [c.name for c in dataset.columns],
            "columns_field_name": [c.name for c in dataset.columns],
            "columns_datatype": [DECLARED_TYPES.get(c.type, "text") for c in dataset.columns],
            "columns_description": [c.description or "" for c in dataset.columns],
            "columns_format": [{} for _ in dataset.columns],
            "provenance": "official",
            "lens_view_type": "tabular",
            "lens_display_type": "table",
        },
        "classification": {
            "categories": [],
            "tags": [],
            "domain_category": dataset.themes[0] if dataset.themes else None,
            "domain_tags": dataset.keywords,
            "domain_metadata": [],
        },
        "metadata": {"domain": domain, "license": dataset.license},
        "permalink": f"{base_url}/portal/datasets/{dataset.id}",
        "link": f"{base_url}/portal/datasets/{dataset.id}",
    }
