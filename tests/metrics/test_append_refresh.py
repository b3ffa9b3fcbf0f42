"""A refresh after an append must equal a full recompute, for every kind and whichever way
the refresh gets there: adding the appended rows' aggregates to the stored ones (counts,
sums, shares, means), carrying a backlog on from the period before, or re-reading the
periods' rows (medians, and whenever the stored observations do not allow the others).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions
from civicstat.metadata.models import AuditEvent, Observation
from civicstat.metrics import composite, refresh
from civicstat.services import ingest as ingest_service
from civicstat.services import measures
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings

MEASURES = {
    "received": "kind: count\ntime: opened_at\nbreakdowns: [district]",
    "quick": "kind: share\ncondition: hours <= 24\ntime: opened_at\nbreakdowns: [district]",
    "cost": "kind: sum\nvalue: cost\ntime: opened_at\nbreakdowns: [district]",
    "mean-hours": (
        "kind: duration\nstart: opened_at\nend: closed_at\nstatistic: mean\nunit: hours\n"
        "breakdowns: [district]"
    ),
    "median-hours": "kind: duration\nstart: opened_at\nend: closed_at\nunit: hours",
    "quick-rolling": "kind: share\ncondition: hours <= 24\ntime: opened_at\nwindow: {trailing: 3}",
    "received-ytd": "kind: cumulative\nof: received",
    "open": (
        "kind: backlog\nstart: opened_at\nend: closed_at\naging: [7, 30]\nbreakdowns: [district]"
    ),
    "quick-of-received": "kind: ratio\nnumerator: quick\ndenominator: received",
    "not-quick": "kind: derived\ninputs: {q: quick}\nexpression: 100 - q\nunit: percent",
}
COMPOSITE = {"received-ytd", "quick-of-received", "not-quick"}
# Computed by adding the appended rows' aggregates to the stored ones.
ADDING = ["received", "quick", "cost", "mean-hours"]


def write_workspace(root: Path) -> None:
    for folder in ("sources", "measures", "data"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "civicstat.yaml").write_text("name: appends\ntitle: Appends\n")
    (root / "governance.yaml").write_text("departments:\n  - {id: works, title: Works}\n")
    (root / "plan.yaml").write_text(
        textwrap.dedent("""\
        title: Plan
        period: {start: 2025-01-01, end: 2026-12-31}
        goals:
          - id: g
            title: Quick repairs
            objectives:
              - {id: quick, title: Quick, department: works, measure: quick,
                 target: {value: 50, direction: higher_is_better}}
        """)
    )
    for name, body in MEASURES.items():
        dataset = "" if name in COMPOSITE else "dataset: calls\n"
        text = f"id: {name}\ntitle: {name}\n{dataset}{body}\n"
        (root / "measures" / f"{name}.yaml").write_text(text)
    (root / "sources" / "calls.yaml").write_text(
        textwrap.dedent("""\
        id: calls
        title: Calls
        owner: works
        options: {path: "data/*.csv"}
        load: append
        columns:
          - {name: id, type: integer}
          - {name: opened_at, type: timestamp}
          - {name: closed_at, type: timestamp}
          - {name: district, type: string}
          - {name: hours, type: float}
          - {name: cost, type: float}
        """)
    )


def write_batch(
    path: Path, first_id: int, days: tuple[dt.date, dt.date], n: int, seed: int
) -> None:
    """``n`` calls opened between two days; some never closed, some without a cost, and
    one district that sends no cost at all."""
    rng = random.Random(seed)
    span = (days[1] - days[0]).days
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["id", "opened_at", "closed_at", "district", "hours", "cost"])
        for i in range(n):
            opened = dt.datetime.combine(days[0], dt.time()) + dt.timedelta(
                days=rng.randint(0, span), minutes=rng.randint(0, 1439)
            )
            hours = round(rng.uniform(0.5, 24 * 50), 2)
            closed = None if rng.random() < 0.15 else opened + dt.timedelta(hours=hours)
            district = rng.choice(["north", "south", "harbor", ""])
            cost = None if district == "harbor" or rng.random() < 0.1 else rng.randint(1, 900) / 8
            out.writerow(
                [
                    first_id + i,
                    opened.strftime("%Y-%m-%d %H:%M:%S"),
                    closed.strftime("%Y-%m-%d %H:%M:%S") if closed else "",
                    district,
                    hours if closed else "",
                    "" if cost is None else cost,
                ]
            )


Values = dict[str, dict[tuple[dt.date, str], tuple[float | None, int]]]


def current(ctx: Context) -> Values:
    with ctx.db.session() as session:
        found = session.scalars(select(Observation).where(Observation.superseded_at.is_(None)))
        out: Values = {m: {} for m in MEASURES}
        for o in found:
            out[o.measure_id][(o.period_start, o.slice_key)] = (o.value, o.n)
        return out


def assert_same(got: Values, expected: Values) -> None:
    for measure_id, want in expected.items():
        have = got[measure_id]
        assert set(have) == set(want), (measure_id, sorted(set(have) ^ set(want))[:4])
        for key, (value, n) in want.items():
            other, other_n = have[key]
            assert other_n == n, (measure_id, key)
            assert (value is None) == (other is None), (measure_id, key)
            if value is not None and other is not None:
                assert math.isclose(value, other, rel_tol=1e-12, abs_tol=1e-9), (measure_id, key)


Make = Callable[[str], Context]


@pytest.fixture
def workspace(tmp_path: Path, make_context: Callable[[Path], Context], admin: Actor) -> Make:
    def make(name: str) -> Context:
        root = tmp_path / name
        write_workspace(root)
        made = make_context(root)
        workspace_service.apply(made, admin)
        return made

    return make


def land(ctx: Context, admin: Actor, name: str, *batch: object) -> None:
    write_batch(ctx.root / "data" / name, *batch)  # type: ignore[arg-type]
    outcome = ingest_service.ingest(ctx, admin, "calls")
    assert outcome.result.status == "succeeded", outcome.result


@pytest.fixture
def twin(tmp_path: Path, admin: Actor) -> Iterator[Context]:
    """A workspace of its own (SQLite) that recomputes everything: the reference."""
    root = tmp_path / "twin"
    write_workspace(root)
    made = Context(Settings(workspace=root, database_url=f"sqlite:///{tmp_path / 'twin.db'}"))
    made.migrate()
    workspace_service.apply(made, admin)
    yield made
    made.close()


def test_refreshes_after_appends_equal_full_recomputes(
    workspace: Make, twin: Context, admin: Actor
) -> None:
    """One workspace only refreshes; its twin gets the same files and recomputes fully."""
    ctx = workspace("refreshed")
    steps = [
        (1, (dt.date(2025, 5, 1), dt.date(2025, 8, 20)), 600, 1),
        # More rows in the running month (stored periods grow), and the next month.
        (1000, (dt.date(2025, 8, 10), dt.date(2025, 9, 12)), 150, 2),
        # Only the running month: a window adds to the periods it has stored.
        (2000, (dt.date(2025, 9, 12), dt.date(2025, 9, 29)), 80, 3),
        # Late rows for June: the stored periods since then come from several versions.
        (3000, (dt.date(2025, 6, 2), dt.date(2025, 6, 28)), 40, 4),
        # Past a calendar year's end, after months with no new rows.
        (4000, (dt.date(2026, 1, 5), dt.date(2026, 1, 30)), 60, 5),
    ]
    for index, batch in enumerate(steps):
        land(ctx, admin, f"b{index}.csv", *batch)
        land(twin, admin, f"b{index}.csv", *batch)
        measures.compute(twin, admin)  # every period again, from every row
        assert_same(current(ctx), current(twin))


def test_counts_sums_shares_and_means_read_only_the_appended_rows(
    workspace: Make, admin: Actor, tmp_path: Path
) -> None:
    ctx = workspace("ws")
    land(ctx, admin, "a.csv", 1, (dt.date(2025, 5, 1), dt.date(2025, 8, 20)), 600, 1)
    write_batch(
        ctx.root / "data" / "b.csv", 1000, (dt.date(2025, 8, 15), dt.date(2025, 9, 5)), 90, 2
    )
    appended = ingest_service.ingest(ctx, admin, "calls", recompute=False)
    with ctx.db.session() as session:
        plan = ctx.require_plan(session)
        version = data_versions.current(session, "calls")
        assert version is not None
        earlier = [ctx.lake.path(f) for f in version.files[:-1]]
    since = refresh.refresh_from(plan, ADDING, appended.result.earliest or {})
    # The earlier version's files are out of reach: a refresh that read them would fail.
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for path in earlier:
        shutil.move(path, hidden / path.name)
    outcomes = measures.compute(ctx, admin, ADDING, since=since)
    assert {o.measure_id for o in outcomes} >= set(ADDING)
    refreshed = {m: v for m, v in current(ctx).items() if m in ADDING}
    for path in earlier:
        shutil.move(hidden / path.name, path)
    ctx.warehouse.close()
    measures.compute(ctx, admin, ADDING)
    # August had rows in both files: only adding to what was stored can give its total.
    assert_same({m: v for m, v in current(ctx).items() if m in ADDING}, refreshed)


def computed_events(ctx: Context) -> list[tuple[str, str, int]]:
    """The ``measure:compute`` audit events: (measure, data version, observations)."""
    with ctx.db.session() as session:
        found = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "measure:compute").order_by(AuditEvent.id)
        )
        return [(e.object_id, e.detail["data_version"], e.detail["observations"]) for e in found]


def test_a_compute_lands_whole_with_an_audit_event_per_changed_measure_or_not_at_all(
    workspace: Make, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = workspace("audited")
    write_batch(ctx.root / "data" / "a.csv", 1, (dt.date(2025, 5, 1), dt.date(2025, 6, 20)), 90, 1)
    ingest_service.ingest(ctx, admin, "calls", recompute=False)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("derived failed")

    with monkeypatch.context() as patch:
        # The last composite fails after every row measure was stored in the transaction.
        patch.setattr(composite, "derived", broken)
        with pytest.raises(RuntimeError, match="derived failed"):
            measures.compute(ctx, admin)
    assert computed_events(ctx) == []
    assert all(not values for values in current(ctx).values())

    outcomes = measures.compute(ctx, admin)
    assert sorted(o.measure_id for o in outcomes) == sorted(MEASURES)
    assert all(o.changed and o.data_version == "calls@1" for o in outcomes)
    expected = [(o.measure_id, o.data_version, o.observations) for o in outcomes]
    assert computed_events(ctx) == expected
    # Nothing changed: nothing is stored again, nothing audited.
    assert not any(o.changed for o in measures.compute(ctx, admin))
    assert computed_events(ctx) == expected
