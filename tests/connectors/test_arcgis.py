"""The ``arcgis`` connector against a local FeatureServer layer, and the ``geojson`` reader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from connector_workspace import version_rows, workspace_with
from http_fault_server import (
    FaultServer,
    Reply,
    Seen,
    json_reply,
    local_context,
    payload_bytes,
    serving,
)
from pydantic import ValidationError

from civicstat.connectors.arcgis import ArcGISConnector, ArcGISOptions, read_geojson
from civicstat.connectors.base import ConnectorError, Payload
from civicstat.governance.actors import Actor
from civicstat.services import ingest as ingest_service
from civicstat.warehouse import readers

LAYER = "/arcgis/rest/services/Permits/BuildingPermits/FeatureServer/0"
MAX_RECORD_COUNT = 3


def feature(
    oid: int, permit: str, issued: int, value: float | None, zip_code: Any
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": oid,
        "geometry": {"type": "Point", "coordinates": [-77.43 - oid / 1000, 37.54 + oid / 1000]},
        "properties": {
            "OBJECTID": oid,
            "PermitNumber": permit,
            "IssueDate": issued,
            "Valuation": value,
            "Zip": zip_code,
        },
    }


FEATURES = [
    feature(1, "BLD2024-00101", 1704153600000, 12500.0, 23220),
    feature(2, "BLD2024-00102", 1704240000000, None, 23221),
    feature(3, "BLD2024-00107", 1704326400000, 880000.5, "23223-1201"),
    feature(4, "ELE2024-00011", 1704412800000, 950.0, 23224),
    feature(5, "BLD2024-00115", 1704499200000, 43000.0, 23225),
    {
        "type": "Feature",
        "id": 6,
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[-77.44, 37.55], [-77.43, 37.55], [-77.43, 37.56], [-77.44, 37.55]]],
        },
        "properties": {"OBJECTID": 6, "PermitNumber": "DEM2024-00003", "IssueDate": 1704585600000},
    },
    {
        "type": "Feature",
        "id": 7,
        "geometry": None,
        "properties": {
            "OBJECTID": 7,
            "PermitNumber": "BLD2024-00120",
            "IssueDate": None,
            "Valuation": None,
            "Zip": None,
        },
    },
]


def layer_api(seen: Seen) -> Reply:
    """A layer's query endpoint: pages of at most maxRecordCount features, flagged while more
    remain (top-level on even offsets, under ``properties`` on odd ones, as versions differ)."""
    if not seen.path.endswith(f"{LAYER}/query") or seen.query.get("f") != "geojson":
        return json_reply({"error": {"code": 400, "message": "Invalid URL", "details": []}})
    offset = int(seen.query.get("resultOffset", "0"))
    count = min(int(seen.query.get("resultRecordCount", MAX_RECORD_COUNT)), MAX_RECORD_COUNT)
    page: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": FEATURES[offset : offset + count],
    }
    if offset + count < len(FEATURES):
        if (offset // count) % 2 == 0:
            page["exceededTransferLimit"] = True
        else:
            page["properties"] = {"exceededTransferLimit": True}
    return Reply(200, json.dumps(page).encode(), {"Content-Type": "application/geo+json"})


@pytest.fixture
def layer() -> Iterator[FaultServer]:
    with serving(layer_api) as server:
        yield server


def arcgis(
    tmp_path: Path, server: FaultServer, env: dict[str, str] | None = None, **changes: Any
) -> ArcGISConnector:
    options = ArcGISOptions.model_validate({"url": server.url(LAYER)} | changes)
    made = ArcGISConnector(options, local_context(tmp_path, env=env or {}))
    made.sleep = lambda seconds: None
    return made


def features_of(payloads: list[Payload]) -> list[dict[str, Any]]:
    return [f for p in payloads for f in json.loads(payload_bytes(p))["features"]]


def test_every_feature_arrives_once_across_pages(tmp_path: Path, layer: FaultServer) -> None:
    payloads = list(arcgis(tmp_path, layer, order_by="OBJECTID").fetch())
    assert [p.name for p in payloads] == [
        "page-0001.geojson",
        "page-0002.geojson",
        "page-0003.geojson",
    ]
    assert {(p.format, p.content_type) for p in payloads} == {("geojson", "application/geo+json")}
    assert features_of(payloads) == FEATURES
    assert [s.query["resultOffset"] for s in layer.requests] == ["0", "3", "6"]
    query = layer.requests[0].query
    assert query["where"] == "1=1"
    assert query["outFields"] == "*"
    assert query["f"] == "geojson"
    assert query["orderByFields"] == "OBJECTID"
    assert "resultRecordCount" not in query


def test_a_page_size_below_the_layers_maximum_is_requested(
    tmp_path: Path, layer: FaultServer
) -> None:
    payloads = list(arcgis(tmp_path, layer, page_size=2, where="Valuation > 0").fetch())
    assert features_of(payloads) == FEATURES
    assert [s.query["resultOffset"] for s in layer.requests] == ["0", "2", "4", "6"]
    assert layer.requests[0].query["where"] == "Valuation > 0"


def test_the_token_comes_from_the_environment_and_is_never_shown(
    tmp_path: Path, layer: FaultServer
) -> None:
    env = {"GIS_TOKEN": "t0ken-xyz"}
    list(arcgis(tmp_path, layer, env, token_env="GIS_TOKEN").fetch())
    assert {s.query["token"] for s in layer.requests} == {"t0ken-xyz"}
    layer.inject(json_reply({"error": {"code": 498, "message": "Invalid token.", "details": []}}))
    with pytest.raises(ConnectorError, match="ArcGIS error 498: Invalid token") as caught:
        list(arcgis(tmp_path, layer, env, token_env="GIS_TOKEN").fetch())
    assert "token=***" in str(caught.value)
    assert "t0ken-xyz" not in str(caught.value)


def test_a_missing_token_variable_is_a_clear_error(tmp_path: Path, layer: FaultServer) -> None:
    with pytest.raises(ConnectorError, match="GIS_TOKEN is not set"):
        list(arcgis(tmp_path, layer, token_env="GIS_TOKEN").fetch())


def test_faults_mid_pull_are_retried(tmp_path: Path, layer: FaultServer) -> None:
    pages = arcgis(tmp_path, layer).fetch()
    first = next(pages)
    layer.inject(Reply(504), Reply(200, b'{"type": "FeatureCollection", "feat', cut_after=20))
    assert features_of([first, *pages]) == FEATURES


def test_truncated_geojson_is_reported(tmp_path: Path, layer: FaultServer) -> None:
    layer.inject(Reply(200, b'{"type": "FeatureCollection", "features": [{"type": "Fea'))
    with pytest.raises(
        ConnectorError, match=r"page 1 from .*/FeatureServer/0/query\?.*not valid JSON"
    ):
        list(arcgis(tmp_path, layer).fetch())


def test_a_layer_that_ignores_result_offset_is_caught(tmp_path: Path) -> None:
    def stuck(seen: Seen) -> Reply:
        return json_reply(
            {"type": "FeatureCollection", "features": FEATURES[:3], "exceededTransferLimit": True}
        )

    with serving(stuck) as server, pytest.raises(ConnectorError, match="identical to page 1"):
        list(arcgis(tmp_path, server).fetch())


def test_an_answer_that_is_not_a_feature_collection_is_refused(tmp_path: Path) -> None:
    with (
        serving(lambda seen: json_reply({"features": "none"})) as server,
        pytest.raises(ConnectorError, match="not a GeoJSON FeatureCollection"),
    ):
        list(arcgis(tmp_path, server).fetch())


@pytest.mark.parametrize(
    "url",
    [
        "https://gis.example.gov/arcgis/rest/services/Permits/FeatureServer",
        "https://gis.example.gov/arcgis/rest/services/Permits/FeatureServer/0/query",
        "file:///srv/arcgis/rest/services/Permits/FeatureServer/0",
    ],
)
def test_only_a_layer_url_is_accepted(url: str) -> None:
    with pytest.raises(ValidationError, match="layer URL"):
        ArcGISOptions(url=url)


def test_a_map_server_layer_is_accepted() -> None:
    assert ArcGISOptions(url="https://gis.example.gov/arcgis/rest/services/Zoning/MapServer/12/")


# --- the geojson reader -----------------------------------------------------------------


def landed(tmp_path: Path, payloads: list[Payload]) -> list[str]:
    paths = []
    for payload in payloads:
        path = tmp_path / payload.name
        path.write_bytes(payload_bytes(payload))
        paths.append(str(path))
    return paths


def test_the_geojson_reader_is_registered() -> None:
    assert readers.get("geojson") is read_geojson


def test_features_become_rows_with_properties_geometry_and_filename(
    tmp_path: Path, layer: FaultServer
) -> None:
    paths = landed(tmp_path, list(arcgis(tmp_path, layer).fetch()))
    con = duckdb.connect(":memory:")
    read_geojson(con, paths, {})
    columns = [(name, kind) for name, kind, *_ in con.execute("DESCRIBE raw0").fetchall()]
    names = ["OBJECTID", "PermitNumber", "IssueDate", "Valuation", "Zip", "geometry", "filename"]
    assert columns == [(name, "VARCHAR") for name in names]  # the loader types them
    rows = con.execute("SELECT * FROM raw0").fetchall()
    assert [r[0] for r in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert rows[0][1:5] == ("BLD2024-00101", "1704153600000", "12500.0", "23220")
    assert rows[1][3] is None
    assert rows[2][4] == "23223-1201"
    assert json.loads(rows[5][5]) == FEATURES[5]["geometry"]
    assert rows[6][5] is None
    assert [r[6] for r in rows] == [paths[0]] * 3 + [paths[1]] * 3 + [paths[2]]


def test_an_empty_layer_reads_as_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "page-0001.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    con = duckdb.connect(":memory:")
    read_geojson(con, [str(path)], {})
    assert con.execute("SELECT count(*) FROM raw0").fetchone() == (0,)


def test_a_property_named_like_a_reserved_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "page-0001.geojson"
    clash = {"type": "Feature", "geometry": None, "properties": {"Geometry": "POINT (1 2)"}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [clash]}))
    with pytest.raises(readers.ReadError, match="'Geometry' clashes with column 'geometry'"):
        read_geojson(duckdb.connect(":memory:"), [str(path)], {})


# --- end to end -------------------------------------------------------------------------


def test_an_arcgis_layer_is_ingested_with_its_geometry(
    tmp_path: Path, layer: FaultServer, admin: Actor
) -> None:
    source = {
        "id": "permits",
        "connector": "arcgis",
        "options": {"url": layer.url(LAYER), "order_by": "OBJECTID"},
        "columns": [
            {"name": "objectid", "type": "integer", "source_column": "OBJECTID"},
            {"name": "permit", "type": "string", "source_column": "PermitNumber"},
            {"name": "issued_ms", "type": "integer", "source_column": "IssueDate"},
            {"name": "valuation", "type": "float", "source_column": "Valuation"},
            {"name": "zip", "type": "string", "source_column": "Zip"},
            {"name": "geometry", "type": "string"},
        ],
    }
    with workspace_with(tmp_path / "ws", source, admin) as ctx:
        result = ingest_service.ingest(ctx, admin, "permits").result
        assert result.status == "succeeded"
        assert [f.original_name for f in result.raw_files] == [
            "page-0001.geojson",
            "page-0002.geojson",
            "page-0003.geojson",
        ]
        assert result.version is not None
        rows = version_rows(ctx, result.version, "objectid, permit, valuation, zip, geometry")
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert rows[0][1:4] == ("BLD2024-00101", 12500.0, "23220")
    assert rows[2][3] == "23223-1201"
    assert json.loads(rows[5][4]) == FEATURES[5]["geometry"]
    assert rows[6][4] is None


def test_geojson_nested_past_the_parsers_recursion_is_reported(
    tmp_path: Path, layer: FaultServer
) -> None:
    layer.inject(Reply(200, b'{"features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    with pytest.raises(ConnectorError, match=r"page 1 from .*not valid JSON \(maximum recursion"):
        list(arcgis(tmp_path, layer).fetch())
