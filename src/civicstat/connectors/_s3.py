"""``s3://`` files through s3fs, with every connection passing the SSRF guard.

s3fs talks to S3 with aiobotocore over aiohttp, not httpx, so the guard reaches it through
aiohttp's resolver hook: each connection resolves its host with :class:`Guard` and dials
only the addresses it checked. An ``endpoint_url`` on a private or loopback address (a
city's MinIO) therefore needs a ``network.allow`` entry, as an HTTP API does. Proxies
from the environment are not used, and the server's own AWS credentials (environment,
``~/.aws``, an instance role) never are: a source names its own key with ``storage_env``,
or reads anonymously.

Imported only for ``s3://`` paths: aiohttp and s3fs come with the ``s3`` extra.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import httpx
from aiohttp.abc import AbstractResolver, ResolveResult

from civicstat.connectors._guard import Guard
from civicstat.connectors.base import ConnectorError


class GuardedResolver(AbstractResolver):
    """aiohttp's host resolution, answered by the guard: forbidden hosts raise
    :class:`~civicstat.connectors._guard.RefusedAddress` before any connection is made."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await asyncio.to_thread(self.guard.addresses, host, port)
        results: list[ResolveResult] = []
        for text in found:
            version = ipaddress.ip_address(text.split("%", 1)[0]).version
            kind = socket.AF_INET6 if version == 6 else socket.AF_INET
            if family in (socket.AF_UNSPEC, kind):
                flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
                results.append(
                    ResolveResult(
                        hostname=host, host=text, port=port, family=kind, proto=0, flags=flags
                    )
                )
        if not results:
            raise OSError(f"{host} has no address of the kind asked for")
        return results

    async def close(self) -> None:
        """Nothing to release: the guard resolves with the system's resolver."""


def filesystem(options: dict[str, Any], guard: Guard, where: str) -> Any:
    """An s3fs filesystem for a source's ``storage_options`` (secrets already added),
    whose every connection passes ``guard``. ``where`` names the source in messages."""
    try:
        import s3fs
    except ImportError as error:  # pragma: no cover - the s3 extra is installed in tests
        raise ConnectorError(
            f"{where}: s3:// paths need s3fs: pip install 'civicstat[s3]'"
        ) from error
    options = dict(options)
    client = dict(options.get("client_kwargs") or {})
    endpoint = options.get("endpoint_url") or client.get("endpoint_url")
    if endpoint:
        guard.check_url(httpx.URL(str(endpoint)))  # refused here, before s3fs starts
    if "key" not in options:
        if options.get("anon") is False:
            raise ConnectorError(
                f"{where}: storage_options.anon is false but storage_env names no key: the "
                "server's own AWS credentials are never used for a source"
            )
        options["anon"] = True
    config = dict(options.pop("config_kwargs", None) or {})
    config["proxies"] = {}  # not the environment's: the guard must see the real host
    config["connector_args"] = {"resolver": GuardedResolver(guard)}
    return s3fs.S3FileSystem(skip_instance_cache=True, config_kwargs=config, **options)
