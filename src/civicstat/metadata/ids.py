"""Row ids as the metadata store keeps them, and looking a row up by an id a caller gave.

Ids are ``INTEGER`` columns: 64-bit on SQLite but 32-bit on PostgreSQL and MariaDB. An id
outside that range names no row, and handing it to the driver fails the whole request
(an overflow, not "not found"), so it is answered as unknown before any query runs.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

ID_MAX = 2**31 - 1  # the largest id every supported store can hold (PostgreSQL INTEGER)
INT64_MAX = 2**63 - 1  # the largest BIGINT, and the largest offset a SQL engine takes

T = TypeVar("T")


def in_range(row_id: int) -> bool:
    """Whether ``row_id`` could be the id of a row in any supported store."""
    return 1 <= row_id <= ID_MAX


def get_row(session: Session, model: type[T], row_id: int, **options: Any) -> T | None:
    """``session.get``, with an id no row can have answered like a missing row."""
    return session.get(model, row_id, **options) if in_range(row_id) else None
