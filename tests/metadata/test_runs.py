"""Run records: what the pipeline writes of a run and what readers ask of it, on SQLite
and PostgreSQL alike."""

from __future__ import annotations

from dataclasses import dataclass

from civicstat.metadata import runs
from civicstat.metadata.db import Database


@dataclass(frozen=True)
class Check:
    check: str = "not_null"
    target: str = "id"
    severity: str = "error"
    passed: bool = True
    failing_rows: int = 0
    detail: str = ""


def test_a_run_is_opened_running_and_closed_with_its_checks(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with db.write() as session:
        first = runs.start(session, "calls", "calls", "manual", "admin")
        second = runs.start(session, "calls", "calls", "schedule", "admin")
        other = runs.start(session, "permits", "permits", "manual", "admin")
    with db.session() as session:
        assert runs.last_status(session, "calls") == "running"
        assert runs.last_success(session, "calls") is None
    with db.write() as session:
        ending = runs.Ending("unchanged", None, ["unchanged: no new payload"], 3, 0)
        runs.finish(session, first, "calls", ending, checks=[Check(), Check(target="x")])
        runs.finish(session, second, "calls", runs.Ending("failed", "boom", [], 0, 0))
    with db.session() as session:
        assert runs.last_status(session, "calls") == "failed"
        assert runs.last_success(session, "calls") is not None
        assert sorted(runs.last_started(session)) == ["calls", "permits"]
        assert list(runs.last_started(session, "permits")) == ["permits"]
        newest = runs.newest(session, 10, datasets=["calls"])
        assert [r.id for r in newest] == [second, first]
        with_retired = runs.newest(session, 10, datasets=[], known=["calls"])
        assert [r.id for r in with_retired] == [other]
        checks = runs.checks_of(session, [first, second])
        assert [c.target for c in checks[first]] == ["id", "x"]
        assert checks[second] == []
    db.dispose()


def test_a_high_water_mark_is_kept_per_source(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    with db.write() as session:
        assert runs.high_water_mark(session, "calls") is None
        runs.store_high_water_mark(session, "calls", "2026-01-01 00:00:00")
    with db.write() as session:
        runs.store_high_water_mark(session, "calls", "2026-02-01 00:00:00")
    with db.session() as session:
        assert runs.high_water_mark(session, "calls") == "2026-02-01 00:00:00"
    db.dispose()
