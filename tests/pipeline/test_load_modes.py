"""Load modes: replace, append, merge on a key, incremental by a cursor; all idempotent."""

from __future__ import annotations

import csv
import datetime as dt
import textwrap
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions
from civicstat.metadata.models import DataVersion, IngestRun, Observation, SourceState
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context

HEADER = ["id", "opened_at", "district", "minutes"]


def write_workspace(root: Path, load: str, data_glob: str = "data/*.csv") -> None:
    (root / "sources").mkdir(parents=True)
    (root / "measures").mkdir()
    (root / "data").mkdir()
    (root / "civicstat.yaml").write_text("name: modes\ntitle: Load modes\n")
    (root / "governance.yaml").write_text("departments:\n  - {id: works, title: Public Works}\n")
    (root / "plan.yaml").write_text(
        textwrap.dedent("""\
        title: Plan
        period: {start: 2026-01-01, end: 2026-12-31}
        goals:
          - id: g
            title: Fast repairs
            objectives:
              - {id: fast, title: Fast, department: works, measure: fast-repairs,
                 target: {value: 80, direction: higher_is_better}}
        """)
    )
    (root / "measures" / "fast.yaml").write_text(
        textwrap.dedent("""\
        id: fast-repairs
        title: Repairs within 60 minutes
        dataset: repairs
        kind: share
        condition: minutes <= 60
        time: opened_at
        breakdowns: [district]
        """)
    )
    (root / "sources" / "repairs.yaml").write_text(
        textwrap.dedent(f"""\
        id: repairs
        title: Repairs
        owner: works
        options: {{path: "{data_glob}"}}
        load: {load}
        columns:
          - {{name: id, type: integer}}
          - {{name: opened_at, type: timestamp}}
          - {{name: district, type: string}}
          - {{name: minutes, type: float}}
        """)
    )


def write_rows(path: Path, rows: list[tuple[object, ...]], header: list[str] = HEADER) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def rows_of(ctx: Context, version: DataVersion) -> list[tuple[object, ...]]:
    files = [str(ctx.lake.path(f)) for f in version.files]
    con = duckdb.connect()
    try:
        query = "SELECT id, opened_at::VARCHAR, district, minutes FROM read_parquet($f)"
        return sorted(con.execute(query, {"f": files}).fetchall())
    finally:
        con.close()


Make = Callable[[str], Context]


@pytest.fixture
def workspace(tmp_path: Path, make_context: Callable[[Path], Context], admin: Actor) -> Make:
    def make(load: str) -> Context:
        root = tmp_path / "ws"
        write_workspace(root, load)
        ctx = make_context(root)
        workspace_service.apply(ctx, admin)
        return ctx

    return make


def ingest(ctx: Context, admin: Actor) -> ingest_service.IngestOutcome:
    return ingest_service.ingest(ctx, admin, "repairs")


def test_replace_with_the_same_input_is_unchanged(workspace: Make, admin: Actor) -> None:
    ctx = workspace("replace")
    write_rows(ctx.root / "data" / "a.csv", [(1, "2026-01-05 10:00:00", "North", 30)])
    first = ingest(ctx, admin).result
    again = ingest(ctx, admin).result
    assert (first.status, again.status) == ("succeeded", "unchanged")
    assert again.version is not None
    assert first.version is not None
    assert again.version.id == first.version.id
    with ctx.db.session() as session:
        assert session.scalars(select(IngestRun.status).order_by(IngestRun.id)).all() == [
            "succeeded",
            "unchanged",
        ]


def test_the_same_input_is_recognised_by_its_hash_and_a_new_definition_reloads_it(
    workspace: Make, admin: Actor
) -> None:
    ctx = workspace("replace")
    rows = [(i, f"2026-01-{i:02d} 08:00:00", "North", i) for i in range(1, 21)]
    write_rows(ctx.root / "data" / "a.csv", rows)
    first = ingest(ctx, admin).result
    assert ingest(ctx, admin).result.status == "unchanged"  # same bytes: nothing parsed again
    # The same file read with a changed definition (a wider type) is a new version.
    spec = ctx.root / "sources" / "repairs.yaml"
    spec.write_text(
        spec.read_text().replace("{name: id, type: integer}", "{name: id, type: string}")
    )
    workspace_service.apply(ctx, admin)
    reread = ingest(ctx, admin).result
    assert reread.status == "succeeded"
    assert first.version is not None
    assert reread.version is not None
    assert reread.version.checksum != first.version.checksum
    assert reread.version.row_count == first.version.row_count == 20


