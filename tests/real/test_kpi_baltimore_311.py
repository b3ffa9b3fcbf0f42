"""Baltimore 311 KPIs computed through measure specs, checked month by month and slice by
slice against plain Python over the raw CSV.

**Share closed by the due date, per agency per month** (kind ``share``, by month of
creation). Counted: requests with a due date (286 have none: the SLA cannot be judged),
less duplicates and transfers (status ending "(Duplicate)"/"(Transferred)": the work
was done, or judged, on another request). Met: closed, and closed at or before the due
date-time; a request still open counts as not met. (The sample ends on 13 February 2019;
24 open requests were not due yet then and count as not met too, so the last months are
provisional, as they would be on any live dashboard.)

**Backlog at month end** (kind ``backlog``, by agency and by age). An item is open at a
month's end when it was created before that instant (midnight starting the next month)
and not closed before it: its close date is empty or at or after that instant. Duplicates
(any status ending "(Duplicate)", ten of them never closed) are left out, as they are not
work of their own. Months run from the month of the first request to the month of the
last creation or closing; a month (or slice) with nothing open has no observation. Age:
whole days from the creation date to the month's end, in buckets 0-30, 31-90, 91-365 and
over 365.
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_baltimore_311 import SLA_CONDITION, SLA_FILTER, TIMESTAMP_FORMAT, source_spec
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

DATASET = "baltimore_311"
AGING = [30, 90, 365]
MEASURES = [
    {
        "id": "closed-by-due-date",
        "dataset": DATASET,
        "kind": "share",
        "filter": SLA_FILTER,
        "condition": SLA_CONDITION,
        "time": "created_date",
        "grain": "month",
        "breakdowns": ["agency"],
        "unit": "percent",
    },
    {
        "id": "open-backlog",
        "dataset": DATASET,
        "kind": "backlog",
        "filter": "sr_status NOT LIKE '%(Duplicate)'",
        "start": "created_date",
        "end": "close_date",
        "grain": "month",
        "breakdowns": ["agency"],
        "aging": AGING,
    },
]
REL = 1e-9


@pytest.fixture(scope="module")
def requests(shared_data: Path) -> list[dict[str, str]]:
    return list(raw_records(shared_data / "baltimore-311" / "311_sample.csv"))


@pytest.fixture(scope="module")
def loaded(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Context, IngestOutcome]]:
    root = write_workspace(
        tmp_path_factory.mktemp("kpi-baltimore") / "ws",
        [source_spec(shared_data / "baltimore-311" / "311_sample.csv")],
        MEASURES,
        timezone="America/New_York",
    )
    actor = operator("pytest")
    ctx = open_workspace(root, actor)
    try:
        yield ctx, ingest_service.ingest(ctx, actor, DATASET)
    finally:
        ctx.close()


def parsed(text: str) -> dt.datetime | None:
    return dt.datetime.strptime(text, TIMESTAMP_FORMAT) if text else None


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def closed_by_due_by_hand(requests: list[dict[str, str]]) -> dict[tuple[str, str], list[int]]:
    counts: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    for r in requests:
        created, due, closed = (parsed(r[c]) for c in ("CreatedDate", "DueDate", "CloseDate"))
        status = r["SRStatus"]
        if created is None or due is None or status.endswith(("(Duplicate)", "(Transferred)")):
            continue
        met = closed is not None and closed <= due
        month = created.date().replace(day=1).isoformat()
        for key in ((month, ""), (month, f"agency={r['Agency'] or '(blank)'}")):
            counts[key][0] += met
            counts[key][1] += 1
    return counts


def test_share_closed_by_due_date_per_agency_per_month(
    loaded: tuple[Context, IngestOutcome], requests: list[dict[str, str]]
) -> None:
    ctx, outcome = loaded
    assert outcome.result.status == "succeeded"
    expected = closed_by_due_by_hand(requests)
    got = observations(ctx, "closed-by-due-date")
    assert set(got) == set(expected)
    for key, (met, total) in expected.items():
        obs = got[key]
        assert (obs.numerator, obs.denominator, obs.n) == (met, total, total), key
        assert relative_difference(obs.value, 100 * met / total) < REL, key
        assert obs.period_end == next_month(dt.date.fromisoformat(key[0]))
    assert len({month for month, _ in expected}) == 62  # SOURCES.md: 2014-01 … 2019-02
    # 135 requests were closed at the very due instant: met, under "at or before".
    on_the_dot = sum(r["CloseDate"] == r["DueDate"] != "" for r in requests)
    assert on_the_dot == 135


def age_bucket(days: int) -> str:
    low = 0
    for high in AGING:
        if days <= high:
            return f"{low}-{high}"
        low = high + 1
    return f"over {AGING[-1]}"


def backlog_by_hand(requests: list[dict[str, str]]) -> dict[tuple[str, str], int]:
    items = [
        (parsed(r["CreatedDate"]), parsed(r["CloseDate"]), r["Agency"] or "(blank)")
        for r in requests
        if r["SRStatus"] and not r["SRStatus"].endswith("(Duplicate)") and r["CreatedDate"]
    ]
    first = min(created for created, _, _ in items if created is not None)
    last = max(moment for item in items for moment in item[:2] if isinstance(moment, dt.datetime))
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    month = first.date().replace(day=1)
    while month <= last.date():
        end_day = next_month(month)
        end = dt.datetime.combine(end_day, dt.time())
        for created, closed, agency in items:
            assert created is not None
            if created < end and (closed is None or closed >= end):
                age = (end_day - created.date()).days
                for key in ("", f"agency={agency}", f"age={age_bucket(age)}"):
                    counts[(month.isoformat(), key)] += 1
        month = end_day
    return dict(counts)


def test_backlog_at_month_end_per_agency_and_age(
    loaded: tuple[Context, IngestOutcome], requests: list[dict[str, str]]
) -> None:
    ctx, _ = loaded
    expected = backlog_by_hand(requests)
    got = observations(ctx, "open-backlog")
    assert set(got) == set(expected)
    for key, count in expected.items():
        obs = got[key]
        assert (obs.value, obs.n) == (count, count), key
        assert obs.period_end == next_month(dt.date.fromisoformat(key[0]))
    months = sorted({month for month, _ in expected})
    assert (months[0], months[-1], len(months)) == ("2014-01-01", "2019-02-01", 62)
    assert {s for _, s in expected if s.startswith("age=")} == {
        "age=0-30",
        "age=31-90",
        "age=91-365",
        "age=over 365",
    }
    # Every month's total is the sum of its age buckets, and of its agencies.
    for month in months:
        total = expected[(month, "")]
        assert total == sum(n for (m, s), n in expected.items() if m == month and "age=" in s)
        assert total == sum(n for (m, s), n in expected.items() if m == month and "agency=" in s)
    # SOURCES.md: 208 requests have no close date, 10 of them duplicates; the other 198
    # are open at the end of the last month, and stay in every month after their creation.
    never_closed = sum(
        1 for r in requests if not r["CloseDate"] and not r["SRStatus"].endswith("(Duplicate)")
    )
    assert never_closed == 198
    assert expected[(months[-1], "")] >= never_closed
