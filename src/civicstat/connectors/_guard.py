"""The SSRF guard: which addresses a spec's URLs may reach, checked before each request
and again at connect time, connecting only to the addresses checked (no DNS rebinding)."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Collection, Iterable
from typing import Any
from urllib.parse import urlencode

import httpcore
import httpx

from civicstat.connectors.base import ConnectorError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
_SECRET_PARAM = re.compile(r"token|key|secret|passw|signature|^sig$|auth|credential", re.I)


class RefusedAddress(ConnectorError):
    """The SSRF guard refused a URL: its host is internal and not in ``network.allow``."""


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
