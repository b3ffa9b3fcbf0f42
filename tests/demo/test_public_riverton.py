"""What the built Riverton demo publishes: 311 requests and permits without personal data
(addresses to the hundred block), 911 calls never, its approved 911 KPIs with small cells
suppressed. Built through the services, as `civicstat demo` builds it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from civicstat.demo.admin import approve_for_publication
from civicstat.demo.riverton import APPROVED_FOR_PUBLICATION, OBJECTIVES, write_workspace
from civicstat.governance.actors import PUBLIC, Actor, Role, operator
from civicstat.services import datasets, ingest, open_data, publication
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.services.errors import NotFound, PermissionDenied
from civicstat.services.public import public_series
from civicstat.settings import Settings
from civicstat.spec.models import Frequency, Measure
from civicstat.web.app import create_app
from civicstat.web.charts import format_value

END = dt.date(2025, 5, 31)
ADMIN = operator("pytest")
PERSONAL = {"reporter_name", "reporter_phone", "description", "applicant_name"}
BLOCK = re.compile(r"[1-9]\d*00 block of [A-Za-z0-9 ]+")


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """Riverton at the smallest size the demo tests use, applied, ingested and approved."""
    root = tmp_path_factory.mktemp("riverton")
    write_workspace(root, end=END, calls=30_000)
    ctx = Context(Settings(workspace=root))
    try:
        ctx.migrate()
        workspace_service.apply(ctx, ADMIN)
        for source in ("calls_911", "service_requests", "permits"):
            ingest.ingest(ctx, ADMIN, source)
        approve_for_publication(ctx, ADMIN, APPROVED_FOR_PUBLICATION)
        yield ctx
    finally:
        ctx.close()


def test_the_public_catalog_lists_exactly_311_requests_and_permits(city: Context) -> None:
    listed = {d.id: d for d in open_data.catalog(city)}
    assert set(listed) == {"service_requests", "permits"}
    requests = listed["service_requests"]
    assert "311" in requests.keywords
    assert requests.themes == ["City Services"]
    assert requests.frequency is Frequency.DAILY
    assert requests.license == "https://opendatacommons.org/licenses/pddl/1-0/"
    assert requests.contact is not None
    assert requests.contact.email == "311@riverton.example.gov"
    assert requests.row_count > 100_000
    columns = {c.name: c for c in requests.columns}
    assert not PERSONAL & set(columns)
    assert columns["address"].generalised
    assert {c.name for c in listed["permits"].columns if c.generalised} == {"site_address"}
    assert "contractor" in {c.name for c in listed["permits"].columns}
    inventory = {d.id: d.access_level for d in open_data.inventory(city)}
    assert inventory == {
        "service_requests": "public",
        "permits": "public",
        "calls_911": "non-public",
    }


@pytest.mark.parametrize(
    ("dataset", "key", "address"),
    [("service_requests", "request_id", "address"), ("permits", "permit_id", "site_address")],
)
def test_the_public_reads_no_personal_column_and_addresses_as_hundred_blocks(
    city: Context, dataset: str, key: str, address: str
) -> None:
    page = datasets.rows(city, PUBLIC, dataset, limit=1000, order=[key])
    names = {c.name for c in page.columns}
    assert address in names
    assert not PERSONAL & names
    assert len(page.rows) == 1000
    raw = _raw(city.root, dataset, key, address)
    for row in page.rows:
        shown = row[address]
        assert BLOCK.fullmatch(shown), shown
        assert shown not in raw.values()
        assert shown == _hundred_block(raw[row[key]])  # worked out here, not by the masking


def test_staff_read_the_personal_columns_masked(city: Context) -> None:
    analyst = Actor("user", "analyst", Role.ANALYST, department="customer-service", user_id=1)
    page = datasets.rows(city, analyst, "service_requests", limit=50)
    names = {c.name for c in page.columns}
    assert {"reporter_name", "reporter_phone", "address"} <= names
    assert "description" not in names  # free text: dropped unless unmasked
    for row in page.rows:
        assert row["reporter_name"] in ("[redacted]", None)
        assert row["reporter_phone"] in ("[redacted]", None)
        assert BLOCK.fullmatch(row["address"])


def test_911_calls_answer_the_public_like_a_missing_dataset(city: Context) -> None:
    with pytest.raises(NotFound):
        open_data.dataset(city, "calls_911")
    with pytest.raises(PermissionDenied):
        datasets.rows(city, PUBLIC, "calls_911")


@pytest.mark.parametrize(
    "measure_id", [o.measure_id for o in OBJECTIVES if o.dataset == "calls_911"]
)
def test_every_911_kpi_is_published_with_small_cells_suppressed(
    city: Context, measure_id: str
) -> None:
    assert measure_id in APPROVED_FOR_PUBLICATION
    with city.db.session() as session:
        plan = city.require_plan(session)
        state = publication.state(session, plan, plan.measures[measure_id])
    assert state.needs_approval
    assert state.publishable
    assert state.approved_by == str(ADMIN)

    series = public_series(city, measure_id)
    assert series.k == 11
    expected = _cells(city.root, plan.measures[measure_id])
    points = {(p.period_start, p.slice): p for p in series.points}
    assert set(points) == set(expected)
    for cell, (n, share) in expected.items():
        point = points[cell]
        if n < series.k:
            assert point.suppressed, cell
        if point.suppressed:
            assert point.value is None
            assert point.n is None
        else:
            assert point.n == n
            assert point.value == pytest.approx(share)
    totals = [p for p in series.points if p.slice == ""]
    assert totals
    assert not any(p.suppressed for p in totals)


def test_small_district_cells_of_priority_1_police_calls_are_withheld(city: Context) -> None:
    series = public_series(city, "pct-police-p1-8min")
    assert any(p.suppressed for p in series.points if p.slice.startswith("district="))


def test_a_311_kpi_needs_no_approval_to_be_published(city: Context) -> None:
    with city.db.session() as session:
        plan = city.require_plan(session)
        state = publication.state(session, plan, plan.measures["pct-sanitation-on-time"])
    assert not state.needs_approval
    assert state.publishable
    assert public_series(city, "pct-sanitation-on-time").points


def test_approving_again_at_the_next_build_changes_nothing(city: Context) -> None:
    again = approve_for_publication(city, ADMIN, APPROVED_FOR_PUBLICATION)
    assert [a.measure_id for a in again] == list(APPROVED_FOR_PUBLICATION)
    assert not any(a.newly_approved for a in again)


def _raw(root: Path, dataset: str, key: str, address: str) -> dict[str, str]:
    path = root / "data" / f"{dataset}.parquet"
    with duckdb.connect() as con:
        found = con.execute(f"SELECT {key}, {address} FROM read_parquet(?)", [str(path)])  # noqa: S608
        return dict(found.fetchall())


def _hundred_block(address: str) -> str:
    number, street = address.split(",")[0].split(" ", 1)
    return f"{int(number) // 100 * 100} block of {street}"


def _cells(root: Path, measure: Measure) -> dict[tuple[dt.date, str], tuple[int, float]]:
    """Every month's total and per-breakdown cell of a share measure, in plain SQL."""
    condition, where = measure.condition, measure.filter or "TRUE"
    time, (breakdown,) = measure.time, measure.breakdowns
    path = str(root / "data" / "calls_911.parquet")
    sql = (
        f"SELECT CAST(date_trunc('month', {time}) AS DATE) AS month, {{slice}}, count(*), "  # noqa: S608
        f"100 * avg(CASE WHEN {condition} THEN 1 ELSE 0 END) FROM read_parquet(?) "
        f"WHERE {where} GROUP BY ALL"
    )
    out = {}
    with duckdb.connect() as con:
        for slice_sql in ("''", f"'{breakdown}=' || {breakdown}"):
            for month, key, n, share in con.execute(sql.format(slice=slice_sql), [path]).fetchall():
                out[(month, key)] = (int(n), float(share))
    return out


def test_the_911_story_shows_its_approved_numbers_from_the_public_series(city: Context) -> None:
    """The demo's story embeds KPIs of confidential calls: shown once approved, exactly as
    the public series publishes them."""
    series = public_series(city, "pct-911-answered-10s")
    latest = next(p for p in reversed(series.points) if p.slice == "")
    shown = f"{format_value(latest.value, 'percent')} ({latest.period_start:%Y-%m})"

    with TestClient(create_app(city.settings, city)) as client:
        page = client.get("/portal/stories/answering-911-faster")

    assert page.status_code == 200
    words = _words(page.text)
    assert f"answered within ten seconds was {shown} ." in words
    assert "not available" not in words


def _words(page: str) -> str:
    """A page's text as a browser's parser reads it, spaces collapsed."""
    parts: list[str] = []
    parser = HTMLParser()
    parser.handle_data = parts.append  # type: ignore[method-assign]
    parser.feed(page)
    return " ".join(" ".join(parts).split())
