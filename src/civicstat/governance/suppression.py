"""Small-cell suppression for public outputs, with complementary suppression.

A published table of a measure has, for each period, a total cell and one cell per value
of each breakdown dimension. A cell counting fewer than ``k`` rows could identify people,
so it is hidden (primary suppression). Hiding it alone is not enough: the total minus the
visible cells of the same dimension would give it back. So, within each period and each
dimension separately, more cells are hidden (complementary suppression, smallest first)
until at least two cells are hidden and together they count at least ``k`` rows: what a
reader can work out (total minus visible) is then a sum of several cells, and not small.

A total below ``k`` is hidden too; every cell under it is then below ``k`` as well.

This module is pure: cells in, the set of hidden cells out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_K = 11
TOTAL = ""  # dimension (and slice key) of a period's all-rows total


@dataclass(frozen=True, slots=True, order=True)
class Cell:
    """One published number: a period's total (dimension ``TOTAL``) or one slice of a
    dimension, with ``n``, the count of rows behind it."""

    period: dt.date
    dimension: str
    slice: str
    n: int


def dimension_of(slice_key: str) -> str:
    """The dimension of an observation's slice key: ``district=North`` → ``district``."""
    return slice_key.split("=", 1)[0] if slice_key else TOTAL


def suppress(cells: Iterable[Cell], k: int = DEFAULT_K) -> set[Cell]:
    """The cells to hide so that no count below ``k`` is shown or can be worked out from
    the total and the visible cells of its dimension."""
    if k < 1:
        raise ValueError("the suppression threshold k is at least 1")
    groups: dict[tuple[dt.date, str], list[Cell]] = defaultdict(list)
    for cell in cells:
        groups[(cell.period, cell.dimension)].append(cell)
    hidden: set[Cell] = set()
    for (_, dimension), group in groups.items():
        primary = {c for c in group if c.n < k}
        if dimension == TOTAL:
            hidden |= primary
            continue
        hidden |= primary | _complementary(group, primary, k)
    return hidden


def _complementary(group: list[Cell], primary: set[Cell], k: int) -> set[Cell]:
    """The fewest further cells of one dimension, smallest first, that leave at least two
    hidden cells counting at least ``k`` rows together."""
    if not primary:
        return set()
    chosen: set[Cell] = set()
    visible = sorted((c for c in group if c not in primary), key=lambda c: (c.n, c.slice))
    hidden_n = sum(c.n for c in primary)
    count = len(primary)
    for cell in visible:
        if count >= 2 and hidden_n >= k:
            break
        chosen.add(cell)
        hidden_n += cell.n
        count += 1
    return chosen
