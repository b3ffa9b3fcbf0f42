"""The pages leaders, departments and analysts read: the overview, a goal, a department's
scorecard, a measure with its chart, breakdown, lineage and data, the runs and the audit log.
Numbers on a page are checked against the JSON API, which is tested against the raw data."""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from web_helpers import ON_SQLITE_ONLY, PASSWORD, MakeClient, MakeUser, sign_in, table_rows, tags

from civicstat.governance.actors import Actor, Role
from civicstat.services import ingest, workspace
from civicstat.services.accounts import sessions, users
from civicstat.services.context import Context
from civicstat.services.measures import _read
from civicstat.web.charts import format_value
from civicstat.web.figures import change

MEASURE = "pct-requests-closed-on-time"
PAYLOAD = '<script>alert(1)</script> "onmouseover=alert(2) x="'


@pytest.fixture
def ingested(example_ctx: Context, admin: Actor) -> Context:
    ingest.ingest(example_ctx, admin, "service_requests")
    return example_ctx


@pytest.fixture
def viewer(client: TestClient, make_user: MakeUser) -> TestClient:
    sign_in(client, make_user(Role.VIEWER))
    return client


def _objectives(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for goal in plan["goals"] for o in goal["objectives"]]


def _rows_by_first_cell(html: str, cells: int) -> dict[str, list[str]]:
    return {row[0]: row for row in table_rows(html) if len(row) == cells}


def _svgs(html: str) -> list[dict[str, str]]:
    return [attrs for tag, attrs in tags(html) if tag == "svg"]


# --- the overview -----------------------------------------------------------------------


def test_overview_shows_every_objective_with_its_latest_value_change_and_status(
    ingested: Context, viewer: TestClient
) -> None:
    plan = viewer.get("/api/v1/plan").json()

    response = viewer.get("/")

    assert response.status_code == 200
    rows = _rows_by_first_cell(response.text, 8)  # objective … status
    for objective in _objectives(plan):
        row = next(r for title, r in rows.items() if title.startswith(objective["title"]))
        _, department, period, latest, since, _trend, _target, status = row
        series = viewer.get(f"/api/v1/measures/{objective['measure']}/series").json()
        assert department == objective["department_title"]
        assert period.startswith(objective["latest"]["period"])
        assert latest == format_value(objective["latest"]["value"], objective["unit"])
        moved = series["change_from_previous"]
        expected = change(moved["absolute"], objective["unit"], objective["direction"])
        assert since == (expected if moved else "—")
        assert status.startswith({"on_target": "On target", "near_target": "Near target",
                                  "off_target": "Off target"}[objective["status"]])  # fmt: skip
    # One trend line per objective, each saying in words what it shows.
    trends = [s for s in _svgs(response.text) if s.get("class") == "sparkline"]
    assert len(trends) == len(_objectives(plan))
    assert all(s["role"] == "img" and s["aria-label"].startswith("Trend from") for s in trends)


# Worked out by hand from the example's data (src/civicstat/spec/example/data), May 2025 to
# June 2025, the last two months: 36 of 46 requests closed on time (78.26%), then 43 of 57
# (75.44%): 2.8 points fewer, worse, where higher is better; the median days to close went
# from 1.73 to 1.33: 0.4 days less, better, where lower is better; potholes repaired on
# time went from 13 of 15 (86.67%) to 23 of 26 (88.46%): 1.8 points more, better.
SINCE_LAST_MONTH = {
    "Close 85% of service requests by their due date": "−2.8 pts, worse",
    "Cut the median time to close a request from 3 days to 2 by year end": "−0.4 days, better",
    "Repair 90% of reported potholes within three days": "+1.8 pts, better",
}


def test_overview_and_scorecards_say_how_far_each_objective_moved_and_whether_for_the_better(
    ingested: Context, viewer: TestClient
) -> None:
    responsive, streets = list(SINCE_LAST_MONTH)[:2], list(SINCE_LAST_MONTH)[2:]
    pages = {
        "/": list(SINCE_LAST_MONTH),
        "/departments/customer-service": responsive,
        "/departments/public-works": streets,
        "/goals/responsive-government": responsive,
        "/goals/safe-streets": streets,
    }
    for path, titles in pages.items():
        rows = _rows_by_first_cell(viewer.get(path).text, 8)  # objective, …, since, …
        since = {t: row[4] for t in titles for title, row in rows.items() if title.startswith(t)}
        assert since == {t: SINCE_LAST_MONTH[t] for t in titles}, path


