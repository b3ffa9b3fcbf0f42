"""The Riverton demo workspace: valid, complete, and telling a story with mixed statuses."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from civicstat.demo.generate import generate
from civicstat.demo.riverton import OBJECTIVES, write_workspace
from civicstat.domain.targets import Status, evaluate
from civicstat.spec.validate import load_workspace
from civicstat.spec.workspace import Workspace

END = dt.date(2025, 5, 31)
_ARROW_TYPES = {
    "string": "string",
    "timestamp[us]": "timestamp",
    "double": "float",
    "int32": "integer",
    "bool": "boolean",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("riverton")
    write_workspace(folder, end=END, calls=30_000)
    return folder


@pytest.fixture(scope="module")
def workspace(root: Path) -> Workspace:
    return load_workspace(root)


def test_workspace_validates_with_a_full_plan(workspace: Workspace) -> None:
    assert workspace.settings.name == "riverton"
    assert workspace.settings.title == "City of Riverton"
    assert workspace.settings.timezone == "America/New_York"
    assert workspace.settings.fiscal_year_start_month == 7
    assert workspace.settings.holidays is not None
    assert workspace.settings.holidays.subdivision == "VA"
    assert len(workspace.plan.goals) >= 3
    objectives = [o for _, o in workspace.objectives()]
    assert len(objectives) >= 6
    assert len({o.department for o in objectives}) >= 3
    departments = {d.id for d in workspace.governance.departments}
    assert {o.department for o in objectives} <= departments
    for objective in objectives:
        assert objective.measure in workspace.measures, objective.id


def test_plan_period_is_the_three_years_of_data(workspace: Workspace) -> None:
    assert workspace.plan.period.start == dt.date(2022, 6, 1)
    assert workspace.plan.period.end == END


def test_every_measure_is_a_monthly_percent_share_with_one_breakdown(workspace: Workspace) -> None:
    assert len(workspace.measures) == len(OBJECTIVES)
    for measure in workspace.measures.values():
        assert measure.kind == "share"
        assert measure.unit == "percent"
        assert measure.grain == "month"
        assert len(measure.breakdowns) == 1
        assert workspace.source_for_dataset(measure.dataset) is not None, measure.id


def test_sources_declare_exactly_the_columns_of_their_files(
    root: Path, workspace: Workspace
) -> None:
    assert set(workspace.sources) == {"calls_911", "service_requests", "permits"}
    for source in workspace.sources.values():
        assert source.connector == "file"
        schema = pq.read_schema(root / source.options["path"])
        actual = {field.name: _ARROW_TYPES[str(field.type)] for field in schema}
        declared = {column.name: column.type for column in source.columns}
        assert declared == actual, source.id
    assert workspace.sources["calls_911"].classification == "confidential"
    assert workspace.sources["permits"].classification == "public"
    assert workspace.sources["service_requests"].classification == "public"


def test_public_sources_declare_their_personal_columns(workspace: Workspace) -> None:
    pii = {
        (source.id, column.name): (str(column.pii), str(column.masking))
        for source in workspace.sources.values()
        for column in source.columns
        if column.pii is not None
    }
    assert pii == {
        ("service_requests", "address"): ("address", "generalise"),
        ("service_requests", "reporter_name"): ("name", "None"),
        ("service_requests", "reporter_phone"): ("phone", "None"),
        ("service_requests", "description"): ("free_text", "None"),
        ("permits", "applicant_name"): ("name", "None"),
        ("permits", "site_address"): ("address", "generalise"),
    }
    for source in workspace.sources.values():
        assert source.catalog.keywords, source.id
        assert source.catalog.themes, source.id
        assert source.catalog.frequency == "daily", source.id


def test_the_portal_has_a_policy_and_stories_that_embed_real_measures(
    root: Path, workspace: Workspace
) -> None:
    portal = workspace.settings.portal
    assert portal.title == "Riverton Open Data"
    assert portal.publisher == "City of Riverton"
    assert portal.embed_origins == ["https://www.riverton.example.gov"]
    assert portal.data_policy is not None
    assert (root / portal.data_policy).read_text().startswith("# ")
    stories = sorted((root / "stories").glob("*.md"))
    assert len(stories) == 2
    for story in stories:
        assert re.fullmatch(r"[a-z][a-z0-9_-]*", story.stem), story.name  # its address
        _, front, body = story.read_text().split("---\n", 2)
        meta = yaml.safe_load(front)
        assert set(meta) == {"title", "summary", "published"}
        assert meta["published"] == END + dt.timedelta(days=1)
        embedded = re.findall(r"\{\{ (measure|value):([a-z0-9-]+) \}\}", body)
        assert embedded, story.name
        assert {m for _, m in embedded} <= set(workspace.measures), story.name


def test_spec_files_read_like_hand_written_yaml(root: Path) -> None:
    text = (root / "plan.yaml").read_text()
    assert text.startswith("# ")
    assert list(yaml.safe_load(text)) == ["title", "period", "goals"]
    measure = yaml.safe_load((root / "measures" / "pct-911-answered-10s.yaml").read_text())
    assert list(measure)[:3] == ["id", "title", "description"]
    assert measure["condition"] == "answer_seconds <= 10"


def test_every_measure_finds_rows_in_the_last_month(root: Path, workspace: Workspace) -> None:
    for measure, share, rows in _last_month(root, workspace):
        assert rows > 0, measure
        assert 0 <= share <= 100, measure


@pytest.mark.slow
def test_default_size_is_fast_and_shows_on_near_and_off_target(tmp_path: Path) -> None:
    started = time.perf_counter()
    paths = generate(tmp_path / "data", end=END)
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"generating the default demo took {elapsed:.1f} s"
    assert pq.read_metadata(paths["calls_911"]).num_rows >= 1_000_000

    write_workspace(tmp_path, end=END)  # the spec files, and the same data again
    workspace = load_workspace(tmp_path)
    statuses = {}
    for (measure, share, _), (_, objective) in zip(
        _last_month(tmp_path, workspace), workspace.objectives(), strict=True
    ):
        assert measure == objective.measure
        statuses[objective.id] = evaluate(share, objective.target.to_domain())
    assert set(statuses.values()) == {Status.ON_TARGET, Status.NEAR_TARGET, Status.OFF_TARGET}
    assert statuses == {o.id: Status(o.expected) for o in OBJECTIVES}


def _last_month(root: Path, workspace: Workspace) -> list[tuple[str, float, int]]:
    """Each objective's measure over the plan's last month, run as plain SQL in DuckDB."""
    start = workspace.plan.period.end.replace(day=1)
    stop = workspace.plan.period.end + dt.timedelta(days=1)
    results = []
    with duckdb.connect() as con:
        for _, objective in workspace.objectives():
            m = workspace.measures[objective.measure]
            source = workspace.source_for_dataset(m.dataset)
            assert source is not None
            path = root / source.options["path"]
            row = con.execute(
                f"SELECT 100 * avg(CASE WHEN {m.condition} THEN 1 ELSE 0 END), count(*) "  # noqa: S608
                f"FROM read_parquet('{path}') "
                f"WHERE ({m.filter or 'TRUE'}) AND {m.time} >= ? AND {m.time} < ?",
                [start, stop],
            ).fetchone()
            assert row is not None
            results.append((m.id, float(row[0] or 0.0), int(row[1])))
    return results
