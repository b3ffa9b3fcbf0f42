"""The inventory as a page and through the API: what each dataset is and who answers for
it; a dataset the visitor may not read is not listed, and answers 404."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import MakeUser, parse, sign_in, table_rows

from civicstat.governance.actors import Actor, Role
from civicstat.services import ingest, workspace
from civicstat.services.context import Context

DATASET = "service_requests"
AGREEMENT = """
agreements:
  - id: works-311
    title: 311 requests for street repair planning
    parties: [{department: public-works}]
    datasets: [service_requests]
    purpose: Plan pothole repairs
    legal_basis: Interlocal agreement 2025-14
    start: 2026-01-01
    expires: 2026-03-31
    approver: Dana Ruiz, Chief Data Officer
"""


@pytest.fixture
def shared(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    """The 311 dataset confidential, shared with public works for Q1 2026, and loaded."""
    source = example_root / "sources" / f"{DATASET}.yaml"
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("classification: public", "classification: confidential"))
    governance = example_root / "governance.yaml"
    governance.write_text(governance.read_text(encoding="utf-8") + AGREEMENT, encoding="utf-8")
    workspace.apply(example_ctx, admin)
    ingest.ingest(example_ctx, admin, DATASET, recompute=False)
    return example_ctx


def _at(ctx: Context, year: int, month: int, day: int) -> None:
    when = dt.datetime(year, month, day, 12, tzinfo=dt.UTC)
    ctx.clock = lambda: when


def test_the_catalog_page_is_an_accessible_table_of_readable_datasets(
    client: TestClient, make_user: MakeUser, shared: Context
) -> None:
    sign_in(client, make_user(Role.STEWARD))  # customer-service: the owner's steward

    response = client.get("/catalog")

    assert response.status_code == 200
    page = parse(response.text)
    assert ("caption", {}) in page.tags
    headers = [attrs for tag, attrs in page.tags if tag == "th"]
    assert headers
    assert all(attrs.get("scope") in ("col", "row") for attrs in headers)
    row = next(r for r in table_rows(response.text) if r[0].startswith("311 service requests"))
    assert "Stewards: steward" in row[1]
    assert row[2] == "Confidential"
    assert "311 requests for street repair planning with public-works" in row[5]
    assert "Share of service requests closed by their due date" in row[6]


def test_an_unreadable_dataset_is_not_listed_and_answers_404(
    client: TestClient, make_user: MakeUser, shared: Context
) -> None:
    sign_in(client, make_user(Role.ANALYST, department="parks-recreation"))

    assert client.get("/api/v1/inventory").json() == []
    assert client.get(f"/api/v1/inventory/{DATASET}").status_code == 404
    assert client.get("/api/v1/inventory/no_such_dataset").status_code == 404
    assert DATASET not in client.get("/catalog").text


def test_the_inventory_api_gives_owner_pii_freshness_and_lineage(
    client: TestClient, make_user: MakeUser, shared: Context
) -> None:
    sign_in(client, make_user(Role.DEPARTMENT_HEAD))

    entry = client.get(f"/api/v1/inventory/{DATASET}").json()

    assert entry["owner"] == "customer-service"
    assert entry["classification"] == "confidential"
    assert entry["freshness"]["last_success"] is not None
    assert entry["version"] == 1
    assert entry["lineage"]["source"] == DATASET
    assert "pct-requests-closed-on-time" in {m["id"] for m in entry["lineage"]["measures"]}
    assert "close-requests-on-time" in {o["id"] for o in entry["lineage"]["objectives"]}
    assert [a["id"] for a in entry["agreements"]] == ["works-311"]
    assert isinstance(entry["pii_columns"], list)


def test_an_agreement_opens_the_dataset_to_its_party_until_it_expires(
    client: TestClient, make_user: MakeUser, shared: Context
) -> None:
    sign_in(client, make_user(Role.ANALYST, department="public-works"))

    _at(shared, 2026, 3, 31)
    assert client.get(f"/api/v1/datasets/{DATASET}").status_code == 200
    assert client.get(f"/api/v1/inventory/{DATASET}").status_code == 200
    rows = client.get(f"/api/v1/datasets/{DATASET}/rows")
    assert rows.status_code == 200
    assert rows.json()["rows"]

    _at(shared, 2026, 4, 1)
    assert client.get(f"/api/v1/datasets/{DATASET}").status_code == 404
    assert client.get(f"/api/v1/datasets/{DATASET}/rows").status_code == 404
    assert client.get(f"/api/v1/inventory/{DATASET}").status_code == 404


def test_anonymous_callers_get_no_inventory(client: TestClient) -> None:
    assert client.get("/api/v1/inventory").status_code == 401
    response = client.get("/catalog")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
