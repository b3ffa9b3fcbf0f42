"""Small-cell suppression: no count below k is shown, or can be worked out from the total
and the visible cells of its dimension; no cell of k or more is hidden without need."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from civicstat.governance.suppression import TOTAL, Cell, dimension_of, suppress

K = 11
JAN = dt.date(2026, 1, 1)


@st.composite
def tables(draw: st.DrawFn) -> list[Cell]:
    """A few periods; in each, a total and two breakdown dimensions that both add up to it."""
    cells: list[Cell] = []
    for month in range(draw(st.integers(1, 3))):
        period = JAN.replace(month=month + 1)
        first = draw(st.lists(st.integers(0, 40), min_size=1, max_size=7))
        total = sum(first)
        cuts = sorted(draw(st.lists(st.integers(0, total), max_size=5)))
        second = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        cells.append(Cell(period, TOTAL, "", total))
        cells += [Cell(period, "district", f"district={i}", n) for i, n in enumerate(first)]
        cells += [Cell(period, "type", f"type={i}", n) for i, n in enumerate(second)]
    return cells


def _dimensions(cells: list[Cell]) -> dict[tuple[dt.date, str], list[Cell]]:
    groups: dict[tuple[dt.date, str], list[Cell]] = {}
    for cell in cells:
        if cell.dimension != TOTAL:
            groups.setdefault((cell.period, cell.dimension), []).append(cell)
    return groups


def _protected(group: list[Cell], hidden: set[Cell]) -> bool:
    """What total − visible gives is the sum of two or more cells, and not a small count."""
    mine = [c for c in group if c in hidden]
    return not mine or (len(mine) >= 2 and sum(c.n for c in mine) >= K)


@settings(max_examples=400, deadline=None)
@given(tables())
def test_no_count_below_k_is_shown(cells: list[Cell]) -> None:
    hidden = suppress(cells, K)

    assert {c for c in cells if c.n < K} <= hidden


@settings(max_examples=400, deadline=None)
@given(tables())
def test_no_hidden_cell_is_the_total_minus_the_visible_cells(cells: list[Cell]) -> None:
    hidden = suppress(cells, K)
    totals = {c.period: c for c in cells if c.dimension == TOTAL}

    for (period, _), group in _dimensions(cells).items():
        total = totals[period]
        if total in hidden:
            assert all(c in hidden for c in group)
            continue
        residual = total.n - sum(c.n for c in group if c not in hidden)
        mine = [c for c in group if c in hidden]
        assert len(mine) != 1, f"{mine[0]} is the total minus the visible cells"
        if mine:
            assert residual >= K
            assert all(residual != c.n or c.n >= K for c in mine)


@settings(max_examples=400, deadline=None)
@given(tables())
def test_a_cell_of_k_or_more_is_hidden_only_when_needed(cells: list[Cell]) -> None:
    hidden = suppress(cells, K)

    for group in _dimensions(cells).values():
        for cell in group:
            if cell in hidden and cell.n >= K:
                assert not _protected(group, hidden - {cell}), f"{cell} need not be hidden"


def test_one_small_district_takes_the_next_smallest_with_it() -> None:
    cells = [
        Cell(JAN, TOTAL, "", 100),
        Cell(JAN, "district", "district=North", 3),
        Cell(JAN, "district", "district=South", 40),
        Cell(JAN, "district", "district=East", 57),
    ]

    assert {c.slice for c in suppress(cells)} == {"district=North", "district=South"}


def test_a_small_total_hides_the_whole_period() -> None:
    cells = [
        Cell(JAN, TOTAL, "", 7),
        Cell(JAN, "district", "district=North", 3),
        Cell(JAN, "district", "district=South", 4),
    ]

    assert suppress(cells) == set(cells)


def test_nothing_is_hidden_when_every_count_reaches_k() -> None:
    cells = [Cell(JAN, TOTAL, "", 30), Cell(JAN, "district", "district=North", 30)]

    assert suppress(cells) == set()


def test_the_dimension_of_a_slice_key() -> None:
    assert dimension_of("district=North=East") == "district"
    assert dimension_of("") == TOTAL
