"""The ``arcgis`` connector: features of an ArcGIS FeatureServer or MapServer layer, as GeoJSON.

Cities keep parcels, permits, incidents and assets in ArcGIS; a layer's ``query`` endpoint
pages with ``resultOffset`` and says ``exceededTransferLimit`` while more features remain.
Geometry is kept as GeoJSON text, so no GIS library is needed to load it and nothing about
it is lost. This module also holds the ``geojson`` reader that loads such payloads,
registered in the ``civicstat.readers`` entry point group.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import httpx
import pyarrow as pa
from pydantic import Field, field_validator

from civicstat.connectors._net import Net, NetworkOptions, Pages, Sleep
from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload
from civicstat.excerpt import excerpt, quoted
from civicstat.spec.boundary import EnvName
from civicstat.warehouse import readers

_LAYER = re.compile(r"/(FeatureServer|MapServer)/\d+/?$", re.IGNORECASE)
_RESERVED = ("geometry", "filename")


class ArcGISOptions(NetworkOptions):
    """Options of the ``arcgis`` connector."""

    url: str = Field(
        description="Layer URL, e.g. https://…/arcgis/rest/services/Parcels/FeatureServer/0"
    )
    where: str = Field("1=1", min_length=1, description="SQL where clause of the layer query")
    out_fields: str = Field("*", min_length=1, description="Comma-separated fields, or *")
    order_by: str | None = Field(
        None, description="orderByFields, e.g. OBJECTID: a stable order for paging"
    )
    page_size: int | None = Field(
        None, ge=1, description="resultRecordCount; default: the layer's maxRecordCount"
    )
    token_env: EnvName | None = Field(
        None, description="Environment variable holding a token (sent as the token parameter)"
    )
    max_pages: int = Field(10_000, ge=1, description="More pages than this fails the pull")

    @field_validator("url")
    @classmethod
    def _layer_url(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not _LAYER.search(url.path):
            raise ValueError(
                "url must be an http(s) layer URL ending in /FeatureServer/<n> or /MapServer/<n>"
            )
        return value


class ArcGISConnector:
    """Pulls every feature of a layer; each page is one GeoJSON FeatureCollection payload."""

    Options: ClassVar[type[ArcGISOptions]] = ArcGISOptions

    def __init__(self, options: ArcGISOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context
        self.sleep: Sleep = time.sleep  # tests replace it to check backoff without waiting

    def query(self) -> dict[str, str]:
        """The query parameters every page shares (resultOffset is added per page)."""
        o = self.options
        params = {"where": o.where, "outFields": o.out_fields, "returnGeometry": "true"}
        params["f"] = "geojson"
        if o.order_by:
            params["orderByFields"] = o.order_by
        if o.page_size:
            params["resultRecordCount"] = str(o.page_size)
        if o.token_env:
            params["token"] = self.context.secret(o.token_env, "the ArcGIS token", "token_env")
        return params

    def fetch(self) -> Iterator[Payload]:
        o = self.options
        url = o.url.rstrip("/") + "/query"
        query = self.query()
        pages = Pages(o.max_pages)
        offset = 0
        with Net(self.context, o, secret_params=["token"], sleep=self.sleep) as net:
            while True:
                params = {**query, "resultOffset": str(offset)}
                response = net.request("GET", url, params=params)
                shown = net.shown(response.url)
                features, more = _page(response.content, pages.count + 1, shown)
                if not features:
                    return  # the end; an empty pull gives no payload and changes nothing
                number = pages.add(response.content, shown)
                content_type = response.headers.get("content-type", "application/geo+json")
                yield Payload(
                    f"page-{number:04d}.geojson",
                    "geojson",
                    content_type,
                    partial(io.BytesIO, response.content),
                )
                if not more:
                    return
                offset += len(features)
                pages.more()

    def read_options(self) -> dict[str, Any]:
        return {}


def _page(body: bytes, number: int, shown: str) -> tuple[list[Any], bool]:
    """A page's features, and whether the layer says more remain."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ConnectorError(
            f"page {number} from {shown} is not valid JSON ({error}); the response may have "
            "been cut off"
        ) from error
    if isinstance(document, dict) and isinstance(document.get("error"), dict):
        failure = document["error"]  # ArcGIS reports errors with HTTP 200 and this body
        details = " ".join(map(str, failure.get("details") or []))
        said = f"{failure.get('message', 'no message')} {details}".rstrip()
        raise ConnectorError(
            f"page {number} from {shown}: ArcGIS error {excerpt(failure.get('code', '?'), 20)}: "
            f"{excerpt(said)}"
        )
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise ConnectorError(f"page {number} from {shown} is not a GeoJSON FeatureCollection")
    properties = document.get("properties")
    more = bool(
        document.get("exceededTransferLimit")
        or (isinstance(properties, dict) and properties.get("exceededTransferLimit"))
    )
    return features, more


# --- the geojson reader (entry point civicstat.readers) --------------------------------


def read_geojson(con: duckdb.DuckDBPyConnection, paths: list[str], options: dict[str, Any]) -> None:
    """Stage GeoJSON FeatureCollections as ``raw0``: one row per feature, in file order.

    Columns are the features' properties (in the order first seen; a property missing from
    a feature is NULL), ``geometry`` (the feature's geometry as GeoJSON text) and
    ``filename``. Like every reader's, values are staged as text (numbers as JSON writes
    them, nested values as JSON) for the loader to type and to report.
    """
    columns: dict[str, list[Any]] = {}
    taken = {name: name for name in _RESERVED}
    geometry: list[str | None] = []
    filenames: list[str] = []
    for path in paths:
        for feature in _features(path):
            properties = feature.get("properties") or {}
            for key in properties:
                if key not in columns:
                    if key.lower() in taken:
                        raise readers.ReadError(
                            f"{Path(path).name}: property {quoted(key)} clashes with column "
                            f"{quoted(taken[key.lower()])} (names are case-insensitive)"
                        )
                    taken[key.lower()] = key
                    columns[key] = [None] * len(filenames)
            for key, values in columns.items():
                values.append(_text(properties.get(key)))
            shape = feature.get("geometry")
            geometry.append(None if shape is None else json.dumps(shape, separators=(",", ":")))
            filenames.append(path)
    arrays = {key: pa.array(values, pa.string()) for key, values in columns.items()}
    arrays["geometry"] = pa.array(geometry, pa.string())
    arrays["filename"] = pa.array(filenames, pa.string())
    table = pa.table(arrays)
    con.register("_geojson_features", table)
    try:
        con.execute("CREATE TEMP TABLE raw0 AS SELECT * FROM _geojson_features")
    finally:
        con.unregister("_geojson_features")


def _features(path: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(Path(path).read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise readers.ReadError(f"{Path(path).name} is not valid GeoJSON: {error}") from error
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
        raise readers.ReadError(f"{Path(path).name} is not a GeoJSON FeatureCollection")
    return features


def _text(value: Any) -> str | None:
    """A property as text, the way DuckDB's ``->>`` gives a JSON value (as the json reader)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
