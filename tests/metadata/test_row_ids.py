"""An id or a number no row can have is answered like an unknown one by every service that
looks a row up, whichever driver asked (the web, the CLI): never a database overflow.

Ids are INTEGER columns, 32-bit on PostgreSQL and 64-bit on SQLite; each store is tried.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from civicstat.governance.actors import Actor
from civicstat.metadata.ids import ID_MAX, in_range
from civicstat.services import access, actions, datasets, ingest, runs
from civicstat.services.accounts import tokens
from civicstat.services.context import Context
from civicstat.services.errors import InvalidInput, NotFound

NO_ROW_CAN_HAVE = [0, -1, ID_MAX + 1, 2**63, -(2**63) - 1, 10**30]

LOOKUPS: list[tuple[str, Callable[[Context, Actor, int], object]]] = [
    ("revoke a token", lambda ctx, who, n: tokens.revoke(ctx, who, n)),
    ("approve an access request", lambda ctx, who, n: access.approve(ctx, who, n)),
    ("deny an access request", lambda ctx, who, n: access.deny(ctx, who, n)),
    ("move an action item", lambda ctx, who, n: actions.set_status(ctx, who, n, "done")),
    (
        "revise a comment",
        lambda ctx, who, n: actions.comment(ctx, who, "close-requests-on-time", "x", n),
    ),
]


def test_an_id_no_row_can_have_is_not_found_by_any_service(
    example_ctx: Context, admin: Actor
) -> None:
    ingest.ingest(example_ctx, admin, "service_requests")  # an objective has a period
    answered: dict[str, str] = {}
    for what, look_up in LOOKUPS:
        for row_id in NO_ROW_CAN_HAVE:
            try:
                look_up(example_ctx, admin, row_id)
            except NotFound:
                continue
            except Exception as error:  # the overflow this test is about
                answered[f"{what} #{row_id}"] = type(error).__name__
            else:
                answered[f"{what} #{row_id}"] = "done"

    assert answered == {}


@pytest.mark.parametrize("number", [0, 10**20])
def test_a_runs_limit_out_of_range_is_refused_with_its_range(
    example_ctx: Context, admin: Actor, number: int
) -> None:
    with pytest.raises(InvalidInput, match="between 1 and 500"):
        runs.recent(example_ctx, admin, limit=number)


def test_an_offset_past_what_a_sql_engine_takes_is_refused(
    example_ctx: Context, admin: Actor
) -> None:
    ingest.ingest(example_ctx, admin, "service_requests")

    with pytest.raises(InvalidInput, match="offset must be between 0 and"):
        datasets.rows(example_ctx, admin, "service_requests", offset=2**63)
    assert datasets.rows(example_ctx, admin, "service_requests", offset=2**63 - 1).rows == []


@pytest.mark.parametrize(
    ("row_id", "expected"), [(1, True), (ID_MAX, True), (0, False), (ID_MAX + 1, False)]
)
def test_the_id_range_is_what_every_store_holds(row_id: int, expected: bool) -> None:
    assert in_range(row_id) is expected
