"""The plan as leaders read it, on the page and over the API: every objective with its target,
latest value and status, computed from the data and escaped on the way out."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, MakeClient, MakeUser, sign_in, table_rows, tags

from civicstat.domain.targets import Direction, Target, evaluate
from civicstat.governance.actors import Actor, Role
from civicstat.services import ingest, workspace
from civicstat.services.accounts import users
from civicstat.services.context import Context

STATUS_LABELS = {
    "on_target": "On target",
    "near_target": "Near target",
    "off_target": "Off target",
    "no_data": "No data",
}
PAYLOAD = '<script>alert(1)</script> "onmouseover=alert(2) x="'


def _objectives(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for goal in plan["goals"] for o in goal["objectives"]]


def _objective_rows(html: str) -> dict[str, list[str]]:
    """The rows of the objectives tables, by their first cell (title, then measure title)."""
    return {row[0]: row for row in table_rows(html) if len(row) == 6 and row[0] != "Objective"}


def _latest_month_from_csv(path: Path, request_type: str | None) -> tuple[str, int, int]:
    """(month, closed on time, requests) for the last month with requests, from the raw CSV."""
    by_month: dict[str, list[int]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if request_type is not None and row["request_type"] != request_type:
                continue
            created = dt.datetime.fromisoformat(row["created_at"])
            counts = by_month.setdefault(f"{created:%Y-%m}", [0, 0])
            closed, due = row["closed_at"], dt.datetime.fromisoformat(row["due_at"])
            on_time = bool(closed) and dt.datetime.fromisoformat(closed) <= due
            counts[0] += int(on_time)
            counts[1] += 1
    month = max(by_month)
    return month, by_month[month][0], by_month[month][1]


@pytest.fixture
def viewer(client: TestClient, make_user: MakeUser) -> TestClient:
    sign_in(client, make_user(Role.VIEWER))
    return client


@pytest.fixture
def ingested(example_ctx: Context, admin: Actor) -> Context:
    ingest.ingest(example_ctx, admin, "service_requests")
    return example_ctx


def test_plan_page_shows_every_objective_with_its_target_and_status(
    ingested: Context, viewer: TestClient
) -> None:
    plan = viewer.get("/api/v1/plan").json()

    response = viewer.get("/plan")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    rows = _objective_rows(response.text)
    objectives = [o for o in _objectives(plan) if o["unit"] == "percent"]
    assert len(objectives) == 2
    for objective in objectives:
        row = next(cells for title, cells in rows.items() if title.startswith(objective["title"]))
        _, department, period, latest, target, status = row
        assert department == objective["department_title"]
        assert period.startswith(objective["latest"]["period"])
        assert latest == f"{objective['latest']['value']:,.1f}%"
        assert target == f"≥ {objective['target']:,.1f}%"
        assert status == STATUS_LABELS[objective["status"]]
    for goal in plan["goals"]:
        assert goal["title"] in response.text


def test_plan_page_before_any_data_says_no_data(viewer: TestClient) -> None:
    response = viewer.get("/plan")

    assert response.status_code == 200
    rows = list(_objective_rows(response.text).values())
    assert [(row[0], row[3], row[4], row[5]) for row in rows] == [
        (
            "Close 85% of service requests by their due date "
            "Share of service requests closed by their due date",
            "—",
            "≥ 85.0%",
            "No data",
        ),
        (
            "Cut the median time to close a request from 3 days to 2 by year end "
            "Median days to close a service request",
            "—",
            "≤ 2.0",  # the trajectory's goal, reached at the end of 2025
            "No data",
        ),
        (
            "Repair 90% of reported potholes within three days "
            "Share of potholes repaired within three days",
            "—",
            "≥ 90.0%",
            "No data",
        ),
    ]


def test_latest_value_is_the_share_of_its_numerator_and_status_follows_the_target(
    ingested: Context, viewer: TestClient
) -> None:
    objectives = _objectives(viewer.get("/api/v1/plan").json())

    for objective in objectives:
        latest = objective["latest"]
        assert latest is not None, objective["id"]
        if objective["unit"] == "percent":
            assert latest["denominator"] > 0
            share = latest["numerator"] / latest["denominator"] * 100
            assert latest["value"] == pytest.approx(share)
        target = Target(
            objective["target"], Direction(objective["direction"]), objective["warning_band"]
        )
        assert objective["status"] == evaluate(latest["value"], target).value


@pytest.mark.parametrize(
    ("objective_id", "request_type"),
    [("close-requests-on-time", None), ("repair-potholes-on-time", "pothole")],
)
def test_latest_value_matches_the_raw_data_counted_by_hand(
    ingested: Context,
    viewer: TestClient,
    example_csv: Path,
    objective_id: str,
    request_type: str | None,
) -> None:
    month, on_time, requests = _latest_month_from_csv(example_csv, request_type)

    objective = next(
        o for o in _objectives(viewer.get("/api/v1/plan").json()) if o["id"] == objective_id
    )

    latest = objective["latest"]
    assert (latest["period"], latest["numerator"], latest["denominator"]) == (
        month,
        on_time,
        requests,
    )
    assert latest["partial"] is False  # the example's data ends in a month long past


@pytest.fixture
def hostile_ctx(
    example_root: Path, make_context: Callable[[Path], Context], admin: Actor
) -> Context:
    """The example workspace with markup in every title a page shows."""
    plan_path = example_root / "plan.yaml"
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    plan["title"] = f"Plan {PAYLOAD}"
    plan["goals"][0]["title"] = f"Goal {PAYLOAD}"
    plan["goals"][0]["description"] = f"Description {PAYLOAD}"
    plan["goals"][0]["objectives"][0]["title"] = f"Objective {PAYLOAD}"
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    measure_path = example_root / "measures" / "requests-closed-on-time.yaml"
    measure = yaml.safe_load(measure_path.read_text(encoding="utf-8"))
    measure["title"] = f"Measure {PAYLOAD}"
    measure_path.write_text(yaml.safe_dump(measure, sort_keys=False), encoding="utf-8")
    governance_path = example_root / "governance.yaml"
    governance = yaml.safe_load(governance_path.read_text(encoding="utf-8"))
    governance["departments"][1]["title"] = f"Department {PAYLOAD}"
    governance_path.write_text(yaml.safe_dump(governance, sort_keys=False), encoding="utf-8")
    ctx = make_context(example_root)
    workspace.apply(ctx, admin)
    users.add_user(ctx, admin, username="viewer", password=PASSWORD, role=Role.VIEWER)
    return ctx


def test_markup_in_titles_is_shown_as_text_not_run(
    hostile_ctx: Context, make_client: MakeClient
) -> None:
    client = make_client(hostile_ctx)
    sign_in(client, "viewer")

    html = client.get("/plan").text

    assert "<script>alert" not in html
    assert '"onmouseover' not in html
    # The one script is the page's own live-update file, never one built from data.
    assert [a for t, a in tags(html) if t == "script"] == [{"src": "/static/live.js", "defer": ""}]
    assert all(not name.startswith("on") for _, attrs in tags(html) for name in attrs)
    for title in ("Plan", "Goal", "Description", "Objective", "Measure", "Department"):
        assert f"{title} &lt;script&gt;alert(1)&lt;/script&gt; &#34;onmouseover=" in html, title