def test_measure_page_says_how_far_the_measure_moved_and_whether_for_the_better(
    ingested: Context, viewer: TestClient
) -> None:
    closed = viewer.get(f"/measures/{MEASURE}").text
    median = viewer.get("/measures/median-days-to-close").text

    assert "<dt>Since the previous period</dt><dd>−2.8 pts, worse</dd>" in closed
    assert "<dt>Since the previous period</dt><dd>−0.4 days, better</dd>" in median
    assert "<dt>Since a year before</dt><dd>—</dd>" in closed  # no data a year before
    # The breakdown, by hand too: south 8 of 12 → 11 of 13, west 11 of 13 → 7 of 11.
    since = {r[0]: r[2] for r in table_rows(closed) if len(r) == 6}
    assert (since["All"], since["south"], since["west"]) == (
        "−2.8 pts, worse",
        "+17.9 pts, better",
        "−21.0 pts, worse",
    )


def test_overview_lists_the_objectives_whose_status_changed_since_the_last_period(
    ingested: Context, viewer: TestClient
) -> None:
    expected = set()
    for objective in _objectives(viewer.get("/api/v1/plan").json()):
        points = viewer.get(f"/api/v1/measures/{objective['measure']}/series").json()["points"]
        if len(points) >= 2 and points[-1]["status"] != points[-2]["status"]:
            expected.add(objective["title"])

    html = viewer.get("/").text

    changed = {row[0] for row in table_rows(html) if len(row) == 4 and row[0] != "Objective"}
    assert changed == expected
    if not expected:
        assert "No objective changed status" in html


def test_overview_before_any_data_names_every_objective_without_data(viewer: TestClient) -> None:
    html = viewer.get("/").text

    for objective in _objectives(viewer.get("/api/v1/plan").json()):
        assert f"{objective['title']}</a>: no data yet." in html


def test_overview_lists_objectives_whose_data_is_stale(
    example_root: Path,
    make_context: Callable[[Path], Context],
    make_client: MakeClient,
    admin: Actor,
) -> None:
    source = example_root / "sources" / "service_requests.yaml"
    spec = yaml.safe_load(source.read_text(encoding="utf-8"))
    spec["stale_after_hours"] = 0.0002  # under a second
    source.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    ctx = make_context(example_root)
    workspace.apply(ctx, admin)
    ingest.ingest(ctx, admin, "service_requests")
    users.add_user(ctx, admin, username="viewer", password=PASSWORD, role=Role.VIEWER)
    client = make_client(ctx)
    sign_in(client, "viewer")
    time.sleep(1.0)

    html = client.get("/").text

    section = html.split('id="stale-heading"')[1].split("</section>")[0]
    for objective in _objectives(client.get("/api/v1/plan").json()):
        assert objective["status"] == "stale"
        assert f"{objective['title']}</a>: a source behind it is past its freshness limit" in (
            section
        )


# --- a goal and a department ------------------------------------------------------------


def test_goal_page_shows_its_objectives_each_with_a_chart_and_its_data(
    ingested: Context, viewer: TestClient
) -> None:
    goal = viewer.get("/api/v1/plan").json()["goals"][0]

    response = viewer.get(f"/goals/{goal['id']}")

    assert response.status_code == 200
    assert f"<h1>{goal['title']}</h1>" in response.text
    charts = [s for s in _svgs(response.text) if s.get("class") == "chart"]
    assert len(charts) == len(goal["objectives"])
    for objective in goal["objectives"]:
        assert objective["title"] in response.text
        caption = f"Recent values of {objective['measure_title']}"
        assert f"<caption>{caption}</caption>" in response.text
    other = viewer.get("/api/v1/plan").json()["goals"][1]
    assert other["objectives"][0]["title"] not in response.text


UNKNOWN = [
    "/goals/no-such-goal",
    "/departments/no-such-department",
    "/measures/no-such-measure",
    "/measures/no-such/data.csv",
]


@pytest.mark.parametrize("path", UNKNOWN)
@ON_SQLITE_ONLY
def test_an_unknown_object_is_not_found(viewer: TestClient, path: str) -> None:
    response = viewer.get(path)

    assert response.status_code == 404


