"""Progress of a run: which phase it is in and, where the work can be measured, how far along."""

from __future__ import annotations

import datetime as dt
import errno
import os
from pathlib import Path

import duckdb
import pytest

from civicstat.governance.actors import Actor
from civicstat.services import ingest as ingest_service
from civicstat.services.context import Context
from civicstat.spec.models import Column
from civicstat.warehouse import loader, storage
from civicstat.warehouse.loader import Input
from civicstat.warehouse.storage import Lake

SOURCE = "service_requests"


class Recorder:
    """A progress listener that keeps every report."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, float | None]] = []

    def __call__(self, phase: str, done: float | None = None, /) -> None:
        self.reports.append((phase, done))

    def phases(self) -> list[str]:
        return list(dict.fromkeys(phase for phase, _ in self.reports))

    def shares(self, phase: str) -> list[float]:
        return [done for p, done in self.reports if p == phase and done is not None]


def grows_to_one(shares: list[float]) -> bool:
    return bool(shares) and shares == sorted(shares) and shares[-1] == 1.0


def test_a_local_csv_reports_its_bytes_copied_then_its_rows_loaded(
    example_ctx: Context, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "_COPY_STEP", 4096)  # several steps for a small file
    recorder = Recorder()

    outcome = ingest_service.ingest(example_ctx, admin, SOURCE, progress=recorder)

    assert outcome.result.status == "succeeded"
    assert recorder.phases() == ["fetching", "loading", "checking", "publishing", "recomputing"]
    fetched = recorder.shares("fetching")
    assert grows_to_one(fetched)
    assert fetched[0] == 0.0
    assert any(0.0 < share < 1.0 for share in fetched)
    loaded = recorder.shares("loading")
    assert grows_to_one(loaded)
    assert loaded[0] == 0.0
    # Checking and publishing cannot tell how far along they are: the bar sweeps.
    assert recorder.shares("checking") == recorder.shares("publishing") == []


def test_a_large_csv_load_reports_duckdbs_own_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "_POLL_SECONDS", 0.005)
    path = tmp_path / "calls.csv"
    con = loader.connect()
    rows = (
        "SELECT i AS call_id, TIMESTAMP '2024-01-01' + to_seconds(i) AS received_at, "
        "'district ' || (i % 7) AS district FROM range(1000000) t(i)"
    )
    con.execute(f"COPY ({rows}) TO {loader.literal(str(path))} (HEADER)")
    columns = [
        Column(name="call_id", type="integer"),
        Column(name="received_at", type="timestamp"),
        Column(name="district", type="string"),
    ]
    (tmp_path / "out").mkdir()
    shares: list[float] = []

    pulled = loader.pull(
        con, [Input(path, "calls.csv", "csv")], columns, {}, tmp_path / "out", shares.append
    )

    assert pulled.rows_good == 1_000_000
    assert grows_to_one(shares)
    assert any(0.0 < share < 1.0 for share in shares), shares
    # The progress bar DuckDB tracks for it is off again once the load is over.
    assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)


def test_nobody_listening_leaves_duckdbs_progress_tracking_off(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("id\n1\n2\n", encoding="utf-8")
    (tmp_path / "out").mkdir()
    con = loader.connect()
    seen: list[bool] = []
    with loader.watching(con, None):
        row = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
        seen.append(bool(row and row[0]))
    pulled = loader.pull(
        con, [Input(path, "small.csv", "csv")], [Column(name="id", type="integer")], {},
        tmp_path / "out",
    )  # fmt: skip
    assert (seen, pulled.rows_good) == ([False], 2)


def test_a_watched_copy_falls_back_to_one_kernel_copy_where_ranges_cannot_be_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def across_filesystems(*args: object) -> int:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "copy_file_range", across_filesystems, raising=False)
    source = tmp_path / "payload.csv"
    source.write_bytes(b"id\n" + b"1\n" * 50_000)
    copied: list[int] = []

    landed = Lake(tmp_path / "lake").land_file(
        "s", "payload.csv", "text/csv", source, when=dt.datetime.now(dt.UTC),
        on_bytes=copied.append,
    )  # fmt: skip

    assert landed.path.read_bytes() == source.read_bytes()
    assert copied == [source.stat().st_size]


def test_a_failed_load_stops_watching_and_reports_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "_POLL_SECONDS", 0.001)
    con = loader.connect()
    with pytest.raises(duckdb.Error), loader.watching(con, lambda share: None):
        con.execute("SELECT * FROM no_such_table")
    row = con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    assert row == (False,)
