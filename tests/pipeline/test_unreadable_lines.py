"""A line the readers cannot take is never lost without a trace: it is quarantined with its
line number and a reason, counted against ``max_bad_rows``; a payload that expands beyond
reason (a gzip bomb) fails its run in bounded time and memory, and the dataset keeps its
last good version."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import select

from civicstat.governance.actors import Actor
from civicstat.metadata import data_versions
from civicstat.metadata.models import IngestRun, QuarantinedRow
from civicstat.pipeline.runner import IngestError
from civicstat.services import ingest as ingest_service
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings

SCRIPT_PYTHON = sys.executable


def write_workspace(root: Path, path: str = "data/*.csv", max_bad_rows: float = 0.05) -> None:
    for folder in ("sources", "measures", "data"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "civicstat.yaml").write_text("name: lines\ntitle: Long lines\n")
    (root / "governance.yaml").write_text("departments:\n  - {id: works, title: Public Works}\n")
    (root / "plan.yaml").write_text(
        textwrap.dedent("""\
        title: Plan
        period: {start: 2026-01-01, end: 2026-12-31}
        goals:
          - id: g
            title: Repairs
            objectives:
              - {id: many, title: Many, department: works, measure: repairs,
                 target: {value: 1, direction: higher_is_better}}
        """)
    )
    (root / "measures" / "repairs.yaml").write_text(
        "id: repairs\ntitle: Repairs\ndataset: repairs\nkind: distinct_count\nvalue: id\ntime: at\n"
    )
    (root / "sources" / "repairs.yaml").write_text(
        textwrap.dedent(f"""\
        id: repairs
        title: Repairs
        owner: works
        options: {{path: "{path}"}}
        load: {{mode: replace, max_bad_rows: {max_bad_rows}}}
        columns:
          - {{name: id, type: integer}}
          - {{name: at, type: timestamp}}
          - {{name: note, type: string}}
        """)
    )


def rows(count: int, long: dict[int, int] | None = None, bad: tuple[int, ...] = ()) -> bytes:
    """A CSV of ``count`` rows after its header (line 1): line ``n`` holds id ``n``, and a
    note of ``long[n]`` bytes where asked, or a non-integer id on the ``bad`` lines."""
    lines = [b"id,at,note"]
    for number in range(2, count + 2):
        note = b"x" * (long or {}).get(number, 5)
        ident = b"n/a" if number in bad else str(number).encode()
        lines.append(ident + b",2026-03-01 08:00:00," + note)
    return b"\n".join(lines) + b"\n"


Make = Callable[..., Context]


@pytest.fixture
def workspace(tmp_path: Path, admin: Actor, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    opened: list[Context] = []

    def make(*, max_line_bytes: int | None = None, **spec: object) -> Context:
        if max_line_bytes is not None:
            monkeypatch.setenv("CIVICSTAT_MAX_LINE_BYTES", str(max_line_bytes))
        root = tmp_path / "ws"
        write_workspace(root, **spec)  # type: ignore[arg-type]
        ctx = Context(Settings(workspace=root))
        ctx.migrate()
        opened.append(ctx)
        workspace_service.apply(ctx, admin)
        return ctx

    yield make
    for ctx in opened:
        ctx.close()


def loaded_ids(ctx: Context) -> list[int]:
    with ctx.db.session() as session:
        version = data_versions.current(session, "repairs")
        assert version is not None
        files = [str(ctx.lake.path(f)) for f in version.files]
    con = duckdb.connect()
    try:
        return [
            r[0]
            for r in con.execute(
                "SELECT id FROM read_parquet($f) ORDER BY id", {"f": files}
            ).fetchall()
        ]
    finally:
        con.close()


def quarantined(ctx: Context, run_id: int) -> list[QuarantinedRow]:
    with ctx.db.session() as session:
        query = select(QuarantinedRow).where(QuarantinedRow.run_id == run_id)
        return list(session.scalars(query.order_by(QuarantinedRow.line)).all())


@pytest.mark.parametrize("compressed", [False, True], ids=["csv", "csv.gz"])
def test_a_line_too_long_to_read_is_quarantined_with_its_number_and_the_rest_loads(
    workspace: Make, admin: Actor, compressed: bool
) -> None:
    ctx = workspace(max_line_bytes=1024, path="data/*.csv.gz" if compressed else "data/*.csv")
    content = rows(60, long={31: 5000}, bad=(45,))
    name = "repairs.csv.gz" if compressed else "repairs.csv"
    (ctx.root / "data" / name).write_bytes(gzip.compress(content) if compressed else content)

    result = ingest_service.ingest(ctx, admin, "repairs").result

    assert result.status == "succeeded"
    assert loaded_ids(ctx) == [n for n in range(2, 62) if n not in (31, 45)]
    long, bad = quarantined(ctx, result.run_id)
    assert (long.file, long.line) == (name, 31)
    assert long.reason == (
        "line of 5,023 bytes is longer than the 1,024 bytes a line may be "
        "(CIVICSTAT_MAX_LINE_BYTES)"
    )
    assert long.raw is not None
    assert long.raw.startswith("31,2026-03-01 08:00:00,xxx")
    assert len(long.raw) <= 1001
    # A bad row after the long line keeps its own line number in the file.
    assert (bad.line, bad.column) == (45, "id")


def test_a_line_longer_than_duckdbs_buffer_is_quarantined_at_the_default_limit(
    workspace: Make, admin: Actor
) -> None:
    ctx = workspace()
    # 40 MB: past DuckDB's 32 MB read buffer, which used to drop such a line silently.
    (ctx.root / "data" / "repairs.csv").write_bytes(rows(50, long={20: 40_000_000}))
    start = time.monotonic()

    result = ingest_service.ingest(ctx, admin, "repairs").result

    assert time.monotonic() - start < 30
    assert result.status == "succeeded"
    assert loaded_ids(ctx) == [n for n in range(2, 52) if n != 20]
    (row,) = quarantined(ctx, result.run_id)
    assert row.line == 20
    assert "longer than the 8,388,608 bytes" in row.reason


def test_lines_too_long_count_against_max_bad_rows_and_the_last_good_version_stays(
    workspace: Make, admin: Actor
) -> None:
    ctx = workspace(max_line_bytes=1024)
    data = ctx.root / "data" / "repairs.csv"
    data.write_bytes(rows(10))
    good = ingest_service.ingest(ctx, admin, "repairs").result
    data.write_bytes(rows(10, long={3: 2000, 7: 2000}))  # 2 of 10 rows: 20% > 5%

    with pytest.raises(IngestError, match=r"2 of 10 rows \(20.0%\) do not fit") as failed:
        ingest_service.ingest(ctx, admin, "repairs")

    assert loaded_ids(ctx) == list(range(2, 12))
    with ctx.db.session() as session:
        version = data_versions.current(session, "repairs")
        run = session.get(IngestRun, failed.value.run_id)
        assert version is not None
        assert run is not None
        assert good.version is not None
        assert version.id == good.version.id
        assert run.status == "failed"
        assert run.rows_quarantined == 2
    assert [r.line for r in quarantined(ctx, failed.value.run_id)] == [3, 7]


def test_a_header_line_too_long_to_read_fails_the_run(workspace: Make, admin: Actor) -> None:
    ctx = workspace(max_line_bytes=1024)
    (ctx.root / "data" / "repairs.csv").write_bytes(b"id,at," + b"n" * 5000 + b"\n1,,a\n")

    with pytest.raises(IngestError, match="the header line is too long"):
        ingest_service.ingest(ctx, admin, "repairs")


# --- a gzip bomb, in a process of its own whose peak memory is measured ------------------

# The process's own peak: VmHWM starts again at exec (ru_maxrss keeps the parent's).
PEAK = """
import sys
from civicstat.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
finally:
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) // 1024
    print(f"peak-rss-mib={peak}", file=sys.stderr)
