"""Measures as a running service computes them: incremental refresh after new data, what
was reported beside what is current, signals, projections and stale data."""

from __future__ import annotations

import csv
import datetime as dt
import random
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from civicstat.domain.periods import Grain, period_of
from civicstat.domain.signals import xmr
from civicstat.domain.targets import Status
from civicstat.governance.actors import Actor
from civicstat.metadata.models import Observation
from civicstat.services import ingest as ingest_service
from civicstat.services import measures, plan
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context

MEASURES = {
    "fast": """\
        id: fast
        title: Repairs within 60 minutes
        dataset: repairs
        kind: share
        condition: minutes <= 60
        time: opened_at
        breakdowns: [district]
        """,
    "repairs": """\
        id: repairs
        title: Repairs
        dataset: repairs
        kind: count
        time: opened_at
        breakdowns: [district]
        """,
    "rolling": """\
        id: rolling
        title: Repairs, rolling three months
        dataset: repairs
        kind: count
        time: opened_at
        window: {trailing: 3}
        """,
    "ytd": """\
        id: ytd
        title: Repairs, year to date
        kind: cumulative
        of: repairs
        """,
    "slow": """\
        id: slow
        title: Repairs over 60 minutes
        kind: derived
        inputs: {share: fast}
        expression: 100 - share
        unit: percent
        """,
}


def write_workspace(root: Path, *, load: str = "append", stale_after_hours: float = 0) -> None:
    for folder in ("sources", "measures", "data"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "civicstat.yaml").write_text("name: refresh\ntitle: Refresh\n")
    (root / "governance.yaml").write_text("departments:\n  - {id: works, title: Works}\n")
    (root / "plan.yaml").write_text(
        textwrap.dedent("""\
        title: Plan
        period: {start: 2024-01-01, end: 2027-12-31}
        goals:
          - id: g
            title: Fast repairs
            objectives:
              - {id: fast, title: Fast, department: works, measure: fast,
                 target: {value: 50, direction: higher_is_better, warning_band: 5}}
        """)
    )
    for name, body in MEASURES.items():
        (root / "measures" / f"{name}.yaml").write_text(textwrap.dedent(body))
    stale = f"stale_after_hours: {stale_after_hours}\n" if stale_after_hours else ""
    (root / "sources" / "repairs.yaml").write_text(
        textwrap.dedent("""\
        id: repairs
        title: Repairs
        owner: works
        options: {path: "data/*.csv"}
        """)
        + f"load: {load}\n{stale}"
        + textwrap.dedent("""\
        columns:
          - {name: id, type: integer}
          - {name: opened_at, type: timestamp}
          - {name: district, type: string}
          - {name: minutes, type: float}
        """)
    )


Row = tuple[int, dt.datetime, str, float]


def make_rows(first_id: int, months: list[tuple[int, int]], per_month: int, seed: int) -> list[Row]:
    rng = random.Random(seed)
    rows = []
    for index, (year, month) in enumerate(m for m in months for _ in range(per_month)):
        day = rng.randint(1, 28)
        opened = dt.datetime(year, month, day, rng.randint(0, 23), rng.randint(0, 59))
        district = rng.choice(["north", "south"])
        rows.append((first_id + index, opened, district, float(rng.randint(5, 120))))
    return rows


def write_rows(path: Path, rows: list[Row]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "opened_at", "district", "minutes"])
        writer.writerows((i, t.strftime("%Y-%m-%d %H:%M:%S"), d, m) for i, t, d, m in rows)


Make = Callable[..., Context]


@pytest.fixture
def workspace(tmp_path: Path, make_context: Callable[[Path], Context], admin: Actor) -> Make:
    def make(**options: object) -> Context:
        root = tmp_path / "ws"
        write_workspace(root, **options)  # type: ignore[arg-type]
        ctx = make_context(root)
        workspace_service.apply(ctx, admin)
        return ctx

    return make


