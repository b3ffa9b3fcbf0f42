"""The portal's pages as a resident reads them, with no sign-in: the city's goals and
published measures with the right numbers, small cells withheld everywhere, the dataset
catalog's search and facets, and 404s that say nothing about what is not public."""

from __future__ import annotations

import csv
import datetime as dt
import re
import subprocess
from collections.abc import Callable
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from statistics import mean
from urllib.parse import urlencode

import pytest
import yaml
from fastapi.testclient import TestClient

from civicstat.domain import signals
from civicstat.governance.actors import Actor
from civicstat.services import ingest, measures, open_data, public, publication
from civicstat.services import workspace as workspace_service
from civicstat.services._plain_words import what_counts, words
from civicstat.services.context import Context

MakeClient = Callable[[Context], TestClient]
CLOSED_ON_TIME = "pct-requests-closed-on-time"  # a share of all 311 requests, by district
POTHOLES = "pct-potholes-repaired-on-time"  # potholes only: some months and slices under k


@pytest.fixture
def computed(example_ctx: Context, admin: Actor) -> Context:
    ingest.ingest(example_ctx, admin, "service_requests")
    return example_ctx


@pytest.fixture
def client(computed: Context, make_client: MakeClient) -> TestClient:
    return make_client(computed)


class _Rows(HTMLParser):
    """Each table row's cell texts, by the caption of its table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self._caption: list[str] | None = None
        self._table = ""
        self._cell: list[str] | None = None
        self._svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self._svg += 1
        elif tag == "caption":
            self._caption = []
        elif tag == "tr":
            self.tables.setdefault(self._table, []).append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._svg -= 1
        elif tag == "caption" and self._caption is not None:
            self._table = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._svg:
            return
        if self._caption is not None:
            self._caption.append(data)
        elif self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Rows()
    parser.feed(html)
    return parser.tables


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _on_time_share_by_month(example_root: Path, kind: str | None = None) -> dict[str, float]:
    """The example's share of requests closed by their due date, by month of creation,
    worked out from the CSV itself."""
    by_month: dict[str, list[bool]] = {}
    for r in _rows(example_root / "data" / "service_requests.csv"):
        if kind is not None and r["request_type"] != kind:
            continue
        closed = r["closed_at"] or None
        met = closed is not None and closed <= r["due_at"]
        by_month.setdefault(r["created_at"][:7], []).append(met)
    return {m: 100 * sum(v) / len(v) for m, v in by_month.items()}


def _percent(value: float) -> str:
    return f"{value:,.1f}%"


@pytest.mark.parametrize(
    "path",
    [
        "/portal",
        "/portal/plan",
        "/portal/goals/responsive-government",
        f"/portal/measures/{CLOSED_ON_TIME}",
        "/portal/datasets",
        "/portal/datasets?q=pothole&theme=City+Services",
        "/portal/datasets/service_requests",
    ],
)
def test_every_portal_page_is_open_to_anyone(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "public, max-age=300"
    body = response.text
    assert '<html lang="en">' in body
    assert 'class="skip-link" href="#main"' in body
    assert '<main id="main"' in body
    assert "Millbrook Open Data" in body  # the portal's title from civicstat.yaml
    for link in ("/portal/plan", "/portal/datasets", "/portal/stories", "/portal/policy"):
        assert f'href="{link}"' in body
    assert 'href="/login">Staff sign in' in body
    assert "<script" not in body
    assert "style=" not in body


def test_home_shows_each_published_objective_with_its_latest_public_value(
    client: TestClient, computed: Context, example_root: Path
) -> None:
    body = client.get("/portal").text
    found = tables(body)
    objectives = found["Published objectives of Responsive, reliable town services"]
    row = next(r for r in objectives if r[0].startswith("Close 85% of service requests"))
    # The latest month as public_series publishes it, and as the CSV gives it.
    totals = [p for p in public.public_series(computed, CLOSED_ON_TIME).points if not p.slice]
    latest = totals[-1]
    assert latest.value is not None
    month = latest.period_start.strftime("%Y-%m")
    by_csv = _on_time_share_by_month(example_root)
    assert row[1] == month
    assert row[2] == _percent(latest.value) == _percent(by_csv[month])
    assert row[4] == "≥ 85.0%"
    assert row[5] == ("On target" if latest.value >= 85 else "Off target" if latest.value < 80
                      else "Near target")  # fmt: skip
    assert 'class="sparkline"' in body
    streets = found["Published objectives of Safe, well-kept streets"]
    assert streets[1][0].startswith("Repair 90% of reported potholes")


def test_a_measure_page_shows_the_public_series_and_its_control_limits(
    client: TestClient, computed: Context, example_root: Path
) -> None:
    response = client.get(f"/portal/measures/{CLOSED_ON_TIME}")
    body = response.text
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"]
    data = tables(body)["Share of service requests closed by their due date, by month"]
    by_csv = _on_time_share_by_month(example_root)
    shown = {r[0]: r[1] for r in data[1:]}
    assert shown == {m: _percent(v) for m, v in by_csv.items()}
    # XmR limits over the months shown, worked out here.
    values = [by_csv[m] for m in sorted(by_csv)]
    chart = signals.xmr(values)
    assert abs(chart.centre - mean(values)) < 1e-9
    assert f"{_percent(chart.lower)} to {_percent(chart.upper)}" in unescape(body)
    assert 'role="img"' in body  # the chart, its table beside it
    # The signals the public series has, named by period (the staff page says the same).
    control = public.public_measure(computed, CLOSED_ON_TIME).control
    assert control is not None
    if control.signals:
        listed = re.findall(
            r"<li>[^<:]+: ([^<]+)\.</li>", body.split("Signals of a real change")[1]
        )
        assert sorted(", ".join(listed).split(", ")) == sorted(s.period for s in control.signals)
    else:
        assert "No signal: the changes are within routine variation." in body
    assert "closed_at is set and closed_at is at most due_at" in body  # what counts
    for download in ("data.csv", "data.json"):
        assert f'href="/portal/measures/{CLOSED_ON_TIME}/{download}"' in body
    discovery = re.search(
        r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', body
    )
    assert discovery is not None
    assert unescape(discovery.group(1)).startswith("http://testserver/portal/oembed?url=http")
    assert "format=json" in discovery.group(1)


def test_suppressed_cells_never_show_their_values(
    client: TestClient, computed: Context, admin: Actor, example_root: Path
) -> None:
    published = public.public_series(computed, POTHOLES)
    hidden = [p for p in published.points if p.suppressed]
    hidden_totals = [p for p in hidden if not p.slice]
    assert hidden_totals
    assert [p for p in hidden if p.slice]
    body = client.get(f"/portal/measures/{POTHOLES}").text
    text = unescape(body)
    staff = measures.get_series(computed, admin, POTHOLES)
    data = tables(body)["Share of potholes repaired within three days, by month"]
    by_period = {r[0]: r for r in data[1:]}
    for total in hidden_totals:
        label = total.period_start.strftime("%Y-%m")
        secret = next(p for p in staff.points if p.period == label)
        assert secret.value is not None
        assert secret.n < published.k
        assert by_period[label][1].startswith("withheld")
        assert by_period[label][2] == "—"
        # Nowhere on the page: not in the chart's dots or description either.
        assert f"{label}: {_percent(secret.value)}" not in text
        assert f"{_percent(secret.value)} in {label}" not in text
    # The control limits are those of the months shown only.
    shown = [p.value for p in published.points if not p.slice and p.value is not None]
    series = public.public_measure(computed, POTHOLES)
    assert series.control is not None
    assert abs(series.control.centre - mean(shown)) < 1e-9
    assert all(p.value is None and p.n is None for p in series.points if p.status == "no_data")
    # The breakdown of the latest month: each hidden slice withheld, each shown one right.
    breakdown = next(rows for caption, rows in tables(body).items() if caption.startswith(
        "Share of potholes repaired within three days by slice"))  # fmt: skip
    latest = max(p.period_start for p in published.points if p.slice)
    for cell in (p for p in published.points if p.slice and p.period_start == latest):
        row = next(r for r in breakdown if r[0] == cell.slice.replace("=", ": ", 1))
        if cell.suppressed:
            assert row[1] == "withheld"
        else:
            assert cell.value is not None
            assert row[1] == _percent(cell.value)


def _add_source(root: Path, spec: dict[str, object]) -> None:
    (root / "sources" / f"{spec['id']}.yaml").write_text(yaml.safe_dump(spec))


def _add_internal_source_and_measure(root: Path) -> None:
    spec = yaml.safe_load((root / "sources" / "service_requests.yaml").read_text())
    spec |= {"id": "staff_notes", "title": "Staff notes", "classification": "internal"}
    spec.pop("catalog", None)
    _add_source(root, spec)
    measure = yaml.safe_load((root / "measures" / "requests-received.yaml").read_text())
    measure |= {"id": "staff-notes-received", "title": "Staff notes", "dataset": "staff_notes"}
    (root / "measures" / "staff-notes-received.yaml").write_text(yaml.safe_dump(measure))


def test_what_is_not_public_answers_exactly_like_what_does_not_exist(
    computed: Context, example_root: Path, admin: Actor, make_client: MakeClient
) -> None:
    _add_internal_source_and_measure(example_root)
    workspace_service.apply(computed, admin)
    ingest.ingest(computed, admin, "staff_notes")
    client = make_client(computed)
    pairs = [
        ("/portal/datasets/staff_notes", "/portal/datasets/no-such-dataset"),
        ("/portal/measures/staff-notes-received", "/portal/measures/no-such-measure"),
        ("/portal/goals/no-such-goal", "/portal/measures/no-such-measure"),
        ("/portal/no-such-page", "/portal/datasets/no-such-dataset"),
    ]
    for hidden, missing in pairs:
        a, b = client.get(hidden), client.get(missing)
        assert a.status_code == b.status_code == 404
        assert a.content == b.content
        assert {k: v for k, v in a.headers.items() if k != "date"} == {
            k: v for k, v in b.headers.items() if k != "date"
        }
    assert "Staff notes" not in client.get("/portal").text
    assert "staff_notes" not in client.get("/portal/datasets?q=staff").text
    # Once its definition is approved for publication, the measure has its page.
    publication.approve(computed, admin, "staff-notes-received")
    assert client.get("/portal/measures/staff-notes-received").status_code == 200


def test_a_goal_page_lists_its_published_objectives(client: TestClient) -> None:
    body = client.get("/portal/goals/safe-streets").text
    found = tables(body)["Published objectives of Safe, well-kept streets"]
    assert [r[0].split(" Share")[0] for r in found[1:]] == [
        "Repair 90% of reported potholes within three days"
    ]
    assert f'href="/portal/measures/{POTHOLES}"' in body


def _catalog(client: TestClient, query: str = "") -> tuple[list[str], dict[str, dict[str, int]]]:
    """The dataset ids found and each facet's counts, read off the catalog page."""
    body = client.get(f"/portal/datasets{query}").text
    ids = re.findall(r'<h3><a href="/portal/datasets/([^"/]+)">', body)
    facets: dict[str, dict[str, int]] = {}
    for section in re.findall(r'<section class="facet".*?</section>', body, flags=re.S):
        name = re.search(r'id="facet-([a-z]+)"', section)
        assert name is not None
        facets[name.group(1)] = {
            unescape(label).strip(): int(n)
            for label, n in re.findall(r'">([^<]+) <span class="count">\((\d+)\)', section)
        }
    return ids, facets


