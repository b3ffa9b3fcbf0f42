"""The share measure over a small table whose answer is known by hand."""

from __future__ import annotations

import datetime as dt

import ibis
import pyarrow as pa

from civicstat.metrics.compute import expression, observations
from civicstat.spec.models import Measure


def measure(**overrides: object) -> Measure:
    fields: dict[str, object] = {
        "id": "answered-10s",
        "title": "Answered within 10 s",
        "dataset": "calls",
        "kind": "share",
        "condition": "answer_seconds <= 10",
        "time": "received_at",
        "breakdowns": ["district"],
    }
    return Measure.model_validate(fields | overrides)


def rows() -> ibis.Table:
    def t(month: int, day: int) -> dt.datetime:
        return dt.datetime(2026, month, day, 12)

    return ibis.memtable(
        pa.table(
            {
                "received_at": [t(1, 1), t(1, 31), t(1, 15), t(2, 1), t(2, 28), t(2, 3), None],
                "answer_seconds": [3.0, 12.0, None, 9.0, 10.0, 11.0, 1.0],
                "district": ["North", "North", "South", "South", None, "North", "North"],
                "priority": [1, 1, 2, 1, 2, 2, 1],
            }
        )
    )


def computed(m: Measure) -> dict[tuple[str, str], tuple[float | None, float | None, float | None]]:
    result = expression(m, rows()).to_pyarrow()
    return {
        (o.period_start.isoformat(), o.slice_key): (o.value, o.numerator, o.denominator)
        for o in observations(m, result)
    }


def test_share_by_month_with_breakdown_and_total() -> None:
    assert computed(measure()) == {
        # January: 3 rows; 3 s meets, 12 s does not, missing answer time does not.
        ("2026-01-01", ""): (100 / 3, 1, 3),
        ("2026-01-01", "district=North"): (50.0, 1, 2),
        ("2026-01-01", "district=South"): (0.0, 0, 1),
        # February: 9 s and 10 s meet (<= 10), 11 s does not; a NULL district is its own slice.
        ("2026-02-01", ""): (200 / 3, 2, 3),
        ("2026-02-01", "district=South"): (100.0, 1, 1),
        ("2026-02-01", "district=(blank)"): (100.0, 1, 1),
        ("2026-02-01", "district=North"): (0.0, 0, 1),
        # The row without a time is in no period at all.
    }


def test_filter_selects_the_rows_counted() -> None:
    result = computed(measure(filter="priority = 1", breakdowns=[]))
    assert result == {("2026-01-01", ""): (50.0, 1, 2), ("2026-02-01", ""): (100.0, 1, 1)}


def test_slices_add_up_to_the_total() -> None:
    result = computed(measure())
    for month in ("2026-01-01", "2026-02-01"):
        slices = [v for (m, key), v in result.items() if m == month and key]
        total = result[(month, "")]
        assert sum(s[1] or 0 for s in slices) == total[1]
        assert sum(s[2] or 0 for s in slices) == total[2]


def test_quarterly_grain_periods_end_where_the_next_begins() -> None:
    result = expression(measure(grain="quarter", breakdowns=[]), rows()).to_pyarrow()
    (obs,) = list(observations(measure(grain="quarter", breakdowns=[]), result))
    assert (obs.period_start, obs.period_end, obs.numerator, obs.denominator) == (
        dt.date(2026, 1, 1),
        dt.date(2026, 4, 1),
        3,
        6,
    )
