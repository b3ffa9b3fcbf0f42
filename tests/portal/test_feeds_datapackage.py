"""Frictionless Data Packages, per public dataset and for the whole public catalog: each
export passes ``frictionless validate``, data included, on files downloaded from the app
(frictionless reads local copies: it never goes to the network)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import frictionless
import pytest
import yaml
from fastapi.testclient import TestClient
from feeds_helpers import INTERNAL_DATASET, PUBLIC_DATASET, add_internal_dataset

from civicstat.governance.actors import Actor
from civicstat.services import ingest, open_data
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.services.open_feeds import published_measures

TYPES = {"string": "string", "integer": "integer", "float": "number", "boolean": "boolean",
         "date": "date", "timestamp": "datetime"}  # fmt: skip


@pytest.fixture
def published(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    """The example with the 311 requests loaded by merge on their ticket number."""
    add_internal_dataset(example_root)
    path = example_root / "sources" / "service_requests.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["load"] = {"mode": "merge", "key": ["request_id"]}
    path.write_text(yaml.safe_dump(spec))
    workspace_service.apply(example_ctx, admin)
    ingest.ingest(example_ctx, admin, PUBLIC_DATASET)
    return example_ctx


@pytest.fixture
def client(published: Context, make_client: Callable[[Context], TestClient]) -> TestClient:
    return make_client(published)


def download_package(client: TestClient, path: str, folder: Path) -> tuple[dict[str, Any], Path]:
    """The descriptor and a local copy of every resource, the descriptor pointing at them."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["etag"]
    descriptor = response.json()
    for resource in descriptor["resources"]:
        data = client.get(urlsplit(resource["path"]).path)
        assert data.status_code == 200, resource["path"]
        local = f"{resource['name']}.csv"
        (folder / local).write_bytes(data.content)
        resource["path"] = local
    written = folder / "datapackage.json"
    written.write_text(json.dumps(descriptor))
    return descriptor, written


def test_a_dataset_package_validates_with_its_data(
    client: TestClient, published: Context, tmp_path: Path
) -> None:
    descriptor, path = download_package(
        client, f"/portal/datasets/{PUBLIC_DATASET}/datapackage.json", tmp_path
    )
    report = frictionless.validate(str(path))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    found = open_data.dataset(published, PUBLIC_DATASET)
    assert found.row_count > 0
    assert report.tasks[0].stats["rows"] == found.row_count
    (resource,) = descriptor["resources"]
    schema = resource["schema"]
    assert [(f["name"], f["type"]) for f in schema["fields"]] == [
        (c.name, TYPES[c.type]) for c in found.columns
    ]
    assert schema["fields"][0]["description"] == "Ticket number in the 311 system"
    assert schema["primaryKey"] == ["request_id"]
    assert descriptor["licenses"][0]["path"] == found.license


def test_the_catalog_package_validates_with_every_resource(
    client: TestClient, published: Context, tmp_path: Path
) -> None:
    descriptor, path = download_package(client, "/datapackage.json", tmp_path)
    report = frictionless.validate(str(path))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    names = [r["name"] for r in descriptor["resources"]]
    public = [d.id for d in open_data.catalog(published)]
    measures = [m.id for m in published_measures(published)]
    assert names == public + [f"measure-{m}" for m in measures]
    assert INTERNAL_DATASET not in names
    assert all(task.stats["rows"] > 0 for task in report.tasks)


def test_a_dataset_that_is_not_public_has_no_package(client: TestClient) -> None:
    hidden = client.get(f"/portal/datasets/{INTERNAL_DATASET}/datapackage.json")
    missing = client.get("/portal/datasets/nothing/datapackage.json")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text.replace(INTERNAL_DATASET, "X") == missing.text.replace("nothing", "X")