def test_department_scorecard_shows_its_objectives_trends_and_the_data_it_owns(
    ingested: Context, viewer: TestClient
) -> None:
    mine = [o for o in _objectives(viewer.get("/api/v1/plan").json())
            if o["department"] == "customer-service"]  # fmt: skip

    html = viewer.get("/departments/customer-service").text

    rows = _rows_by_first_cell(html, 8)  # objective, goal, period … status
    assert sorted(title for title in rows if title.startswith(("Close", "Cut", "Repair"))) == (
        sorted(f"{o['title']} {o['measure_title']}" for o in mine)
    )
    assert "Repair 90% of reported potholes" not in html  # Public Works owns it
    assert len([s for s in _svgs(html) if s.get("class") == "sparkline"]) == len(mine)
    sources = _rows_by_first_cell(html, 5)
    assert any(title.startswith("311 service requests") for title in sources)


def test_departments_page_counts_each_departments_objectives(
    ingested: Context, viewer: TestClient
) -> None:
    html = viewer.get("/departments").text

    rows = _rows_by_first_cell(html, 6)
    assert rows["311 Customer Service"][1] == "2"
    assert rows["Public Works"][1] == "1"
    assert rows["Parks and Recreation"][1] == "0"


def test_a_parent_department_lists_the_departments_under_it(
    ingested: Context, viewer: TestClient
) -> None:
    html = viewer.get("/departments/city-manager").text

    assert "owns no objective" in html
    assert '<a href="/departments/customer-service">311 Customer Service</a>' in html


# --- a measure --------------------------------------------------------------------------


def test_measure_page_charts_the_series_with_target_and_control_limits(
    ingested: Context, viewer: TestClient
) -> None:
    series = viewer.get(f"/api/v1/measures/{MEASURE}/series").json()

    html = viewer.get(f"/measures/{MEASURE}").text

    chart = next(s for s in _svgs(html) if s.get("class") == "chart")
    assert chart["role"] == "img"
    assert 'class="target"' in html
    assert html.count('class="control"') == 3
    control = series["control"]
    assert f"({format_value(control['lower'], 'percent')} to " in html
    # The chart's data, as a table: one row per period, newest first.
    rows = [r for r in table_rows(html) if len(r) == 8 and r[0] != "Period"]
    assert [r[0].split()[0] for r in rows] == [p["period"] for p in reversed(series["points"])]
    assert [r[1] for r in rows] == [
        format_value(p["value"], "percent") for p in reversed(series["points"])
    ]


def test_measure_page_breaks_the_measure_down_by_slice_and_sorts_it(
    ingested: Context, viewer: TestClient
) -> None:
    slices = [s for s in viewer.get(f"/api/v1/measures/{MEASURE}/series").json()["slices"] if s]
    latest = {
        key: viewer.get(f"/api/v1/measures/{MEASURE}/series", params={"slice": key}).json()[
            "points"
        ][-1]["value"]
        for key in slices
    }

    html = viewer.get(f"/measures/{MEASURE}", params={"sort": "value", "dir": "desc"}).text

    rows = [r for r in table_rows(html) if len(r) == 6 and r[0] not in ("All",)]
    rows = [r for r in rows if not r[0].startswith("Slice")]
    by_value = sorted(slices, key=lambda k: -(latest[k] or -1))
    assert [r[0] for r in rows] == [k.split("=", 1)[1] for k in by_value]
    assert [r[1] for r in rows] == [format_value(latest[k], "percent") for k in by_value]
    assert 'aria-sort="descending"' in html


def test_choosing_a_slice_charts_that_slice(ingested: Context, viewer: TestClient) -> None:
    key = next(s for s in viewer.get(f"/api/v1/measures/{MEASURE}/series").json()["slices"] if s)
    series = viewer.get(f"/api/v1/measures/{MEASURE}/series", params={"slice": key}).json()

    html = viewer.get(f"/measures/{MEASURE}", params={"slice": key}).text

    assert f"Trend for {key}</h2>" in html
    rows = [r for r in table_rows(html) if len(r) == 8 and r[0] != "Period"]
    assert [r[1] for r in rows] == [
        format_value(p["value"], "percent") for p in reversed(series["points"])
    ]


