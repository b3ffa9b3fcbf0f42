"""bench/measures: the example plan's measures over a generated table, against hand SQL.

    python -m bench.measures [--rows 10000000] [--append 100000] [--repeat 3]

The example workspace (``civicstat init``: 14 measures of every kind) reads a generated
``service_requests`` table of ``--rows`` rows over three years. In one process, the same
KPIs are computed (a) by ``services.measures.compute`` — Ibis queries over the published
Parquet version, observation rows, the composite measures, stored in the metadata
database — and (b) by hand-written DuckDB SQL over the same Parquet files, fetched in
full; repetitions alternate and the best of each is reported, with the first (cold)
CivicStat run too. Every hand result is checked against CivicStat's (relative difference
< 1e-9, the same periods and slices) in value, numerator, denominator and n, so the two
compute the same thing; a mismatch exits non-zero, after the report.

Then, ``--repeat`` times, ``--append`` newer rows land through an append load; the
refresh of the periods they touch is timed, checked against the hand SQL over the new
version, and followed by a full compute of the same version; the best of each is
reported, and the first refresh on its own: the process has not built or compiled a
refresh's queries yet (a long-running scheduler has, after its first refresh in a
period). Targets: full compute at most 1.2× the hand SQL; refresh at most 10% of a full
compute. Peak memory is the process's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from bench._measures_hand import FIELDS, HAND, Results, business_calendar, run_hand

TYPES = "['pothole', 'missed-trash', 'streetlight', 'graffiti', 'noise', 'tree', 'other']"
DISTRICTS = "['north', 'south', 'east', 'west', 'downtown', 'harbor', 'uptown', 'valley']"
DEPARTMENTS = "['public-works', 'parks', 'sanitation', 'transport']"
SPAN_SECONDS = 90_000_000  # ≈ 2.9 years from 2023-01-01, whatever the number of rows


def seconds_apart(rows: int) -> int:
    """The time between two requests that spreads ``rows`` over the span (10M rows: 9 s),
    so that a short run has every period, window and fiscal year a long one has."""
    return max(1, SPAN_SECONDS // max(rows, 1))


def make_parquet(path: Path, first: int, rows: int, apart: int) -> None:
    """Rows ``first``… of a deterministic request log, in time order, ``apart`` seconds
    apart."""
    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT 'SR-' || i AS request_id,
                   {TYPES}[1 + (hash(i * 3) % 7)::BIGINT] AS request_type,
                   {DISTRICTS}[1 + (hash(i * 7) % 8)::BIGINT] AS district,
                   TIMESTAMP '2023-01-01' + to_seconds(i * {int(apart)}) AS created_at,
                   TIMESTAMP '2023-01-01' + to_seconds(i * {int(apart)})
                     + to_days((1 + hash(i * 11) % 5)::INTEGER) AS due_at,
                   CASE WHEN hash(i * 13) % 10 = 0 THEN NULL
                        ELSE TIMESTAMP '2023-01-01'
                          + to_seconds(i * {int(apart)} + (hash(i * 17) % 700000)::BIGINT)
                   END AS closed_at,
                   {DEPARTMENTS}[1 + (hash(i * 19) % 4)::BIGINT] AS department
            FROM range({int(first)}, {int(first + rows)}) t(i)
        ) TO '{path}' (FORMAT parquet, COMPRESSION zstd)"""
    )
    con.close()


def write_workspace(root: Path) -> None:
    from civicstat.spec.example import write_example

    write_example(root)
    source = root / "sources" / "service_requests.yaml"
    text = source.read_text()
    text = text.replace("  path: data/service_requests.csv\n", "  path: data/*.parquet\n")
    text = text.replace('  csv:\n    timestamp_format: "%Y-%m-%d %H:%M:%S"\n', "")
    text = text.replace('schedule: "0 6 * * *"\n', 'schedule: "0 6 * * *"\nload: append\n')
    source.write_text(text)
    (root / "data" / "service_requests.csv").unlink()


def ours(ctx: Any) -> Results:
    from civicstat.metadata import observations

    out: Results = {}
    with ctx.db.session() as session:
        for measure_id in HAND:
            out[measure_id] = {
                (str(o.period_start), o.slice_key): (o.value, o.numerator, o.denominator, o.n)
                for o in observations.current_rows(session, measure_id)
            }
    return out