def test_catalog_search_and_facets(
    computed: Context, example_root: Path, admin: Actor, make_client: MakeClient
) -> None:
    (example_root / "data" / "inspections.csv").write_text(
        "inspection_id,inspected_at\nI-1,2025-01-02 10:00:00\n"
    )
    _add_source(example_root, {
        "id": "street_inspections", "title": "Street inspections",
        "description": "Inspections of town streets by the roads crew.",
        "owner": "public-works", "connector": "file",
        "options": {"path": "data/inspections.csv"},
        "schedule": "0 5 * * 1", "classification": "public",
        "catalog": {"keywords": ["streets"], "themes": ["Transportation"]},
        "columns": [
            {"name": "inspection_id", "type": "string", "description": "Inspection number"},
            {"name": "inspected_at", "type": "timestamp", "description": "When it was walked"},
        ],
    })  # fmt: skip
    _add_internal_source_and_measure(example_root)
    workspace_service.apply(computed, admin)
    client = make_client(computed)

    ids, facets = _catalog(client)
    assert ids == ["service_requests", "street_inspections"]  # never the internal one
    assert facets["department"] == {"311 Customer Service": 1, "Public Works": 1}
    assert facets["keyword"] == {"311": 1, "potholes": 1, "service requests": 1, "streets": 1}
    assert facets["theme"] == {"City Services": 1, "Transportation": 1}
    assert facets["classification"] == {"Public": 2}
    assert facets["frequency"] == {"Daily": 1, "Weekly": 1}

    assert _catalog(client, "?q=pothole")[0] == ["service_requests"]  # a keyword
    assert _catalog(client, "?q=walked")[0] == ["street_inspections"]  # a column description
    assert _catalog(client, "?q=inspection_id")[0] == ["street_inspections"]  # a column name
    assert _catalog(client, "?q=TOWN+streets")[0] == ["street_inspections"]  # every word
    assert _catalog(client, "?q=staff")[0] == []
    assert _catalog(client, "?department=public-works")[0] == ["street_inspections"]
    assert _catalog(client, "?keyword=311")[0] == ["service_requests"]
    assert _catalog(client, "?theme=Transportation")[0] == ["street_inspections"]
    assert _catalog(client, "?frequency=weekly")[0] == ["street_inspections"]
    assert _catalog(client, "?classification=public")[0] == [
        "service_requests", "street_inspections"
    ]  # fmt: skip
    assert _catalog(client, "?classification=internal")[0] == []
    found, counts = _catalog(client, "?q=requests&department=customer-service")
    assert found == ["service_requests"]
    assert counts["department"] == {"311 Customer Service": 1}


