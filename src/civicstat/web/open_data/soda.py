"""A SODA-compatible read API (Socrata's /resource and /api/views): SoQL parsed into a tree and
run through the governed row query.

``/resource/{id}.json|.csv|.geojson`` answers as Socrata does (numbers as strings in
JSON, null fields left out, ``X-SODA2-Fields`` and ``X-SODA2-Types``), ``/api/views/{id}.json``
with the view metadata ``sodapy``'s ``get_metadata`` reads, ``/api/catalog/v1`` with the
Discovery API's shape that its ``datasets`` reads. Errors are Socrata's error object; a
dataset that is not public answers 404 exactly like a missing one.
"""

from __future__ import annotations

import json
import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from civicstat.services import open_data, soda
from civicstat.services.errors import InvalidInput, NotFound
from civicstat.services.open_data import PublicDataset
from civicstat.web.deps import Ctx
from civicstat.web.open_data import _socrata

router = APIRouter()
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CATALOG_LIMIT = 100  # the Discovery API's default page
_CATALOG_MAX = 10_000


def not_found(dataset_id: str) -> Response:
    """The one answer for a dataset that does not exist or is not public."""
    message = str(NotFound.of("dataset", dataset_id)) if _ID.match(dataset_id) else "no dataset"
    return _socrata.error(404, "not_found", message)


def bad_query(error: InvalidInput) -> Response:
    return _socrata.error(400, "query.compiler.malformed", str(error))


@router.get("/resource/{dataset_id}.json")
def resource_json(dataset_id: str, request: Request, ctx: Ctx) -> Response:
    """A SODA read as JSON: ``$select``, ``$where``, ``$order``, ``$group``, ``$having``,
    ``$limit``, ``$offset``, ``$q``, ``$query`` and ``column=value``."""
    return resource(ctx, dataset_id, request, "json")


@router.get("/resource/{dataset_id}.csv")
def resource_csv(dataset_id: str, request: Request, ctx: Ctx) -> Response:
    """A SODA read as CSV."""
    return resource(ctx, dataset_id, request, "csv")


@router.get("/resource/{dataset_id}.geojson")
def resource_geojson(dataset_id: str, request: Request, ctx: Ctx) -> Response:
    """A SODA read as GeoJSON points, for a dataset with latitude and longitude."""
    return resource(ctx, dataset_id, request, "geojson")


@router.get("/resource/{dataset_id}")
def resource_plain(dataset_id: str, request: Request, ctx: Ctx) -> Response:
    """A SODA read without an extension: JSON, as Socrata answers it (registered after the
    addresses with an extension, which it would otherwise take)."""
    return resource(ctx, dataset_id, request, "json")


def resource(ctx: Ctx, dataset_id: str, request: Request, extension: str) -> Response:
    try:
        answer = soda.query(ctx, dataset_id, request.query_params.multi_items())
    except NotFound:
        return not_found(dataset_id)
    except InvalidInput as error:
        return bad_query(error)
    headers = _socrata.soda_headers(answer.dataset, answer.columns, answer.types)
    if extension == "csv":
        lines = [_socrata.csv_line(answer.columns)]
        lines += [_socrata.csv_line(r.get(c) for c in answer.columns) for r in answer.rows]
        return Response("".join(lines), media_type="text/csv; charset=utf-8", headers=headers)
    if extension == "geojson":
        return _geojson(answer, headers)
    body = [_socrata.json_row(answer.columns, row) for row in answer.rows]
    return JSONResponse(body, headers=headers)


def _geojson(answer: soda.SodaAnswer, headers: dict[str, str]) -> Response:
    point = _socrata.point_columns(answer.columns, answer.types)
    if point is None:
        return _socrata.error(
            400,
            "query.execution.noGeometry",
            "GeoJSON needs latitude and longitude number columns (latitude/longitude or "
            "lat/lon) in the answer; this dataset or this $select has none",
        )
    features = [_socrata.feature(row, answer.columns, point) for row in answer.rows]
    body = {"type": "FeatureCollection", "features": features, "crs": _CRS}
    return Response(json.dumps(body), media_type="application/vnd.geo+json", headers=headers)


_CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}


@router.get("/api/views/{dataset_id}.json")
def view(dataset_id: str, request: Request, ctx: Ctx) -> Response:
    """A dataset's Socrata view metadata (``sodapy``'s ``get_metadata``)."""
    try:
        found = open_data.dataset(ctx, dataset_id)
    except NotFound:
        return not_found(dataset_id)
    body = _socrata.view(found, _base(request))
    return JSONResponse(body, headers=_socrata.caching(found))


@router.get("/api/catalog/v1")
def catalog(request: Request, ctx: Ctx) -> Response:
    """The Discovery API: public datasets matching ``q``, ``ids``, ``tags``,
    ``categories``, ``only`` and ``domains``, paged by ``limit`` and ``offset``."""
    params = request.query_params
    try:
        limit = _bounded(params.get("limit"), _CATALOG_LIMIT, _CATALOG_MAX, "limit")
        offset = _bounded(params.get("offset"), 0, 2**31, "offset")
    except InvalidInput as error:
        return _socrata.error(400, "invalid_parameter", str(error))
    domain = request.url.netloc
    found = [d for d in open_data.catalog(ctx) if _matches(d, params.multi_items(), domain)]
    base = _base(request)
    results = [_socrata.catalog_entry(d, base, domain) for d in found[offset : offset + limit]]
    return JSONResponse(
        {"results": results, "resultSetSize": len(found), "timings": {}, "warnings": []},
        headers={"Cache-Control": "public, max-age=300"},
    )


def _bounded(text: str | None, default: int, high: int, name: str) -> int:
    if text is None or not text.strip():
        return default
    if not re.fullmatch(r"[0-9]{1,10}", text.strip()) or int(text) > high:
        raise InvalidInput(f"{name} must be a whole number up to {high:,}")
    return int(text)


def _matches(dataset: PublicDataset, params: list[tuple[str, str]], domain: str) -> bool:
    wanted: dict[str, list[str]] = {}
    for name, value in params:
        wanted.setdefault(name, []).append(value)
    hosts = {domain, domain.split(":")[0]}
    if "domains" in wanted and not hosts & {d for v in wanted["domains"] for d in v.split(",")}:
        return False
    if "ids" in wanted and dataset.id not in wanted["ids"]:
        return False
    if "only" in wanted and not {"dataset", "datasets"} & {o.lower() for o in wanted["only"]}:
        return False
    keywords = {k.lower() for k in dataset.keywords}
    if "tags" in wanted and not all(t.lower() in keywords for t in wanted["tags"]):
        return False
    themes = {t.lower() for t in dataset.themes}
    if "categories" in wanted and not all(c.lower() in themes for c in wanted["categories"]):
        return False
    return all(_text_matches(dataset, q) for q in wanted.get("q", []))


def _text_matches(dataset: PublicDataset, q: str) -> bool:
    """Every word of ``q`` in the title, description, keywords, themes or column names."""
    words = [*dataset.keywords, *dataset.themes, *(c.name for c in dataset.columns)]
    haystack = " ".join([dataset.title, dataset.description or "", *words]).lower()
    return all(word in haystack for word in q.lower().split())


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")
