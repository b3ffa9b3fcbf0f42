"""DECC 911 KPIs computed through measure specs, checked period by period and slice by
slice against plain Python over the raw files.

**Answered within 10 and 20 seconds, per week (phone data).** A row of the phone files
is an hour, not a call: it holds how many 911 calls were answered in 0-10 s, 11-15 s,
16-20 s, ... (exclusive buckets). A ``share`` counts rows meeting a condition and cannot
weight a row by the calls in it, so the KPI is built from three ``sum`` measures, calls
answered within 10 s (``e911_10``), within 20 s (``e911_10 + e911_15 + e911_20``) and all
answered calls (the seven buckets; abandoned calls are not answered and stay out, as
SOURCES.md defines the KPI), then divided: within 10 s by a ``ratio`` (percent), within
20 s by a ``derived`` expression, so both composite kinds are checked. Weeks are CivicStat's
(ISO, from Monday), not the centre's Sunday weeks, and each hour lands in the week its
timestamp names: week 50's mislabelled day (``12/3`` for ``12/10``) is counted on 3
December, as the data says.

**Median call processing per priority, per week (CAD).** Call processing is received →
first unit dispatched. It is measured twice: from the timestamps (kind ``duration``,
``Incident_Start_Time`` → ``Incident_Dispatch_Time``, seconds with milliseconds) and
from CAD's own whole-second ``Processing_Time`` (kind ``median``). Officer-initiated
events (``Call_Reception`` ``OFFICER``) have no call taking and are left out; a row
with no channel recorded (NULL) is left out too, as a NULL filter does.
"""

from __future__ import annotations

import collections
import datetime as dt
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_decc_cad_quirks import source_spec as cad_source_spec
from test_decc_phone import BUCKETS
from test_decc_phone import source_spec as phone_source_spec
from workspaces import (
    observations,
    open_workspace,
    raw_records,
    relative_difference,
    write_workspace,
)

from civicstat.governance.actors import operator
from civicstat.services import ingest as ingest_service
from civicstat.services.context import Context
from civicstat.services.ingest import IngestOutcome

pytestmark = pytest.mark.slow

PHONE = "phone_answer_times"
CAD = "cad_incidents"
WITHIN_20S = ("10", "15", "20")
SUM = {"dataset": PHONE, "kind": "sum", "time": "hour_start", "grain": "week", "unit": "count"}
PROCESSING = {
    "dataset": CAD,
    "filter": "call_reception <> 'OFFICER'",
    "grain": "week",
    "breakdowns": ["priority"],
    "unit": "seconds",
}
MEASURES: list[dict[str, Any]] = [
    {"id": "e911-answered", **SUM, "value": " + ".join(f"e911_{b}" for b in BUCKETS)},
    {"id": "e911-answered-10s", **SUM, "value": "e911_10"},
    {"id": "e911-answered-20s", **SUM, "value": " + ".join(f"e911_{b}" for b in WITHIN_20S)},
    {
        "id": "e911-answered-10s-pct",
        "kind": "ratio",
        "numerator": "e911-answered-10s",
        "denominator": "e911-answered",
        "grain": "week",
        "unit": "percent",
    },
    {
        "id": "e911-answered-20s-pct",
        "kind": "derived",
        "inputs": {"within": "e911-answered-20s", "answered": "e911-answered"},
        "expression": "within / answered * 100",
        "grain": "week",
        "unit": "percent",
    },
    {
        "id": "call-processing-median",
        **PROCESSING,
        "kind": "duration",
        "start": "started_at",
        "end": "dispatched_at",
        "statistic": "median",
    },
    {
        "id": "cad-processing-time-median",
        **PROCESSING,
        "kind": "median",
        "value": "processing_time",
        "time": "started_at",
    },
]
REL = 1e-9


@pytest.fixture(scope="module")
def decc(shared_data: Path) -> Path:
    return shared_data / "decc-911"


@pytest.fixture(scope="module")
def loaded(
    decc: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, dict[str, IngestOutcome]]]:
    root = write_workspace(
        tmp_path_factory.mktemp("kpi-decc") / "ws",
        [phone_source_spec(decc / "phone"), cad_source_spec(decc / "cad")],
        MEASURES,
        timezone="America/New_York",
    )
    actor = operator("pytest")
    ctx = open_workspace(root, actor)
    try:
        yield ctx, {sid: ingest_service.ingest(ctx, actor, sid) for sid in (PHONE, CAD)}
    finally:
        ctx.close()


def monday(day: dt.date) -> str:
    return (day - dt.timedelta(days=day.weekday())).isoformat()


def a_week_after(start: str) -> dt.date:
    return dt.date.fromisoformat(start) + dt.timedelta(days=7)


# --- answered within 10 / 20 seconds -----------------------------------------------------------


def answered_by_hand(phone: Path) -> dict[str, dict[str, int]]:
    """ISO week (Monday) → calls answered within 10 s, within 20 s, in all, and hours."""
    weeks: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for path in sorted(phone.glob("week_*_phone.csv")):
        for r in raw_records(path):
            week = monday(dt.datetime.strptime(r["DateTime"], "%m/%d/%Y %H:%M").date())
            counts = {b: int(r[f"911_{b}"]) for b in BUCKETS}
            weeks[week]["10"] += counts["10"]
            weeks[week]["20"] += sum(counts[b] for b in WITHIN_20S)
            weeks[week]["answered"] += sum(counts.values())
            weeks[week]["hours"] += 1
    return {week: dict(c) for week, c in weeks.items()}