def _as_bash_reads_it(command: str) -> list[str]:
    """The arguments bash gives ``curl`` when the command is pasted (curl only prints)."""
    printed = subprocess.run(
        ["bash", "-c", 'curl() { printf "%s\\0" curl "$@"; }\n' + command],
        capture_output=True, check=True, text=True,
    ).stdout  # fmt: skip
    return printed.split("\0")[:-1]


def test_a_dataset_page_has_its_dictionary_downloads_and_api_examples(
    client: TestClient, computed: Context
) -> None:
    response = client.get("/portal/datasets/service_requests")
    body = unescape(response.text)
    assert response.headers["etag"].startswith('"')
    assert response.headers["last-modified"]
    dictionary = tables(response.text)["The columns of 311 service requests"]
    assert dictionary[1] == ["request_id", "string", "Ticket number in the 311 system"]
    published = open_data.dataset(computed, "service_requests")
    assert [r[0] for r in dictionary[1:]] == [c.name for c in published.columns]
    assert published.row_count == 300
    assert "<dt>Rows</dt><dd>300</dd>" in body
    for download in ("rows.csv", "rows.json", "rows.parquet", "datapackage.json"):
        assert f'href="/portal/datasets/service_requests/{download}"' in body
    for download in ("rows.csv", "rows.json", "rows.parquet"):
        assert client.get(f"/portal/datasets/service_requests/{download}").status_code == 200
    assert 'href="mailto:opendata@millbrook.example.org"' in body
    assert "https://creativecommons.org/publicdomain/zero/1.0/" in body
    assert "Daily (every day at 06:00)" in body
    assert "/resource/service_requests.json?$limit=5" in body
    # As a shell reads the copied command: the SoQL filter on a real column arrives whole.
    blocks = re.findall(r'<pre class="code"[^>]*><code>(.*?)</code></pre>', response.text, re.S)
    commands = [_as_bash_reads_it(unescape(b)) for b in blocks if b.startswith("curl")]
    where = "$where=created_at >= '2025-01-01'"
    resource = "http://testserver/resource/service_requests.json"
    assert [
        "curl",
        "-G",
        resource,
        "--data-urlencode",
        where,
        "--data-urlencode",
        "$limit=100",
    ] in commands
    # The first example, asked of the SODA API: five rows; the filter, every row since 2025.
    first = commands[0][1].removeprefix("http://testserver")
    assert len(client.get(first).json()) == 5
    assert len(client.get(resource, params={"$where": where.split("=", 1)[1]}).json()) == 300
    assert 'client.get("service_requests", limit=5)' in body
    assert "/api/3/action/package_show?id=service_requests" in body


