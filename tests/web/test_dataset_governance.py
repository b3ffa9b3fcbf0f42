"""Datasets over the API follow governance: clearance decides who reads a classified dataset,
someone without it is not told the dataset exists, and confidential reads are audited."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_helpers import MakeClient, MakeUser, sign_in

from civicstat.governance import audit
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent
from civicstat.services import ingest, workspace
from civicstat.services.context import Context

DATASET = "service_requests"


def _csv_data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)  # header
        return sum(1 for row in reader if row)


def _dataset_reads(ctx: Context) -> list[tuple[str, str]]:
    with ctx.db.session() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "dataset:read", AuditEvent.object_id == DATASET)
            .order_by(AuditEvent.id)
        )
        return [(e.actor, e.outcome) for e in events]


def _chain_is_whole(ctx: Context) -> bool:
    with ctx.db.session() as session:
        return audit.verify(session) is None


@pytest.fixture
def confidential_ctx(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    """The example workspace with its 311 source reclassified confidential, and applied."""
    source = example_root / "sources" / f"{DATASET}.yaml"
    text = source.read_text(encoding="utf-8")
    assert text.count("\nclassification: public\n") == 1
    source.write_text(
        text.replace("\nclassification: public\n", "\nclassification: confidential\n"),
        encoding="utf-8",
    )
    assert workspace.apply(example_ctx, admin).revision is not None
    return example_ctx


@pytest.fixture
def loaded_confidential_ctx(confidential_ctx: Context, admin: Actor) -> Context:
    ingest.ingest(confidential_ctx, admin, DATASET)
    return confidential_ctx


@pytest.fixture
def signed_in_as(
    confidential_ctx: Context, make_client: MakeClient, make_user: MakeUser
) -> Callable[[Role], tuple[TestClient, str]]:
    def open_as(role: Role) -> tuple[TestClient, str]:
        client = make_client(confidential_ctx)
        username = make_user(role)
        sign_in(client, username)
        return client, username

    return open_as


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST])
def test_a_confidential_dataset_is_not_found_for_someone_below_its_clearance(
    signed_in_as: Callable[[Role], tuple[TestClient, str]],
    confidential_ctx: Context,
    role: Role,
) -> None:
    client, username = signed_in_as(role)

    response = client.get(f"/api/v1/datasets/{DATASET}")

    assert response.status_code == 404  # not 403: that would say the dataset exists
    assert "row_count" not in response.text
    assert _dataset_reads(confidential_ctx) == [(f"user:{username}", "denied")]
    assert _chain_is_whole(confidential_ctx)


def test_a_hidden_dataset_looks_exactly_like_one_that_does_not_exist(
    signed_in_as: Callable[[Role], tuple[TestClient, str]],
) -> None:
    client, _ = signed_in_as(Role.ANALYST)

    hidden = client.get(f"/api/v1/datasets/{DATASET}")
    missing = client.get("/api/v1/datasets/no_such_dataset")

    assert hidden.status_code == missing.status_code == 404
    assert hidden.text.replace(DATASET, "<id>") == missing.text.replace("no_such_dataset", "<id>")


@pytest.mark.parametrize("role", [Role.STEWARD, Role.DEPARTMENT_HEAD])
def test_a_cleared_reader_sees_every_row_and_the_read_is_audited(
    signed_in_as: Callable[[Role], tuple[TestClient, str]],
    loaded_confidential_ctx: Context,
    example_csv: Path,
    role: Role,
) -> None:
    client, username = signed_in_as(role)

    response = client.get(f"/api/v1/datasets/{DATASET}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == DATASET
    assert body["classification"] == "confidential"
    assert body["version"] == 1
    assert body["row_count"] == _csv_data_rows(example_csv)
    assert [c["name"] for c in body["columns"]] == [
        "request_id",
        "request_type",
        "district",
        "created_at",
        "due_at",
        "closed_at",
        "department",
    ]
    assert _dataset_reads(loaded_confidential_ctx) == [(f"user:{username}", "ok")]
    assert _chain_is_whole(loaded_confidential_ctx)


def test_an_anonymous_caller_is_asked_to_sign_in_and_nothing_is_audited(
    confidential_ctx: Context, make_client: MakeClient
) -> None:
    client = make_client(confidential_ctx)

    response = client.get(f"/api/v1/datasets/{DATASET}")

    assert response.status_code == 401
    assert _dataset_reads(confidential_ctx) == []


def test_reading_a_public_dataset_is_not_audited(
    example_ctx: Context, admin: Actor, client: TestClient, make_user: MakeUser, example_csv: Path
) -> None:
    ingest.ingest(example_ctx, admin, DATASET)
    sign_in(client, make_user(Role.ANALYST))

    response = client.get(f"/api/v1/datasets/{DATASET}")

    assert response.status_code == 200
    assert response.json()["classification"] == "public"
    assert response.json()["row_count"] == _csv_data_rows(example_csv)
    assert _dataset_reads(example_ctx) == []