def test_share_of_911_calls_answered_within_10_and_20_seconds_per_week(
    loaded: tuple[Context, dict[str, IngestOutcome]], decc: Path
) -> None:
    ctx, outcomes = loaded
    assert outcomes[PHONE].result.status == "succeeded"
    expected = answered_by_hand(decc / "phone")
    # 26 Oct (a Sunday) alone in its ISO week, then nine full weeks to 27 December.
    assert len(expected) == 10
    assert min(expected) == "2025-10-20"
    # The mislabelled day: 3 December twice, 10 December never.
    assert (expected["2025-12-01"]["hours"], expected["2025-12-08"]["hours"]) == (192, 144)

    keys = {(week, "") for week in expected}
    for measure_id, field in (
        ("e911-answered", "answered"),
        ("e911-answered-10s", "10"),
        ("e911-answered-20s", "20"),
    ):
        got = observations(ctx, measure_id)
        assert set(got) == keys, measure_id
        for (week, _), obs in got.items():
            assert obs.value == expected[week][field], (measure_id, week)
            assert obs.n == expected[week]["hours"], (measure_id, week)
            assert obs.period_end == a_week_after(week)

    ten = observations(ctx, "e911-answered-10s-pct")
    twenty = observations(ctx, "e911-answered-20s-pct")
    assert set(ten) == set(twenty) == keys
    for (week, _), obs in ten.items():
        counts = expected[week]
        assert (obs.numerator, obs.denominator) == (counts["10"], counts["answered"]), week
        assert relative_difference(obs.value, 100 * counts["10"] / counts["answered"]) < REL
        assert obs.period_end == a_week_after(week)
    for (week, _), obs in twenty.items():
        counts = expected[week]
        assert relative_difference(obs.value, 100 * counts["20"] / counts["answered"]) < REL
        assert obs.period_end == a_week_after(week)
    # SOURCES.md: 85.0%-90.9% within 10 s per centre (Sunday) week; ISO weeks cut the
    # same hours differently, so a little wider. NENA's 95% in 20 s is about met.
    assert all(80 < (obs.value or 0) < 95 for obs in ten.values())
    assert all(93 < (obs.value or 0) <= 100 for obs in twenty.values())


# --- median call processing per priority -------------------------------------------------------


def processing_by_hand(cad: Path) -> dict[str, dict[tuple[str, str], list[float]]]:
    """Measure → (ISO week, slice) → call-processing seconds of the rows counted."""
    out: dict[str, dict[tuple[str, str], list[float]]] = {
        "call-processing-median": collections.defaultdict(list),
        "cad-processing-time-median": collections.defaultdict(list),
    }
    missing = ("", "NULL")
    for path in sorted(cad.glob("week*.csv.gz")):
        for r in raw_records(path):
            if r["Call_Reception"] in missing or r["Call_Reception"] == "OFFICER":
                continue
            started, dispatched = r["Incident_Start_Time"], r["Incident_Dispatch_Time"]
            if started in missing:
                continue
            start = dt.datetime.fromisoformat(started)
            week = monday(start.date())
            priority = r["Priority_Number"]
            slices = [(week, ""), (week, f"priority={priority or '(blank)'}")]
            if dispatched not in missing:
                seconds = (dt.datetime.fromisoformat(dispatched) - start).total_seconds()
                for key in slices:
                    out["call-processing-median"][key].append(seconds)
            if r["Processing_Time"] not in (*missing, "-9999"):
                for key in slices:
                    out["cad-processing-time-median"][key].append(float(r["Processing_Time"]))
    return out


@pytest.mark.parametrize("measure_id", ["call-processing-median", "cad-processing-time-median"])
def test_median_call_processing_per_priority_per_week(
    loaded: tuple[Context, dict[str, IngestOutcome]], decc: Path, measure_id: str
) -> None:
    ctx, outcomes = loaded
    assert outcomes[CAD].result.status == "succeeded"
    expected = processing_by_hand(decc / "cad")[measure_id]
    got = observations(ctx, measure_id)
    assert set(got) == set(expected)
    weeks = {week for week, _ in expected}
    assert len(weeks) == 19  # Sunday 24 Aug alone, then 18 weeks to Saturday 27 December
    assert {s for _, s in expected} >= {f"priority={p}" for p in range(1, 5)}
    for key, seconds in expected.items():
        obs = got[key]
        assert obs.n == len(seconds), key
        assert relative_difference(obs.value, statistics.median(seconds)) < REL, (
            key,
            obs.value,
            statistics.median(seconds),
        )
        assert obs.period_end == a_week_after(key[0])
    # Plausibility: a typical call is dispatched within minutes, not hours or instantly.
    overall = statistics.median(s for (_, k), v in expected.items() if k == "" for s in v)
    assert 30 < overall < 300
