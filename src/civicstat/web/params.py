"""The numbers a request may carry, bounded: every integer a route takes is one of these.

A number past what a database column or the warehouse holds would fail deep inside a
query (an overflow, answered 500); bounded here, it is refused with 422 before any
service sees it, and the OpenAPI document states the range. ``tests/web/
test_parameter_ranges.py`` walks every route with numbers too large, negative and not
numbers at all, and holds every route to this.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BeforeValidator

from civicstat.metadata.ids import ID_MAX, INT64_MAX

# A number kept in an INTEGER column of the metadata store (32-bit on PostgreSQL).
StoredInt = Annotated[int, Ge(0), Le(ID_MAX)]
# The id of a row of the metadata store: a comment, an action item, an access request.
RowId = Annotated[int, Ge(1), Le(ID_MAX)]
# Rows to skip in the warehouse: SQL engines take a 64-bit OFFSET.
RowOffset = Annotated[int, Ge(0), Le(INT64_MAX)]

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_only(value: object) -> object:
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


# A calendar date written as ISO 8601 (2025-01-31), as the OpenAPI document says; pydantic
# alone would also take a number of seconds since 1970 ("0").
IsoDate = Annotated[dt.date, BeforeValidator(_iso_only)]


def digits(text: str | None, upper: int) -> int | None:
    """A header's whole number (``Last-Event-ID``, ``Content-Length``), or None when it is
    not plain ASCII digits or is larger than ``upper``. ``str.isdigit`` alone would let
    through ``²`` and other digits ``int`` cannot read."""
    if not text or len(text) > len(str(upper)) or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= upper else None
