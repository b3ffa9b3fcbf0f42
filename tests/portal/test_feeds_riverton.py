"""The demo city's catalog feeds, as a harvester meets them: Riverton's data.json valid
DCAT-US (911 calls non-public, their approved measures published), and its whole public
catalog a valid Data Package, data included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import frictionless
import pytest
from fastapi.testclient import TestClient
from feeds_helpers import catalog_validator

from civicstat.demo.admin import approve_for_publication
from civicstat.demo.riverton import APPROVED_FOR_PUBLICATION, write_workspace
from civicstat.governance.actors import operator
from civicstat.services import ingest
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.web.app import create_app

ADMIN = operator("pytest")


@pytest.fixture(scope="module")
def riverton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Riverton at the demo tests' smallest size, applied, ingested, approved and served."""
    root = tmp_path_factory.mktemp("riverton")
    write_workspace(root, calls=30_000)
    settings = Settings(workspace=root)
    ctx = Context(settings)
    try:
        ctx.migrate()
        workspace_service.apply(ctx, ADMIN)
        for source in ("calls_911", "service_requests", "permits"):
            ingest.ingest(ctx, ADMIN, source)
        approve_for_publication(ctx, ADMIN, APPROVED_FOR_PUBLICATION)
        with TestClient(create_app(settings, ctx)) as client:
            yield client
    finally:
        ctx.close()


def test_riverton_data_json(riverton: TestClient, shared_data: Path) -> None:
    catalog = riverton.get("/data.json").json()
    validator = catalog_validator(shared_data / "dcat-us-schema" / "non-federal-v1.1")
    assert [e.message for e in validator.iter_errors(catalog)] == []
    levels = {d["identifier"].rsplit("/", 1)[-1]: d["accessLevel"] for d in catalog["dataset"]}
    assert levels["calls_911"] == "non-public"
    assert levels["service_requests"] == levels["permits"] == "public"
    for measure in APPROVED_FOR_PUBLICATION:
        assert levels[measure] == "public"


@pytest.mark.slow
def test_riverton_catalog_package_validates(riverton: TestClient, tmp_path: Path) -> None:
    descriptor = riverton.get("/datapackage.json").json()
    assert "calls_911" not in [r["name"] for r in descriptor["resources"]]
    for resource in descriptor["resources"]:
        data = riverton.get(urlsplit(resource["path"]).path)
        assert data.status_code == 200
        resource["path"] = f"{resource['name']}.csv"
        (tmp_path / resource["path"]).write_bytes(data.content)
    (tmp_path / "datapackage.json").write_text(json.dumps(descriptor))
    report = frictionless.validate(str(tmp_path / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:10]
