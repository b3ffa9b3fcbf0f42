"""A rate's population read from a dataset: the value in force at each period's start."""

from __future__ import annotations

import datetime as dt

from civicstat.metrics.populations import Lookup
from civicstat.spec.models import Population

ROWS = [
    {"year": 2023, "district": "north", "residents": 1000},
    {"year": 2024, "district": "north", "residents": 1100},
    {"year": 2023, "district": "south", "residents": 500},
    {"year": 2025, "district": "south", "residents": 700},
    {"year": 2025, "district": "east", "residents": None},  # unknown: not counted
]


def lookup() -> Lookup:
    return Lookup(
        Population(dataset="pop", value="residents", time="year", match=["district"]), ROWS
    )


def test_each_group_contributes_its_latest_value_at_or_before_the_period() -> None:
    find = lookup()
    assert find(dt.date(2024, 3, 1), "", None) == 1100 + 500
    assert find(dt.date(2025, 1, 1), "", None) == 1100 + 700
    # Older than every row: the earliest row applies.
    assert find(dt.date(2020, 1, 1), "", None) == 1000 + 500


def test_a_slice_of_a_matched_column_uses_its_own_rows() -> None:
    find = lookup()
    assert find(dt.date(2024, 6, 1), "district", "north") == 1100
    assert find(dt.date(2025, 6, 1), "district", "south") == 700
    assert find(dt.date(2025, 6, 1), "district", "east") is None


def test_a_slice_of_a_column_the_population_lacks_has_no_denominator() -> None:
    assert lookup()(dt.date(2024, 6, 1), "priority", "1") is None
