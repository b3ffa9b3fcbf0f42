"""``/openapi.json`` documents the public API only, as valid OpenAPI 3.1; the staff API
keeps its own document at ``/api/openapi.json``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from civicstat.services.context import Context
from civicstat.web.open_data.openapi import on_public_side, public_routes


@pytest.fixture
def client(example_ctx: Context, make_client: Callable[[Context], TestClient]) -> TestClient:
    return make_client(example_ctx)


def test_the_public_openapi_document_is_valid_3_1(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["etag"]
    document = response.json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    paths = set(document["paths"])
    assert {
        "/data.json",
        "/datapackage.json",
        "/openapi.json",
        "/api/3/action/package_list",
        "/api/3/action/package_show",
        "/api/3/action/package_search",
        "/api/3/action/organization_list",
        "/portal/datasets/{dataset_id}/datapackage.json",
        "/portal/measures/{measure_id}/data.csv",
        "/portal/measures/{measure_id}/data.json",
        "/resource/{dataset_id}.json",
        "/api/views/{dataset_id}.json",
        "/api/catalog/v1",
        "/portal/datasets/{dataset_id}/rows.csv",
        "/portal/datasets/{dataset_id}/rows.parquet",
    } <= paths
    assert set(document["paths"]["/api/3/action/package_show"]) == {"get"}


def test_it_documents_nothing_of_the_staff_side(client: TestClient) -> None:
    paths = set(client.get("/openapi.json").json()["paths"])
    assert not [p for p in paths if p.startswith(("/api/v1", "/login", "/admin", "/api/action"))]
    staff = client.get("/api/openapi.json").json()
    assert any(p.startswith("/api/v1") for p in staff["paths"])
    assert not [p for p in staff["paths"] if on_public_side(p)]  # and the staff one nothing public
    # Exactly the app's routes that the rule calls public, nothing left out.
    app = client.app
    expected = {str(r.path) for r in public_routes(app.routes)}  # type: ignore[attr-defined]
    assert paths == expected
