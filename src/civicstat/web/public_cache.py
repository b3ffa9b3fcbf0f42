"""A copy of each public answer, so that the thousandth visit to the portal home or the same
SODA query does not redo the work: kept per address (path, query, host, Accept) and per
state of the data (``services.portal_access.state_stamp``), for at most ``ttl`` seconds.

Only a whole 200 to an anonymous GET is kept: no streamed body, nothing that sets a
cookie or says it varies with a request header (``Vary``), nothing asked with a session
cookie, nothing over ``MAX_BODY``. Keying on the state means no answer made before a
change (a dataset no longer public, a new version, a measure recomputed or approved) is
served after it; the ``ttl`` bounds what depends on the clock alone (freshness, "updated
3 hours ago"): once it has passed, one request makes the answer again while the others
are still served the copy, which is of the same data. An answer nobody has a copy of yet
is made once: the requests asking for it meanwhile wait for it rather than all making it
at once. Per process, like the rate limits.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from anyio import Event
from starlette.datastructures import Headers
from starlette.types import Message, Scope, Send

MAX_BODY = 2 << 20  # larger answers are downloads: not kept
MAX_BYTES = 64 << 20  # all copies together
SESSION_COOKIE = "civicstat_session="

Key = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Copy:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    until: float


def _keepable(headers: Headers) -> bool:
    """Not one visitor's (a cookie), nor one of several answers to the address (``Vary``)."""
    return "set-cookie" not in headers and "vary" not in headers


class AnswerCache:
    """Least recently used copies, within ``MAX_BYTES``; ``ttl`` 0 keeps none."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._copies: OrderedDict[Key, Copy] = OrderedDict()
        self._bytes = 0
        self._making: dict[Key, Event] = {}
        self.hits = 0

    @staticmethod
    def cacheable(scope: Scope, headers: Headers) -> bool:
        return scope["method"] in ("GET", "HEAD") and SESSION_COOKIE not in headers.get(
            "cookie", ""
        )

    @staticmethod
    def key(scope: Scope, headers: Headers, stamp: tuple[object, ...]) -> Key:
        return (
            scope.get("scheme", "http"),
            headers.get("host", ""),
            headers.get("accept", ""),
            scope["path"],
            scope.get("query_string", b""),
            stamp,
        )

    async def get(self, key: Key) -> Copy | None:
        """The copy to answer with; None: the caller makes the answer, then calls ``made``."""
        found = self._copies.get(key)
        if found is None and key in self._making:
            await self._making[key].wait()
            found = self._copies.get(key)  # None if it could not be kept: make it too
            if found is None:
                return None
        elif found is None or (found.until <= self.clock() and key not in self._making):
            self._making[key] = Event()
            return None
        self._copies.move_to_end(key)
        self.hits += 1
        return found

    def made(self, key: Key) -> None:
        """The answer for ``key`` is out (kept or not): whoever waits for it goes on."""
        making = self._making.pop(key, None)
        if making is not None:
            making.set()

    def put(self, key: Key, start: Message, body: bytes) -> None:
        if self.ttl <= 0 or len(body) > MAX_BODY:
            return
        copy = Copy(int(start["status"]), list(start["headers"]), body, self.clock() + self.ttl)
        self._drop(key)
        self._copies[key] = copy
        self._bytes += len(body)
        while self._bytes > MAX_BYTES and self._copies:
            self._drop(next(iter(self._copies)))

    def _drop(self, key: Key) -> None:
        gone = self._copies.pop(key, None)
        if gone is not None:
            self._bytes -= len(gone.body)

    def recorder(self, key: Key, scope: Scope, send: Send) -> Send:
        """``send`` that keeps a copy of a whole 200 answering a GET as it passes."""
        start: Message | None = None

        async def record(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                # As the route made it: the headers added on the way out are added again.
                start = {**message, "headers": list(message["headers"])}
            elif (
                message["type"] == "http.response.body"
                and start is not None
                and start["status"] == 200
                and scope["method"] == "GET"
                and not message.get("more_body", False)
                and _keepable(Headers(raw=start["headers"]))
            ):
                self.put(key, start, message.get("body", b""))
                start = None
            else:
                start = None
            await send(message)

        return record

    async def replay(self, copy: Copy, send: Send) -> None:
        headers = list(copy.headers)  # the way out adds to them: not to the copy's
        await send({"type": "http.response.start", "status": copy.status, "headers": headers})
        await send({"type": "http.response.body", "body": copy.body})
