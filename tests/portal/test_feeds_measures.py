"""Published measures as open datasets: each series (every period and slice, small cells
empty and marked) as CSV and as JSON with its definition; 404 for any other measure."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from feeds_helpers import (
    INTERNAL_DATASET,
    INTERNAL_MEASURE,
    MEASURE,
    PUBLIC_DATASET,
    publish_example,
)

from civicstat.governance.actors import Actor
from civicstat.services import publication
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.services.public import public_series


@pytest.fixture
def published(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    return publish_example(example_ctx, example_root, admin)


@pytest.fixture
def client(published: Context, make_client: Callable[[Context], TestClient]) -> TestClient:
    return make_client(published)


def _cell(value: float | int | None) -> str:
    return "" if value is None else str(value)


def test_the_csv_is_the_public_series(client: TestClient, published: Context) -> None:
    response = client.get(f"/portal/measures/{MEASURE}/data.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    series = public_series(published, MEASURE)
    assert len(rows) == len(series.points) > 0
    for row, point in zip(rows, series.points, strict=True):
        assert row["period_start"] == point.period_start.isoformat()
        assert row["slice"] == point.slice
        assert row["suppressed"] == ("true" if point.suppressed else "false")
        if point.suppressed:
            assert [row[c] for c in ("value", "numerator", "denominator", "n")] == [""] * 4
        else:
            assert float(row["value"]) == pytest.approx(point.value)
            assert int(row["n"]) == point.n
            assert int(row["n"]) >= series.k  # no small cell leaves unsuppressed
    assert any(r["suppressed"] == "true" for r in rows)  # the example has small districts


def test_the_json_carries_the_definition(client: TestClient, published: Context) -> None:
    body = client.get(f"/portal/measures/{MEASURE}/data.json").json()
    with published.db.session() as session:
        plan = published.require_plan(session)
        state = publication.state(session, plan, plan.measures[MEASURE])
    measure = body["measure"]
    assert measure["definition_hash"] == state.definition_hash
    assert measure["kind"] == "share"
    assert measure["unit"] == "percent"
    assert measure["grain"] == "month"
    assert measure["definition"]["condition"] == "closed_at IS NOT NULL AND closed_at <= due_at"
    assert "closed_at is set and closed_at is at most due_at" in measure["in_words"]
    assert [d["id"] for d in measure["datasets"]] == [PUBLIC_DATASET]
    assert measure["suppression_threshold"] == 11
    csv_rows = list(
        csv.DictReader(io.StringIO(client.get(f"/portal/measures/{MEASURE}/data.csv").text))
    )
    assert len(body["data"]) == len(csv_rows)
    assert [c["name"] for c in body["columns"]] == list(csv_rows[0])
    suppressed = [p for p in body["data"] if p["suppressed"]]
    assert suppressed
    assert all(p["value"] is None and p["n"] is None for p in suppressed)


@pytest.mark.parametrize("extension", ["csv", "json"])
def test_a_measure_that_may_not_be_published_answers_like_a_missing_one(
    client: TestClient, published: Context, admin: Actor, extension: str
) -> None:
    hidden = client.get(f"/portal/measures/{INTERNAL_MEASURE}/data.{extension}")
    missing = client.get(f"/portal/measures/no-such-measure/data.{extension}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text.replace(INTERNAL_MEASURE, "X") == missing.text.replace(
        "no-such-measure", "X"
    )
    # Approved for publication, its numbers appear, small cells suppressed.
    publication.approve(published, admin, INTERNAL_MEASURE)
    assert client.get(f"/portal/measures/{INTERNAL_MEASURE}/data.{extension}").status_code == 200


def test_measure_downloads_carry_validators(client: TestClient) -> None:
    first = client.get(f"/portal/measures/{MEASURE}/data.csv")
    assert (
        first.headers["etag"] == client.get(f"/portal/measures/{MEASURE}/data.json").headers["etag"]
    )
    assert first.headers["last-modified"].endswith(" GMT")


def test_a_measure_over_data_that_is_not_public_keeps_its_conditions_out(
    client: TestClient, published: Context, example_root: Path, admin: Actor
) -> None:
    """Approved for publication, its numbers are public; the columns and values its
    definition names are not, as on the portal's measure page."""
    measure = {
        "id": "staff-pothole-notes",
        "title": "Staff notes on potholes",
        "dataset": INTERNAL_DATASET,
        "kind": "share",
        "condition": "closed_at IS NOT NULL",
        "filter": "request_type = 'pothole'",
        "time": "created_at",
        "grain": "month",
    }
    (example_root / "measures" / "staff-pothole-notes.yaml").write_text(yaml.safe_dump(measure))
    workspace_service.apply(published, admin)
    publication.approve(published, admin, "staff-pothole-notes")
    body = client.get("/portal/measures/staff-pothole-notes/data.json")
    assert body.status_code == 200
    said = body.json()["measure"]
    assert set(said["definition"]) == {"kind"}  # month is the default grain
    for named in ("request_type", "pothole", "closed_at", "created_at"):
        assert named not in said["in_words"]