def test_measure_page_shows_its_definition_method_and_lineage_to_the_source(
    ingested: Context, client: TestClient, make_user: MakeUser
) -> None:
    sign_in(client, make_user(Role.ANALYST))

    html = client.get(f"/measures/{MEASURE}").text

    assert "<code>closed_at IS NOT NULL AND closed_at &lt;= due_at</code>" in html
    assert "Share of rows meeting condition" in html  # the kind's method
    assert "Close 85% of service requests by their due date" in html  # what it measures
    assert "311 service requests (<code>service_requests</code>): file connector" in html
    assert "service_requests@1" in html
    assert "run 1</a> (succeeded)" in html
    assert "<code>service_requests.csv</code>" in html  # the raw payload behind it


@pytest.fixture
def page_work(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts plan look-ups, measure guards and freshness look-ups a page makes itself.
    (Resolving who is asking reads the plan for the session's grants: not counted.)"""
    calls: Counter[str] = Counter()
    resolving_actor = False

    def counted(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 0 if resolving_actor else 1
            return function(*args, **kwargs)

        return wrapper

    def resume(*args: Any, **kwargs: Any) -> Any:
        nonlocal resolving_actor
        resolving_actor = True
        try:
            return resume_session(*args, **kwargs)
        finally:
            resolving_actor = False

    resume_session = sessions.resume_session
    monkeypatch.setattr(sessions, "resume_session", resume)
    monkeypatch.setattr(Context, "applied_plan", counted("plan", Context.applied_plan))
    for name in ("readable_measure", "freshness_of"):
        monkeypatch.setattr(_read, name, counted(name, getattr(_read, name)))
    return calls


def test_a_measure_page_reads_the_plan_and_checks_measure_read_once(
    ingested: Context, viewer: TestClient, page_work: Counter[str]
) -> None:
    """Description, series and breakdown come from one read: the plan looked up once,
    ``measure:read`` checked once, the sources' freshness worked out once."""
    response = viewer.get(f"/measures/{MEASURE}", params={"sort": "value", "dir": "desc"})

    assert response.status_code == 200
    assert "Share of rows meeting condition" in response.text  # description, series, breakdown
    assert page_work == {"plan": 1, "readable_measure": 1, "freshness_of": 1}


@pytest.mark.parametrize("path", ["/", "/goals/responsive-government", "/departments"])
def test_the_overview_pages_read_the_plan_once(
    ingested: Context, viewer: TestClient, page_work: Counter[str], path: str
) -> None:
    response = viewer.get(path)

    assert response.status_code == 200
    assert page_work == {"plan": 1}


def test_measure_data_downloads_as_csv_matching_the_series(
    ingested: Context, viewer: TestClient
) -> None:
    series = viewer.get(f"/api/v1/measures/{MEASURE}/series").json()

    response = viewer.get(f"/measures/{MEASURE}/data.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="{MEASURE}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["period"] for r in rows] == [p["period"] for p in series["points"]]
    assert [float(r["value"]) for r in rows] == [p["value"] for p in series["points"]]
    assert {r["status"] for r in rows} <= {"on_target", "near_target", "off_target"}


def test_a_slice_download_is_named_after_it(ingested: Context, viewer: TestClient) -> None:
    key = next(s for s in viewer.get(f"/api/v1/measures/{MEASURE}/series").json()["slices"] if s)

    response = viewer.get(f"/measures/{MEASURE}/data.csv", params={"slice": key})

    expected = f"{MEASURE}-{key}".replace("=", "_")
    assert response.headers["content-disposition"] == f'attachment; filename="{expected}.csv"'
    assert {r["slice"] for r in csv.DictReader(io.StringIO(response.text))} == {key}


# --- runs and the audit log -------------------------------------------------------------


@pytest.fixture
def checked_ctx(
    example_root: Path, make_context: Callable[[Path], Context], admin: Actor
) -> Context:
    """The example workspace with two quality checks on its source, one of them failing."""
    source = example_root / "sources" / "service_requests.yaml"
    spec = yaml.safe_load(source.read_text(encoding="utf-8"))
    spec["quality"] = [
        {"check": "not_null", "columns": ["request_id"]},
        {"check": "accepted_values", "column": "district", "values": ["north"],
         "severity": "warn"},
    ]  # fmt: skip
    source.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    ctx = make_context(example_root)
    workspace.apply(ctx, admin)
    ingest.ingest(ctx, admin, "service_requests")
    for role in (Role.ANALYST, Role.VIEWER, Role.ADMIN):
        users.add_user(ctx, admin, username=role.value, password=PASSWORD, role=role)
    return ctx


@ON_SQLITE_ONLY
def test_runs_page_shows_each_run_with_its_quality_checks(
    checked_ctx: Context, make_client: MakeClient
) -> None:
    client = make_client(checked_ctx)
    sign_in(client, "analyst")

    html = client.get("/runs").text

    runs = _rows_by_first_cell(html, 9)
    assert runs["1"][1].startswith("service_requests")
    assert runs["1"][2] == "succeeded"
    assert runs["1"][8] == "1 of 2 failed"
    checks = _rows_by_first_cell(html, 6)
    assert checks["not_null"][3] == "Passed"
    assert checks["accepted_values"][2:4] == ["warn", "Failed"]


@ON_SQLITE_ONLY
def test_a_viewer_may_not_see_runs_or_the_audit_log(
    checked_ctx: Context, make_client: MakeClient
) -> None:
    client = make_client(checked_ctx)
    sign_in(client, "viewer")

    assert client.get("/runs").status_code == 404
    assert client.get("/audit").status_code == 404
    nav = client.get("/").text.split("</nav>")[0]
    assert 'href="/runs"' not in nav
    assert 'href="/audit"' not in nav


@ON_SQLITE_ONLY
def test_an_analyst_may_see_runs_but_not_the_audit_log(
    checked_ctx: Context, make_client: MakeClient
) -> None:
    client = make_client(checked_ctx)
    sign_in(client, "analyst")

    assert client.get("/audit").status_code == 404
    nav = client.get("/").text.split("</nav>")[0]
    assert 'href="/runs"' in nav
    assert 'href="/audit"' not in nav


@ON_SQLITE_ONLY
def test_audit_page_shows_events_and_verifies_the_chain_for_an_administrator(
    checked_ctx: Context, make_client: MakeClient
) -> None:
    client = make_client(checked_ctx)
    sign_in(client, "admin")

    html = client.get("/audit", params={"verify": "true"}).text

    assert "The chain is intact" in html
    actions = {row[3] for row in table_rows(html) if len(row) == 7 and row[0] != "Id"}
    assert {"workspace:apply", "source:ingest", "user:add", "auth:sign-in", "audit:read"} <= (
        actions
    )
    filtered = client.get("/audit", params={"action": "audit:read"}).text
    rows = [row for row in table_rows(filtered) if len(row) == 7 and row[0] != "Id"]
    assert rows
    assert {row[3] for row in rows} == {"audit:read"}


# --- markup in titles -------------------------------------------------------------------


@pytest.fixture
def hostile_ctx(
    example_root: Path, make_context: Callable[[Path], Context], admin: Actor
) -> Context:
    plan_path = example_root / "plan.yaml"
    plan = yaml.safe_load(plan_path.read_text(encoding="utf-8"))
    plan["goals"][0]["title"] = f"Goal {PAYLOAD}"
    plan["goals"][0]["objectives"][0]["title"] = f"Objective {PAYLOAD}"
    plan_path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    measure_path = example_root / "measures" / "requests-closed-on-time.yaml"
    measure = yaml.safe_load(measure_path.read_text(encoding="utf-8"))
    measure["title"] = f"Measure {PAYLOAD}"
    measure_path.write_text(yaml.safe_dump(measure, sort_keys=False), encoding="utf-8")
    ctx = make_context(example_root)
    workspace.apply(ctx, admin)
    ingest.ingest(ctx, admin, "service_requests")
    users.add_user(ctx, admin, username="viewer", password=PASSWORD, role=Role.VIEWER)
    return ctx


@ON_SQLITE_ONLY
@pytest.mark.parametrize(
    "path", ["/", "/goals/responsive-government", "/departments/customer-service",
             f"/measures/{MEASURE}"],
)  # fmt: skip
def test_markup_in_titles_is_shown_as_text_on_every_page(
    hostile_ctx: Context, make_client: MakeClient, path: str
) -> None:
    client = make_client(hostile_ctx)
    sign_in(client, "viewer")

    html = client.get(path).text

    assert "<script>alert" not in html
    assert [a for t, a in tags(html) if t == "script"] == [{"src": "/static/live.js", "defer": ""}]
    assert all(not name.startswith("on") for _, attrs in tags(html) for name in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
