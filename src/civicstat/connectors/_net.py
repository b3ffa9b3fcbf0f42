"""Outbound HTTP for connectors, in one place: the SSRF guard, timeouts, retries, redirects.

Every connector that reaches a URL named in a spec goes through :class:`Net`, so that a
spec (or a server's redirect, or a next-page link) can never make CivicStat talk to the
city's internal network or a cloud metadata endpoint unless ``network.allow`` says so.

The guard (:mod:`civicstat.connectors._guard`) works twice: before each request (and each
redirect hop) it resolves the host and refuses forbidden addresses, so a refusal happens
before any packet is sent, even with an injected transport; and the default transport
checks again at connect time and connects only to the addresses it checked, so a DNS
answer that changes in between (DNS rebinding) cannot slip through. Proxies from the
environment are not used: the guard must see the real destination.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import random
import time
from collections.abc import Callable, Collection, Mapping
from types import TracebackType
from typing import Any

import httpx
from pydantic import Field

from civicstat.connectors._guard import Guard, Resolver, guarded_transport, redact, resolve_host
from civicstat.connectors.base import ConnectorContext, ConnectorError
from civicstat.excerpt import excerpt
from civicstat.spec.models import SpecModel

Sleep = Callable[[float], None]

MAX_REDIRECTS = 10
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))


class NetworkOptions(SpecModel):
    """Options every HTTP-based connector shares: how long to wait and how often to retry."""

    timeout: float = Field(30.0, gt=0, le=600, description="Seconds to connect, or between bytes")
    retries: int = Field(
        3, ge=0, le=10, description="Extra attempts after a 429, 5xx, timeout or cut-off body"
    )
    backoff: float = Field(
        1.0, ge=0, le=60, description="First wait before a retry, in seconds; doubles each time"
    )
    max_retry_delay: float = Field(
        60.0, ge=0, le=3600, description="Longest wait before a retry, Retry-After included"
    )


# --- retries ----------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP-date)."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


def with_params(url: httpx.URL | str, params: Mapping[str, Any] | None) -> httpx.URL:
    """``url`` with ``params`` added to (or replacing same-named) parameters of its query.

    httpx's own ``params=`` replaces a URL's whole query, which would drop the parameters
    of a spec's URL or of a next-page link.
    """
    merged = httpx.URL(url)
    return merged.copy_merge_params(dict(params)) if params else merged


class Net:
    """An HTTP client for one pull: guarded, with timeouts and bounded retries.

    ``sleep``, ``jitter``, ``now`` and ``resolve`` are seams for tests, so retries are
    checked without waiting and the guard without a DNS server.
    """

    def __init__(
        self,
        context: ConnectorContext,
        options: NetworkOptions,
        *,
        secret_params: Collection[str] = (),
        secret_headers: Collection[str] = (),
        sleep: Sleep = time.sleep,
        jitter: Callable[[], float] = random.random,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        resolve: Resolver = resolve_host,
    ) -> None:
        self.options = options
        self.guard = Guard(context.allow, resolve)
        self.secret_params = frozenset(secret_params)
        self.secret_headers = frozenset(h.lower() for h in secret_headers) | {"authorization"}
        self.sleep = sleep
        self.jitter = jitter
        self.now = now
        transport = context.transport or guarded_transport(self.guard)
        self.client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=False,
            trust_env=False,
        )

    def __enter__(self) -> Net:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.client.close()

    def shown(self, url: httpx.URL | str) -> str:
        return redact(url, self.secret_params)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send a request and read the whole body, retrying what is worth retrying.

        429, 408 and 5xx answers, timeouts, refused connections and bodies cut off before
        their end are retried with exponential backoff (``Retry-After`` wins when given);
        other 4xx answers and guard refusals fail at once.
        """
        target = with_params(url, params)
        request = self.client.build_request(method, target, headers=headers, json=json)
        attempts = self.options.retries + 1
        problem = ""
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            try:
                response = self._send(request)
            except httpx.TimeoutException as error:
                problem = f"timed out ({type(error).__name__})"
            except httpx.RemoteProtocolError as error:
                problem = f"the connection closed before the whole response arrived ({error})"
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code < 400:
                    return response
                problem = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
                if response.status_code not in _RETRY_STATUSES:
                    shown = self.shown(response.url)
                    raise ConnectorError(f"{method} {shown} answered {problem}{_excerpt(response)}")
                wait = parse_retry_after(response.headers.get("retry-after"), self.now())
            if attempt < attempts:
                self.sleep(self._delay(attempt, wait))
        raise ConnectorError(
            f"{method} {self.shown(request.url)} failed: {problem} (gave up after {attempts} "
            f"attempt{'s' if attempts > 1 else ''})"
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.options.max_retry_delay)
        base = self.options.backoff * 2.0 ** (attempt - 1)
        return min(base * (1.0 + 0.1 * self.jitter()), self.options.max_retry_delay)

    def _send(self, request: httpx.Request) -> httpx.Response:
        """Send, following redirects one hop at a time so each hop passes the guard."""
        origin = request.url
        for _ in range(MAX_REDIRECTS + 1):
            self.guard.check_url(request.url)
            response = self.client.send(request)
            following = response.next_request
            if following is None:
                return response
            response.close()
            if not _same_origin(origin, following.url):
                for name in self.secret_headers:
                    following.headers.pop(name, None)
            request = following
        raise ConnectorError(f"{self.shown(origin)}: more than {MAX_REDIRECTS} redirects")


def _same_origin(first: httpx.URL, second: httpx.URL) -> bool:
    return (first.scheme, first.host, first.port) == (second.scheme, second.host, second.port)


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text[:1000].split())
    return f": {excerpt(text, 300)}" if text else ""


# --- pages ------------------------------------------------------------------------------


class Pages:
    """Numbers the pages of one pull, refuses a repeated page and caps the page count.

    An API that answers the same page again (or links back to a page already read) would
    otherwise be paged forever, or until ``max_pages`` silently cut the data short; both
    are failures to report, never a quiet end of the pull.
    """

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.count = 0
        self.hashes: dict[str, int] = {}
        self.links: set[str] = set()

    def add(self, body: bytes, shown_url: str) -> int:
        """Record a page's body; returns its number (from 1)."""
        self.count += 1
        digest = hashlib.sha256(body).hexdigest()
        if digest in self.hashes:
            raise ConnectorError(
                f"page {self.count} from {shown_url} is identical to page "
                f"{self.hashes[digest]}: the API repeats itself instead of paging; "
                "check the pagination options"
            )
        self.hashes[digest] = self.count
        return self.count

    def more(self, next_key: str | None = None, shown: str = "") -> None:
        """Before asking for the next page: refuse a link already followed, or one page too many."""
        if next_key is not None:
            if next_key in self.links:
                raise ConnectorError(
                    f"page {self.count} links back to a page already read ({shown}): "
                    "the API's pagination loops"
                )
            self.links.add(next_key)
        if self.count >= self.max_pages:
            raise ConnectorError(
                f"the source has more than max_pages={self.max_pages} pages; raise max_pages "
                "if it really is this large (nothing was loaded from this pull)"
            )