def test_append_adds_new_files_once_and_keeps_old_ones(workspace: Make, admin: Actor) -> None:
    ctx = workspace("append")
    write_rows(ctx.root / "data" / "week1.csv", [(1, "2026-01-05 10:00:00", "North", 30)])
    v1 = ingest(ctx, admin).result.version
    write_rows(ctx.root / "data" / "week2.csv", [(2, "2026-02-03 10:00:00", "South", 90)])
    v2 = ingest(ctx, admin).result.version
    rerun = ingest(ctx, admin).result  # both files already loaded: nothing new
    assert v1 is not None
    assert v2 is not None
    assert rerun.status == "unchanged"
    assert v2.files[0] == v1.files[0]  # the first week's file is shared, not rewritten
    assert rows_of(ctx, v2) == [
        (1, "2026-01-05 10:00:00", "North", 30.0),
        (2, "2026-02-03 10:00:00", "South", 90.0),
    ]
    assert v2.row_count == 2
    assert v2.checksum.startswith("2:")


def test_merge_upserts_on_the_key(workspace: Make, admin: Actor) -> None:
    ctx = workspace("{mode: merge, key: [id]}")
    data = ctx.root / "data" / "a.csv"
    write_rows(
        data, [(1, "2026-01-05 10:00:00", "North", 30), (2, "2026-01-06 10:00:00", "South", 45)]
    )
    ingest(ctx, admin)
    # id 2 is corrected twice in one pull (the last row wins) and id 3 is new.
    day = "2026-01-06 10:00:00"
    write_rows(
        data, [(2, day, "South", 50), (2, day, "South", 55), (3, "2026-01-07 10:00:00", "East", 70)]
    )
    merged = ingest(ctx, admin).result.version
    assert merged is not None
    assert rows_of(ctx, merged) == [
        (1, "2026-01-05 10:00:00", "North", 30.0),
        (2, "2026-01-06 10:00:00", "South", 55.0),
        (3, "2026-01-07 10:00:00", "East", 70.0),
    ]
    assert ingest(ctx, admin).result.status == "unchanged"  # same upsert again: same rows


def test_incremental_loads_only_rows_past_the_high_water_mark(
    workspace: Make, admin: Actor
) -> None:
    ctx = workspace("{mode: incremental, cursor: opened_at}")
    data = ctx.root / "data" / "export.csv"
    write_rows(
        data, [(1, "2026-01-05 10:00:00", "North", 30), (2, "2026-01-20 10:00:00", "South", 90)]
    )
    ingest(ctx, admin)
    with ctx.db.session() as session:
        assert session.get_one(SourceState, "repairs").high_water_mark == "2026-01-20 10:00:00"
    # The export now repeats old rows (a source that ignores the cursor) and adds one.
    old = [(1, "2026-01-05 10:00:00", "North", 30), (2, "2026-01-20 10:00:00", "South", 90)]
    write_rows(data, [*old, (3, "2026-02-02 09:00:00", "East", 20)])
    outcome = ingest(ctx, admin)
    version = outcome.result.version
    assert version is not None
    assert [r[0] for r in rows_of(ctx, version)] == [1, 2, 3]
    with ctx.db.session() as session:
        assert session.get_one(SourceState, "repairs").high_water_mark == "2026-02-02 09:00:00"
    # Only February (the new row's period) was recomputed; January kept its observation.
    assert outcome.result.earliest == {"opened_at": dt.datetime(2026, 2, 2, 9)}
    with ctx.db.session() as session:
        current = session.scalars(
            select(Observation).where(
                Observation.superseded_at.is_(None), Observation.slice_key == ""
            )
        ).all()
    by_month = {o.period_start.isoformat(): o for o in current}
    assert by_month["2026-01-01"].data_version_id != by_month["2026-02-01"].data_version_id
    assert (by_month["2026-01-01"].numerator, by_month["2026-01-01"].denominator) == (1, 2)
    assert (by_month["2026-02-01"].numerator, by_month["2026-02-01"].denominator) == (1, 1)


def test_a_new_source_column_is_loaded_unclassified_and_reported(
    workspace: Make, admin: Actor
) -> None:
    ctx = workspace("replace")
    write_rows(ctx.root / "data" / "a.csv", [(1, "2026-01-05 10:00:00", "North", 30, "yes")],
               header=[*HEADER, "Crew Name"])  # fmt: skip
    result = ingest(ctx, admin).result
    assert result.version is not None
    drift = [c for c in result.version.columns if c.get("declared") == "false"]
    assert drift == [
        {"name": "crew_name", "type": "string", "source_column": "Crew Name", "declared": "false"}
    ]
    assert any(
        "new column 'Crew Name' loaded as 'crew_name', unclassified" in w for w in result.warnings
    )
    with ctx.db.session() as session:
        head = data_versions.current(session, "repairs")
        run = session.get_one(IngestRun, result.run_id)
    assert head is not None
    assert run.warnings == result.warnings