def compare(hand: Results, mine: Results) -> list[str]:
    """Every measure whose observations differ from the hand SQL's, in periods and slices
    or in any of value, numerator, denominator and n (the first difference of each)."""
    problems = []
    for measure_id, expected in hand.items():
        got = mine[measure_id]
        if set(got) != set(expected):
            missing = sorted(set(expected) ^ set(got))[:3]
            problems.append(f"{measure_id}: periods/slices differ, e.g. {missing}")
            continue
        for key, cell in expected.items():
            found = [
                f"{name}: hand {a} vs civicstat {b}"
                for name, a, b in zip(FIELDS, cell, got[key], strict=True)
                if not _same(a, b)
            ]
            if found:
                problems.append(f"{measure_id} {key} {'; '.join(found)}")
                break
    return problems


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def session(root_text: str, repeat: int, append_rows: int, rows: int) -> dict[str, Any]:
    """The measured process: set-up, then hand SQL and CivicStat alternately, then refresh."""
    from civicstat.governance.actors import operator
    from civicstat.metadata import data_versions
    from civicstat.metrics import refresh
    from civicstat.services import ingest, measures, workspace
    from civicstat.services.context import Context
    from civicstat.settings import Settings

    root = Path(root_text)
    ctx = Context(Settings(workspace=root))
    ctx.migrate()
    actor = operator("bench")
    workspace.apply(ctx, actor)
    loaded = ingest.ingest(ctx, actor, "service_requests", recompute=False)
    assert loaded.result.status == "succeeded", loaded.result.status
    with ctx.db.session() as db:
        version = data_versions.current(db, "service_requests")
        assert version is not None
        files = [str(ctx.lake.path(f)) for f in version.files]
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet({_sql_list(files)})")
    business_calendar(con, dt.date(2022, 12, 1), dt.date(2026, 12, 31))

    hand_times, our_times = [], []
    hand: Results = {}
    for _ in range(repeat):
        hand_times.append(_timed(lambda: hand.update(run_hand(con))))
        our_times.append(_timed(lambda: measures.compute(ctx, actor)))
    problems = compare(hand, ours(ctx))

    refresh_times, full_times = [], []
    refresh_problems: list[str] = []
    for k in range(repeat):
        # Each round lands another batch of newer rows, refreshes, then recomputes fully.
        first = rows + k * append_rows
        make_parquet(
            root / "data" / f"requests-{k + 1}.parquet", first, append_rows, seconds_apart(rows)
        )
        appended = ingest.ingest(ctx, actor, "service_requests", recompute=False)
        assert appended.result.status == "succeeded", appended.result.status
        with ctx.db.session() as db:
            plan = ctx.require_plan(db)
            version = data_versions.current(db, "service_requests")
            assert version is not None
            files = [str(ctx.lake.path(f)) for f in version.files]
        ids = plan.for_dataset("service_requests")
        since = refresh.refresh_from(plan, ids, appended.result.earliest or {})
        refresh_times.append(_timed(lambda: measures.compute(ctx, actor, ids, since=since)))  # noqa: B023
        refreshed = ours(ctx)
        con.execute(f"CREATE OR REPLACE VIEW r AS SELECT * FROM read_parquet({_sql_list(files)})")
        refresh_problems += compare(run_hand(con), refreshed)
        full_times.append(_timed(lambda: measures.compute(ctx, actor)))  # every period again
    ctx.close()
    con.close()
    return {
        "hand": hand_times,
        "ours": our_times,
        "refresh": refresh_times,
        "full_after_append": full_times,
        "problems": problems + refresh_problems,
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--append", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="civicstat-bench-") as tmp:
        root = Path(tmp) / "ws"
        write_workspace(root)
        make_parquet(root / "data" / "requests-0.parquet", 0, args.rows, seconds_apart(args.rows))
        result = _in_process(session, str(root), args.repeat, args.append, args.rows)
    hand, mine = min(result["hand"]), min(result["ours"])
    report = {
        "benchmark": "measures",
        "rows": args.rows,
        "measures": len(HAND),
        "hand_sql_seconds": round(hand, 3),
        "civicstat_seconds": round(mine, 3),
        "civicstat_first_run_seconds": round(result["ours"][0], 3),
        "full_ratio": round(mine / hand, 3),
        "full_target": 1.2,
        "appended_rows": args.append,
        "refresh_seconds": round(min(result["refresh"]), 3),
        "full_after_append_seconds": round(min(result["full_after_append"]), 3),
        "refresh_share_of_full": round(
            min(result["refresh"]) / min(result["full_after_append"]), 3
        ),
        "first_refresh_seconds": round(result["refresh"][0], 3),
        "first_refresh_share_of_full": round(
            result["refresh"][0] / min(result["full_after_append"]), 3
        ),
        "refresh_target": 0.1,
        "results_match_hand_sql": not result["problems"],
        "mismatches": result["problems"],
        "peak_mib": result["peak_mib"],
        "runs": {
            "hand": [round(s, 3) for s in result["hand"]],
            "civicstat": [round(s, 3) for s in result["ours"]],
            "refresh": [round(s, 3) for s in result["refresh"]],
            "full_after_append": [round(s, 3) for s in result["full_after_append"]],
        },
    }
    print(json.dumps(report, indent=2))
    if result["problems"]:
        sys.exit(f"bench/measures: {len(result['problems'])} mismatches with the hand SQL")


def _in_process(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``fn`` in a fresh spawned process (so its peak memory is its own)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


if __name__ == "__main__":
    main()
