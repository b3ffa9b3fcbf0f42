"""Outbound HTTP for connectors, in one place: the SSRF guard, timeouts, retries, redirects.

Every connector that reaches a URL named in a spec goes through :class:`Net`, so that a
spec (or a server's redirect, or a next-page link) can never make CivicStat talk to the
city's internal network or a cloud metadata endpoint unless ``network.allow`` says so.

The guard works twice: before each request (and each redirect hop) it resolves the host
and refuses forbidden addresses, so a refusal happens before any packet is sent, even
with an injected transport; and the default transport checks again at connect time and
connects only to the addresses it checked, so a DNS answer that changes in between (DNS
rebinding) cannot slip through. Proxies from the environment are not used: the guard
must see the real destination.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import ipaddress
import random
import re
import socket
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpcore
import httpx
from pydantic import Field

from civicstat.connectors.base import ConnectorContext, ConnectorError
from civicstat.excerpt import excerpt
from civicstat.spec.models import SpecModel

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
Sleep = Callable[[float], None]

MAX_REDIRECTS = 10
_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))
_SECRET_PARAM = re.compile(r"token|key|secret|passw|signature|^sig$|auth|credential", re.I)


class RefusedAddress(ConnectorError):
    """The SSRF guard refused a URL: its host is internal and not in ``network.allow``."""


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


# --- the SSRF guard ---------------------------------------------------------------------


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, in the resolver's order (IP literals included)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def forbidden_reason(address: IPAddress) -> str | None:
    """Why an address is off limits by default, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


class Guard:
    """Refuses hosts that resolve to internal addresses unless ``allow`` lists them.

    ``allow`` holds host names (matched exactly, case-insensitively) and IP addresses or
    CIDR ranges. A host passes when its name is allowed, or when every address it resolves
    to is public or inside an allowed range: one forbidden answer is enough to refuse.
    """

    def __init__(self, allow: Iterable[str] = (), resolve: Resolver = resolve_host) -> None:
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allow:
            try:
                self.networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self.hosts.add(_host_key(entry))
        self.resolve = resolve

    def check_url(self, url: httpx.URL) -> None:
        """Refuse a URL before any request is sent to it."""
        if url.scheme not in ("http", "https"):
            raise RefusedAddress(f"refusing {redact(url)}: only http and https URLs may be fetched")
        if not url.host:
            raise RefusedAddress(f"refusing {redact(url)}: the URL has no host")
        self.addresses(url.host, url.port or (443 if url.scheme == "https" else 80))

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` may be reached at; raises RefusedAddress if any is forbidden."""
        try:
            found = self.resolve(host.strip("[]"), port)
        except (OSError, UnicodeError) as error:
            raise httpx.ConnectError(f"cannot resolve {host}: {error}") from error
        if _host_key(host) in self.hosts:
            return found
        for text in found:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            reason = forbidden_reason(address)
            if reason is not None and not self._allowed(address):
                shown = host if host.strip("[]") == text else f"{host} ({text})"
                raise RefusedAddress(
                    f"refusing to connect to {shown}: a {reason} address. If this internal "
                    "system is meant to be reached, list it under network.allow in civicstat.yaml"
                )
        return found

    def _allowed(self, address: IPAddress) -> bool:
        mapped = getattr(address, "ipv4_mapped", None) or address
        return any(mapped in network or address in network for network in self.networks)


def _host_key(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


class _GuardedBackend(httpcore.NetworkBackend):
    """Checks each TCP connection's host at connect time and dials only checked addresses."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in self.guard.addresses(host, port):
            try:
                return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure or httpcore.ConnectError(f"{host} resolved to no address")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("connectors may not use Unix sockets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def guarded_transport(guard: Guard) -> httpx.HTTPTransport:
    """httpx's own transport, with its connection pool dialling through the guard.

    httpx has no public hook for the network backend, so the pool it builds is replaced by
    an identical one that has ours (covered by test_net's rebinding test).
    """
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_GuardedBackend(guard),
    )
    return transport


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


def redact(url: httpx.URL | str, secret_params: Collection[str] = ()) -> str:
    """A URL fit for a message or a log: credentials and secret-looking query values hidden."""
    url = httpx.URL(url)
    port = f":{url.port}" if url.port else ""
    host = f"[{url.host}]" if ":" in url.host else url.host
    base = f"{url.scheme}://{host}{port}{url.path}"
    pairs = [
        (k, "***" if k in secret_params or _SECRET_PARAM.search(k) else v)
        for k, v in url.params.multi_items()
    ]
    return f"{base}?{urlencode(pairs, safe='$*:,()')}" if pairs else base


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
