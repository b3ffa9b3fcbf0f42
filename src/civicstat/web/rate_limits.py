"""Per-client rate limits for the public side: a token bucket per client address or app
token, and a short-lived cache of app-token checks and of the workspace's limits.

The state lives in this process: with several server processes each counts on its own,
so a client may get up to that many times the limit (a store shared between processes is
issue 16). The event loop is one thread, so no lock is needed around the buckets.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from anyio import to_thread

from civicstat.spec.models import RateLimit

MAX_CLIENTS = 100_000  # buckets kept; the least recently seen client is forgotten first
TOKEN_TTL_SECONDS = 60.0  # a revoked app token keeps working at most this long
LIMITS_TTL_SECONDS = 10.0  # a new portal.rate_limit applies within this long
MAX_TOKEN_LENGTH = 200  # longer is no token of ours: refused without a lookup


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """One bucket per key, refilled at ``per_minute / 60`` a second up to ``per_minute``:
    a client may spend a minute's allowance at once, then keeps to the rate."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_clients: int = MAX_CLIENTS
    ) -> None:
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str, per_minute: int) -> float:
        """Spend one request of ``key``'s allowance: 0.0 if it may go ahead, otherwise the
        seconds until it may (the request is not counted)."""
        now = self.clock()
        rate = per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(per_minute), now)
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after(seconds: float) -> str:
    """A Retry-After value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def token_key(token_text: str) -> str:
    """The cache and bucket key of an app token: its SHA-256, so no token text is kept."""
    return hashlib.sha256(token_text.encode("utf-8", "replace")).hexdigest()


class AppTokens:
    """App-token checks, remembered for ``ttl`` seconds by the token's SHA-256 (valid and
    invalid alike, so a client repeating a bad token costs one lookup a minute). A lookup
    runs in a worker thread: it reads the metadata store."""

    def __init__(
        self,
        check: Callable[[str], bool],
        ttl: float = TOKEN_TTL_SECONDS,
        size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.check = check
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._known: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self.lookups = 0

    async def valid(self, token_text: str) -> bool:
        if not token_text or len(token_text) > MAX_TOKEN_LENGTH:
            return False
        key = token_key(token_text)
        now = self.clock()
        known = self._known.get(key)
        if known is not None and known[1] > now:
            return known[0]
        self.lookups += 1
        verdict = await to_thread.run_sync(self.check, token_text)
        self._known[key] = (verdict, self.clock() + self.ttl)
        self._known.move_to_end(key)
        while len(self._known) > self.size:
            self._known.popitem(last=False)
        return verdict


class Limits:
    """The workspace's ``portal.rate_limit``, read again every ``ttl`` seconds."""

    def __init__(
        self,
        read: Callable[[], RateLimit],
        ttl: float = LIMITS_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.ttl = ttl
        self.clock = clock
        self._value: RateLimit | None = None
        self._until = 0.0

    async def current(self) -> RateLimit:
        now = self.clock()
        if self._value is None or now >= self._until:
            self._value = await to_thread.run_sync(self.read)
            self._until = now + self.ttl
        return self._value