raise SystemExit(code)
"""


def write_bomb(path: Path, line_bytes: int) -> None:
    """A header and one line of ``line_bytes`` zeros, gzipped as it is written (a few MB)."""
    zeros = b"0" * (1 << 24)
    with gzip.open(path, "wb", compresslevel=6) as out:
        out.write(b"id,at,note\n1,2026-03-01 08:00:00,")
        for _ in range(line_bytes // len(zeros)):
            out.write(zeros)
        out.write(b"\n")


def ingest_in_a_process(root: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = subprocess.run(
        [SCRIPT_PYTHON, "-c", PEAK, "ingest", "repairs", "--workspace", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )
    return result, time.monotonic() - start


def peak_mib(result: subprocess.CompletedProcess[str]) -> int:
    return int(result.stderr.rsplit("peak-rss-mib=", 1)[1].split()[0])


@pytest.mark.parametrize(
    ("env", "error"),
    [
        (
            {"CIVICSTAT_MAX_DECOMPRESSED_BYTES": str(64 << 20)},
            "decompresses to more than 67,108,864 bytes (CIVICSTAT_MAX_DECOMPRESSED_BYTES)",
        ),
        ({}, "1 of 1 rows (100.0%) do not fit the declared schema"),
    ],
    ids=["past-the-decompressed-bound", "one-line-too-long"],
)
def test_a_gzip_bomb_fails_its_run_in_bounded_time_and_memory_and_keeps_the_last_version(
    workspace: Make, admin: Actor, env: dict[str, str], error: str
) -> None:
    ctx = workspace(path="data/*.csv.gz")
    data = ctx.root / "data" / "repairs.csv.gz"
    data.write_bytes(gzip.compress(rows(5)))
    ingest_service.ingest(ctx, admin, "repairs")
    write_bomb(data, 256 << 20)  # 256 MiB of one line in about 256 KB

    result, seconds = ingest_in_a_process(ctx.root, **env)

    assert result.returncode == 1, result.stderr
    assert error in result.stderr
    assert "Traceback" not in result.stderr
    # Before: 43 s and 4.2 GiB for a 2 GiB line; a 256 MiB one now takes a few seconds.
    assert seconds < 120, result.stderr
    assert peak_mib(result) < 600, result.stderr
    assert loaded_ids(ctx) == list(range(2, 7))
