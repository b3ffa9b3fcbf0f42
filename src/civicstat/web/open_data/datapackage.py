"""Frictionless Data Packages: one per public dataset (its CSV download with a Table Schema
from the public columns) and one for the whole public catalog, which adds every published
measure's series."""

from __future__ import annotations

import string
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from civicstat.services import open_data, open_feeds
from civicstat.services.open_data import PublicDataset
from civicstat.services.open_feeds import Portal, PublishedMeasure
from civicstat.web.deps import Ctx
from civicstat.web.open_data import measures as measure_routes
from civicstat.web.open_data._feeds import Links, iso, json_answer

router = APIRouter(tags=["Data Packages"])

# Declared column types → Table Schema field types.
FIELD_TYPES = {
    "string": "string",
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "datetime",
}
# How the downloads write values that Table Schema would otherwise not read.
_TRUE, _FALSE = ["true"], ["false"]
_NAME_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "._")


@router.get(
    "/portal/datasets/{dataset_id}/datapackage.json",
    summary="A public dataset as a Frictionless Data Package",
)
def dataset_package(dataset_id: str, request: Request, ctx: Ctx) -> Response:
    """The dataset's CSV download described by a Table Schema (its data dictionary)."""
    found = open_data.dataset(ctx, dataset_id)  # NotFound unless public
    site = open_feeds.portal(ctx)
    links = Links.of(request, site)
    body = _package(site, name=found.id, title=found.title)
    body |= {
        "description": found.description or found.title,
        "homepage": links.dataset_page(found.id),
        "keywords": found.keywords or found.themes or [found.department_title],
        "resources": [resource(links, found)],
    }
    if found.license:
        body["licenses"] = [{"path": found.license, "title": found.license}]
    if found.issued is not None:
        body["created"] = iso(found.issued.replace(microsecond=0))
    return json_answer(body, open_feeds.stamp(site, [found]))


@router.get("/datapackage.json", summary="The whole public catalog as a Data Package")
def catalog_package(request: Request, ctx: Ctx) -> Response:
    """One resource per public dataset, and one per published measure's series."""
    site = open_feeds.portal(ctx)
    datasets = open_data.catalog(ctx)
    published = open_feeds.published_measures(ctx)
    links = Links.of(request, site)
    body = _package(site, name=_name(site.title), title=site.title)
    body |= {
        "description": f"Every public dataset and published performance measure of "
        f"{site.publisher}.",
        "homepage": links.at("/portal"),
        "resources": [resource(links, d) for d in datasets]
        + [measure_resource(links, m) for m in published],
    }
    if site.license:
        body["licenses"] = [{"path": site.license, "title": site.license}]
    return json_answer(body, open_feeds.stamp(site, datasets, published))


def resource(links: Links, found: PublicDataset) -> dict[str, Any]:
    """A public dataset's CSV download as a tabular data resource."""
    fields = []
    for column in found.columns:
        field: dict[str, Any] = {"name": column.name, "type": FIELD_TYPES.get(column.type, "any")}
        if column.description:
            field["description"] = column.description
        if field["type"] == "boolean":
            field |= {"trueValues": _TRUE, "falseValues": _FALSE}
        fields.append(field)
    schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
    if found.primary_key:
        schema["primaryKey"] = list(found.primary_key)
    return {
        "name": _name(found.id),
        "title": found.title,
        "description": found.description or found.title,
        "path": links.download(found.id, "csv"),
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": schema,
    }


def measure_resource(links: Links, measure: PublishedMeasure) -> dict[str, Any]:
    """A published measure's series as a tabular data resource; its definition is at
    ``describedBy`` (the series' JSON)."""
    fields: list[dict[str, Any]] = [
        {"name": name, "type": kind, "description": description}
        for name, kind, description in measure_routes.COLUMNS
    ]
    for field in fields:
        if field["type"] == "boolean":
            field |= {"trueValues": _TRUE, "falseValues": _FALSE}
    return {
        "name": _name(f"measure-{measure.id}"),
        "title": measure.title,
        "description": measure.in_words,
        "path": links.measure_data(measure.id, "csv"),
        "describedBy": links.measure_data(measure.id, "json"),
        "profile": "tabular-data-resource",
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "schema": {"fields": fields, "missingValues": [""]},
    }


def _package(site: Portal, *, name: str, title: str) -> dict[str, Any]:
    return {
        "profile": "tabular-data-package",
        "name": _name(name),
        "title": title,
        "contributors": [{"title": site.publisher, "role": "publisher"}],
    }


def _name(text: str) -> str:
    """A Data Package name: lower case letters, digits and ``-._``."""
    lowered = "".join(c if c in _NAME_CHARACTERS else "-" for c in text.lower())
    return "-".join(part for part in lowered.split("-") if part) or "data"