def test_absolute_links_use_the_portal_url_when_the_workspace_sets_one(
    computed: Context, example_root: Path, admin: Actor, make_client: MakeClient
) -> None:
    config = example_root / "civicstat.yaml"
    config.write_text(
        config.read_text().replace(
            "portal:\n", "portal:\n  url: https://data.millbrook.example.org/\n"
        )
    )
    workspace_service.apply(computed, admin)
    client = make_client(computed)
    body = unescape(client.get("/portal/datasets/service_requests").text)
    assert (
        "curl 'https://data.millbrook.example.org/resource/service_requests.json?$limit=5'" in body
    )
    assert 'Socrata("data.millbrook.example.org", None)' in body
    measure = client.get(f"/portal/measures/{CLOSED_ON_TIME}").text
    page = f"https://data.millbrook.example.org/portal/measures/{CLOSED_ON_TIME}"
    oembed = urlencode({"url": page, "format": "json"})
    assert f"https://data.millbrook.example.org/portal/oembed?{oembed}" in unescape(measure)


def test_the_staff_app_still_asks_for_a_sign_in_and_points_to_the_portal(
    client: TestClient,
) -> None:
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert '<a href="/portal">Open data portal</a>' in client.get("/login").text


def test_a_switched_off_portal_answers_404(
    computed: Context, example_root: Path, admin: Actor, make_client: MakeClient
) -> None:
    config = example_root / "civicstat.yaml"
    config.write_text(config.read_text().replace("portal:\n", "portal:\n  enabled: false\n"))
    workspace_service.apply(computed, admin)
    client = make_client(computed)
    for path in ("/portal", "/portal/plan", f"/portal/measures/{CLOSED_ON_TIME}",
                 "/portal/datasets/service_requests"):  # fmt: skip
        assert client.get(path).status_code == 404