def current(ctx: Context, measure_id: str) -> dict[tuple[dt.date, str], Observation]:
    with ctx.db.session() as session:
        found = session.scalars(
            select(Observation).where(
                Observation.measure_id == measure_id, Observation.superseded_at.is_(None)
            )
        )
        return {(o.period_start, o.slice_key): o for o in found}


def values(ctx: Context, measure_id: str) -> dict[tuple[dt.date, str], float | None]:
    return {k: o.value for k, o in current(ctx, measure_id).items()}


FIRST_QUARTER = [(2025, 1), (2025, 2), (2025, 3)]


def test_appended_rows_recompute_only_the_periods_they_touch(workspace: Make, admin: Actor) -> None:
    ctx = workspace()
    write_rows(ctx.root / "data" / "q1.csv", make_rows(1, FIRST_QUARTER, 40, seed=1))
    ingest_service.ingest(ctx, admin, "repairs")
    before = {m: current(ctx, m) for m in MEASURES}

    write_rows(ctx.root / "data" / "april.csv", make_rows(1000, [(2025, 4)], 40, seed=2))
    outcome = ingest_service.ingest(ctx, admin, "repairs")

    assert {c.measure_id for c in outcome.computed} == set(MEASURES)
    april = dt.date(2025, 4, 1)
    for measure_id in ("fast", "repairs", "rolling", "ytd"):
        after = current(ctx, measure_id)
        for key, observation in before[measure_id].items():
            # Periods before April are the very same rows: not recomputed.
            assert after[key].id == observation.id, (measure_id, key)
        assert {k for k in after if k[0] >= april}, measure_id
    incremental = {m: values(ctx, m) for m in MEASURES}
    measures.compute(ctx, admin)  # recompute everything from scratch: nothing changes
    assert {m: values(ctx, m) for m in MEASURES} == incremental
    # The rolling window of April reaches back to February's rows.
    rows = make_rows(1, FIRST_QUARTER, 40, seed=1) + make_rows(1000, [(2025, 4)], 40, seed=2)
    in_window = [r for r in rows if dt.datetime(2025, 2, 1) <= r[1] < dt.datetime(2025, 5, 1)]
    assert incremental["rolling"][(april, "")] == len(in_window)
    assert incremental["ytd"][(april, "")] == len(rows)


def test_late_rows_restate_a_period_and_what_was_reported_stays_visible(
    workspace: Make, admin: Actor
) -> None:
    ctx = workspace()
    write_rows(ctx.root / "data" / "q1.csv", make_rows(1, FIRST_QUARTER, 40, seed=1))
    ingest_service.ingest(ctx, admin, "repairs")
    reported = values(ctx, "fast")[(dt.date(2025, 2, 1), "")]

    # A late batch: ten slow February repairs arrive with April's.
    late = [(5000 + i, dt.datetime(2025, 2, 10, 9), "north", 119.0) for i in range(10)]
    write_rows(ctx.root / "data" / "april.csv", late + make_rows(1000, [(2025, 4)], 5, seed=3))
    ingest_service.ingest(ctx, admin, "repairs")

    got = measures.get_series(ctx, admin, "fast")
    february = next(p for p in got.points if p.period == "2025-02")
    assert february.as_reported == reported
    assert february.value is not None
    assert february.value < reported
    assert february.restated
    january = next(p for p in got.points if p.period == "2025-01")
    assert not january.restated
    versions = measures.history(ctx, admin, "fast", dt.date(2025, 2, 1))
    assert [v.value for v in versions] == [reported, february.value]
    assert versions[0].superseded_at is not None
    assert versions[1].superseded_at is None
    assert [v.data_version for v in versions] == ["repairs@1", "repairs@2"]


