"""The server's copy of public answers (web/public_cache.py): the same page or query is made
once while nothing it is made from changes, and never served after a change."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from public_probes import COOKIE, COUNTED, STREAM, VARIES, make_public, middleware

from civicstat.governance.actors import Actor
from civicstat.services import ingest, publication
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.web.public_cache import AnswerCache

__all__ = ["make_public"]  # a fixture, used by name


def made(client: TestClient) -> int:
    """How many times the counted probe route ran."""
    return len(client.app.state.made)  # type: ignore[attr-defined]


@pytest.fixture
def public(example_ctx: Context, make_public: Callable[..., TestClient]) -> TestClient:
    return make_public(example_ctx)


def test_the_same_answer_is_made_once_while_nothing_changes(public: TestClient) -> None:
    first = public.get(COUNTED)
    again = public.get(COUNTED)

    assert first.json() == again.json() == {"made": 1}
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "public, max-age=300"
    assert "content-security-policy" in again.headers
    assert public.get(COUNTED, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert public.head(COUNTED).status_code == 200  # served from the GET's copy
    assert made(public) == 1
    # Another query is another answer.
    assert public.get(COUNTED, params={"$limit": "5"}).json() == {"made": 2}
    assert public.get(COUNTED, headers={"Accept": "text/csv"}).json() == {"made": 3}
    assert middleware(public).answers.hits == 3


def test_new_data_a_new_plan_or_an_approval_makes_it_again(
    example_ctx: Context, example_root: Path, admin: Actor, public: TestClient
) -> None:
    assert public.get(COUNTED).json() == {"made": 1}

    ingest.ingest(example_ctx, admin, "service_requests")  # a data version, observations
    assert public.get(COUNTED).json() == {"made": 2}
    assert public.get(COUNTED).json() == {"made": 2}

    plan = example_root / "plan.yaml"
    plan.write_text(plan.read_text().replace("title: ", "title: Revised ", 1))
    workspace_service.apply(example_ctx, admin)
    assert public.get(COUNTED).json() == {"made": 3}

    publication.approve(example_ctx, admin, "pct-requests-closed-on-time")
    assert public.get(COUNTED).json() == {"made": 4}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_what_is_not_kept(
    example_ctx: Context, make_public: Callable[..., TestClient], public: TestClient
) -> None:
    # Asked with a session cookie: whatever a route might show a signed-in person.
    signed_in = {"Cookie": "civicstat_session=abc"}
    assert [public.get(COUNTED, headers=signed_in).json()["made"] for _ in range(2)] == [1, 2]
    # A cookie set, a streamed body, an answer that varies with a header: never kept.
    public.get(COOKIE)
    public.get(STREAM)
    assert [public.get(VARIES).json()["made"] for _ in range(2)] == [3, 4]
    assert middleware(public).answers.hits == 0
    assert len(middleware(public).answers._copies) == 0
    # Switched off.
    off = make_public(example_ctx, keep=0)
    assert [off.get(COUNTED).json()["made"] for _ in range(2)] == [1, 2]


async def _a_copy_lasts_its_time_then_one_request_makes_it_again() -> None:
    now = [0.0]
    cache = AnswerCache(30, clock=lambda: now[0])
    start = {"type": "http.response.start", "status": 200, "headers": []}
    assert await cache.get(("a",)) is None  # nobody has it: the caller makes it
    cache.put(("a",), start, b"old")
    cache.made(("a",))
    now[0] = 29.9
    assert (await cache.get(("a",))).body == b"old"  # type: ignore[union-attr]
    now[0] = 30.0
    assert await cache.get(("a",)) is None  # out of time: this caller makes it again
    stale = await cache.get(("a",))  # meanwhile the others get the copy (same data)
    assert stale is not None
    assert stale.body == b"old"
    cache.put(("a",), start, b"new")
    cache.made(("a",))
    assert (await cache.get(("a",))).body == b"new"  # type: ignore[union-attr]
    cache.put(("big",), start, b"x" * (3 << 20))  # a download's size: not kept
    assert await cache.get(("big",)) is None


def test_a_copy_lasts_its_time_then_one_request_makes_it_again() -> None:
    anyio.run(_a_copy_lasts_its_time_then_one_request_makes_it_again)


async def _an_answer_nobody_has_is_made_once() -> None:
    cache = AnswerCache(30)
    start = {"type": "http.response.start", "status": 200, "headers": []}
    makers = []

    async def ask() -> None:
        if await cache.get(("k",)) is None:
            makers.append(1)
            await anyio.sleep(0.05)
            cache.put(("k",), start, b"answer")
            cache.made(("k",))

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(ask)
    assert makers == [1]
    assert cache.hits == 9


def test_an_answer_nobody_has_is_made_once_for_everyone_asking_meanwhile() -> None:
    anyio.run(_an_answer_nobody_has_is_made_once)
