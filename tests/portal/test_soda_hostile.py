"""The SODA API before hostile callers: injection attempts, deep nesting, columns the public
may not see, datasets that are not public. Each is a 400 or a 404 that repeats no value,
and personal data never leaves except generalised."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from soda_helpers import PLACES, SECRET_NAME, publish

from civicstat.governance.actors import Actor
from civicstat.services.context import Context

MARKER = "Zq9Marker"


@pytest.fixture
def web(
    example_ctx: Context,
    example_root: Path,
    admin: Actor,
    make_client: Callable[[Context], TestClient],
) -> TestClient:
    publish(example_ctx, example_root, admin)
    return make_client(example_ctx)


def _get(web: TestClient, path: str, **params: str) -> tuple[int, str]:
    response = web.get(f"{path}?{urlencode(params)}" if params else path)
    return response.status_code, response.text


HOSTILE = [
        # SQL injection attempts: strings a careless server would paste into its SQL.
        {"$where": f"district = '{MARKER}' OR 1=1; DROP TABLE service_requests; --"},
        {"$where": f"district = '{MARKER}') UNION SELECT * FROM staff_notes --"},  # noqa: S608
        {"$select": f"request_id FROM staff_notes WHERE '{MARKER}'"},
        {"$order": f"request_id; DELETE FROM x WHERE '{MARKER}'"},  # noqa: S608
        {"$where": "(" * 5000 + f"'{MARKER}'" + ")" * 5000},
        {"$where": "NOT " * 1000 + f"district = '{MARKER}'"},
        {"$where": f"created_at > '{MARKER}'"},
        {"$where": f"district = 5 AND request_id = '{MARKER}'"},
        {"$select": f"sum(district), '{MARKER}'"},
        {"$limit": f"{MARKER}"},
        {"$limit": "50001"},
        {"$offset": "-1"},
        {"$bogus": MARKER},
        {"no_such_column": MARKER},
        {"$where": f"no_such_column = '{MARKER}'"},
        {"$having": f"count(*) > '{MARKER}'"},
]  # fmt: skip


def test_hostile_queries_are_400s_that_repeat_no_value(web: TestClient) -> None:
    for params in HOSTILE:  # one workspace for all: each would ingest it again
        status, body = _get(web, "/resource/service_requests.json", **params)
        assert status == 400, params
        error = json.loads(body)
        assert error["error"] is True
        assert error["code"]
        assert MARKER not in body, params


def test_a_personal_column_is_answered_like_a_missing_one(web: TestClient) -> None:
    hidden = json.loads(
        _get(web, "/resource/places.json", **{"$where": f"owner_name = '{SECRET_NAME}'"})[1]
    )
    missing = json.loads(
        _get(web, "/resource/places.json", **{"$where": f"nope_name = '{SECRET_NAME}'"})[1]
    )
    assert hidden["message"].replace("owner_name", "X") == missing["message"].replace(
        "nope_name", "X"
    )
    for params in ({"$select": "owner_name"}, {"$order": "owner_name"}, {"owner_name": SECRET_NAME},
                   {"$group": "owner_name", "$select": "owner_name"}):  # fmt: skip
        status, body = _get(web, "/resource/places.json", **params)
        assert status == 400
        assert SECRET_NAME not in body


def test_personal_data_never_leaves_except_generalised(web: TestClient) -> None:
    status, body = _get(web, "/resource/places.json", **{"$order": "place_id"})
    assert status == 200
    rows = json.loads(body)
    assert SECRET_NAME not in body
    assert "1234 Main" not in body
    assert [r.get("street_address") for r in rows] == [
        "1200 block of Main St",
        "0 block of Elm Ave",
        "0 block of Oak Rd",
        "900 block of Pine St",
        "1100 block of Main St",
    ]
    # Full text searches what the public sees, not the left-out names.
    assert json.loads(_get(web, "/resource/places.json", **{"$q": SECRET_NAME})[1]) == []
    # Filtering works on the generalised value only.
    found = _get(web, "/resource/places.json", **{"$where": "street_address like '%Main%'"})[1]
    assert sorted(r["place_id"] for r in json.loads(found)) == ["P1", "P5"]
    assert (
        _get(web, "/resource/places.json", **{"$where": "street_address = '1234 Main St, Apt 5'"})[
            1
        ]
        == "[]"
    )


PATHS = ["/resource/{}.json", "/resource/{}.csv", "/resource/{}.geojson", "/api/views/{}.json",
         "/api/views/{}/rows.csv", "/portal/datasets/{}/rows.parquet"]  # fmt: skip


def test_a_dataset_that_is_not_public_answers_like_a_missing_one(web: TestClient) -> None:
    for path in PATHS:
        hidden = web.get(path.format("staff_notes") + "?$where=body='x'")
        missing = web.get(path.format("staff_nope") + "?$where=body='x'")
        assert hidden.status_code == missing.status_code == 404, path
        assert hidden.json() == {**missing.json(), "message": "no dataset 'staff_notes'"}
        assert missing.json()["message"] == "no dataset 'staff_nope'"
        assert "etag" not in hidden.headers


def test_odd_dataset_names_and_formats_are_404s(web: TestClient) -> None:
    for path in ("/resource/..%2F..%2Fetc%2Fpasswd.json", "/resource/service_requests.xml",
                 f"/resource/{'x' * 500}.json"):  # fmt: skip
        response = web.get(path)
        assert response.status_code == 404
        assert "passwd" not in response.text
        assert "x" * 100 not in response.text


def test_an_engine_overflow_is_a_400_without_the_engines_words(web: TestClient) -> None:
    status, body = _get(
        web, "/resource/places.json", **{"$select": "sum(visits * 9223372036854775807)"}
    )
    assert status == 400
    assert "could not be run" in body
    assert "9223372036854775807" not in body


def test_geojson_of_coordinates(web: TestClient) -> None:
    response = web.get(
        "/resource/places.geojson?$order=place_id&$select=place_id,latitude,longitude"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.geo+json")
    features = response.json()["features"]
    expected = [
        {"type": "Point", "coordinates": [lon, lat]} if lat != "" else None
        for _, _, _, lat, lon, *_ in PLACES
    ]
    assert [f["geometry"] for f in features] == expected
    assert [f["properties"] for f in features] == [{"place_id": p[0]} for p in PLACES]
    refused = web.get("/resource/service_requests.geojson")
    assert refused.status_code == 400
    assert "latitude" in refused.json()["message"]


def test_headers_say_fields_types_and_version(web: TestClient, example_ctx: Context) -> None:
    from civicstat.services import open_data

    response = web.get("/resource/places.json?$select=place_id,visits,active,latitude")
    assert json.loads(response.headers["X-SODA2-Fields"]) == [
        "place_id",
        "visits",
        "active",
        "latitude",
    ]
    assert json.loads(response.headers["X-SODA2-Types"]) == ["text", "number", "checkbox", "number"]
    found = open_data.dataset(example_ctx, "places")
    assert response.headers["ETag"] == f'"{found.etag}"'
    assert response.headers["Last-Modified"].endswith(" GMT")
    first = response.json()[0]
    assert first == {"place_id": "P1", "visits": "12", "active": True, "latitude": "37.77"}


def test_a_resource_without_extension_is_json(web: TestClient) -> None:
    plain = web.get("/resource/places?$select=place_id&$order=place_id&$limit=2")
    assert plain.json() == [{"place_id": "P1"}, {"place_id": "P2"}]
    assert (
        plain.json()
        == web.get("/resource/places.json?$select=place_id&$order=place_id&$limit=2").json()
    )