def test_as_first_reported_is_shown_beside_a_restated_value(
    computed: Context, example_root: Path, admin: Actor, make_client: MakeClient
) -> None:
    # A late close changes a past month's value: the page shows both.
    data = example_root / "data" / "service_requests.csv"
    rows = _rows(data)
    first = next(r for r in rows if r["closed_at"] and r["closed_at"] <= r["due_at"])
    month = first["created_at"][:7]
    before = _on_time_share_by_month(example_root)[month]
    first["closed_at"] = (
        dt.datetime.fromisoformat(first["due_at"]) + dt.timedelta(days=3)
    ).isoformat(sep=" ")
    with data.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    after = _on_time_share_by_month(example_root)[month]
    assert after != before
    ingest.ingest(computed, admin, "service_requests")
    body = make_client(computed).get(f"/portal/measures/{CLOSED_ON_TIME}").text
    row = next(
        r
        for r in tables(body)["Share of service requests closed by their due date, by month"]
        if r[0] == month
    )
    assert row[1] == _percent(after)
    assert row[5] == f"{_percent(before)} (since restated)"


def test_conditions_read_out_in_words_with_quoted_values_kept() -> None:
    said = words("closed_at IS NOT NULL AND request_type = 'a AND b' OR priority <= 2")
    assert said == "closed_at is set and request_type is 'a AND b' or priority is at most 2"
    assert words("x NOT IN ('a', 'b') AND y IS NULL") == "x is not one of ('a', 'b') and y is empty"


def test_over_data_that_is_not_public_the_conditions_are_left_out(computed: Context) -> None:
    with computed.db.session() as session:
        plan = computed.require_plan(session)
    measure = plan.measures[CLOSED_ON_TIME]
    shown = " ".join(what_counts(plan, measure, measure, show_conditions=True))
    hidden = " ".join(what_counts(plan, measure, measure, show_conditions=False))
    assert "closed_at is set and closed_at is at most due_at" in shown
    assert "created_at" in shown
    for column in ("closed_at", "due_at", "created_at"):
        assert column not in hidden
    assert "meets the condition set in the definition" in hidden