def test_a_new_definition_recomputes_every_period(workspace: Make, admin: Actor) -> None:
    ctx = workspace()
    write_rows(ctx.root / "data" / "q1.csv", make_rows(1, FIRST_QUARTER, 40, seed=1))
    ingest_service.ingest(ctx, admin, "repairs")
    (ctx.root / "measures" / "fast.yaml").write_text(
        textwrap.dedent(MEASURES["fast"]).replace("minutes <= 60", "minutes <= 30")
    )
    workspace_service.apply(ctx, admin)
    write_rows(ctx.root / "data" / "april.csv", make_rows(1000, [(2025, 4)], 40, seed=2))
    ingest_service.ingest(ctx, admin, "repairs")

    rows = make_rows(1, FIRST_QUARTER, 40, seed=1)
    january = [r for r in rows if r[1].month == 1]
    expected = sum(r[3] <= 30 for r in january) * 100 / len(january)
    assert values(ctx, "fast")[(dt.date(2025, 1, 1), "")] == pytest.approx(expected, rel=1e-12)


def test_series_has_change_control_limits_and_status(workspace: Make, admin: Actor) -> None:
    ctx = workspace()
    months = [(2024, m) for m in range(1, 13)] + [(2025, m) for m in range(1, 7)]
    rows = make_rows(1, months, 30, seed=7)
    write_rows(ctx.root / "data" / "all.csv", rows)
    ingest_service.ingest(ctx, admin, "repairs")

    got = measures.get_series(ctx, admin, "fast")

    def share(year: int, month: int) -> float:
        chosen = [r for r in rows if (r[1].year, r[1].month) == (year, month)]
        return sum(r[3] <= 60 for r in chosen) * 100 / len(chosen)

    assert [p.period for p in got.points] == [f"{y}-{m:02d}" for y, m in months]
    assert got.change_from_previous is not None
    assert got.change_from_previous.absolute == pytest.approx(share(2025, 6) - share(2025, 5))
    assert got.change_from_year_ago is not None
    assert got.change_from_year_ago.absolute == pytest.approx(share(2025, 6) - share(2024, 6))
    chart = xmr([share(y, m) for y, m in months])
    assert got.control is not None
    assert got.control.centre == pytest.approx(chart.centre)
    assert got.control.upper == pytest.approx(chart.upper)
    for point in got.points:
        expected = Status.ON_TARGET if point.value is not None and point.value >= 50 else None
        if expected is None:
            assert point.status in (Status.NEAR_TARGET, Status.OFF_TARGET)
        else:
            assert point.status is expected
        assert point.target == 50
    assert got.slices == ["", "district=north", "district=south"]
    north = measures.get_series(ctx, admin, "fast", "district=north")
    assert north.points[0].n < got.points[0].n


def test_the_running_period_is_flagged_and_projected_at_its_pace(
    workspace: Make, admin: Actor
) -> None:
    ctx = workspace()
    today = dt.date.today()
    month = period_of(today, Grain.MONTH)
    rows = [
        (i, dt.datetime.combine(month.start, dt.time(8)) + dt.timedelta(minutes=i), "north", 10.0)
        for i in range(12)
    ]
    write_rows(ctx.root / "data" / "now.csv", rows)
    ingest_service.ingest(ctx, admin, "repairs")

    got = measures.get_series(ctx, admin, "repairs")

    assert got.points[-1].partial
    elapsed = (today - month.start).days + 1
    total = (month.end - month.start).days
    assert got.projection == pytest.approx(12 * total / elapsed)  # a count grows with time
    share = measures.get_series(ctx, admin, "fast")
    assert share.projection == share.points[-1].value  # a share keeps its pace


def test_stale_data_is_never_shown_on_target(workspace: Make, admin: Actor) -> None:
    ctx = workspace(stale_after_hours=0.0003)  # about a second
    rows = [(i, dt.datetime(2025, 1, 2, 8), "north", 10.0) for i in range(5)]  # all fast
    write_rows(ctx.root / "data" / "jan.csv", rows)
    ingest_service.ingest(ctx, admin, "repairs")
    time.sleep(1.5)

    got = measures.get_series(ctx, admin, "fast")
    objective = plan.get_plan(ctx, admin).goals[0].objectives[0]

    assert got.points[-1].value == 100.0
    assert got.status is Status.STALE
    assert got.freshness[0].stale
    assert objective.status is Status.STALE
    assert objective.stale
