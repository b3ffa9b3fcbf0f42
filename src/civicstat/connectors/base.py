"""The one protocol every connector implements, built-in or third-party."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel

from civicstat.spec.boundary import OWN_PREFIX, Boundary, own_variable

# "csv", "parquet", "json", "ndjson", "xlsx", or a format a connector registers a reader for
# (see civicstat.warehouse.readers).
PayloadFormat = str


class ConnectorError(Exception):
    """A source could not be read; the message says what and where."""


@dataclass(frozen=True)
class Payload:
    """One raw payload as the source gave it: a file, a response body, a pushed batch."""

    name: str
    format: PayloadFormat
    content_type: str
    opener: Any  # () -> IO[bytes]; a callable keeps payloads lazy and streamable
    read_options: Mapping[str, Any] = field(default_factory=dict)  # how to read this payload
    # Set when the payload is a file on this machine: the lake copies it with the kernel's
    # file copy instead of streaming it through Python.
    local_path: Path | None = None

    def open(self) -> IO[bytes]:
        stream: IO[bytes] = self.opener()
        return stream


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may know about where it runs and what it already has."""

    workspace_root: Path
    source_id: str = ""
    cursor: str | None = None  # the source's incremental cursor column, if any
    high_water_mark: str | None = None  # largest cursor value already loaded, as text
    # Tests hand in an httpx.MockTransport or a fault-injecting one; None uses the network.
    transport: httpx.BaseTransport | None = None
    # Private, loopback and link-local addresses an outbound fetch may reach (hosts or
    # CIDRs, from civicstat.yaml's network.allow); everything else private is refused.
    allow: tuple[str, ...] = ()
    # Where secrets named in a spec (auth_env: NAME) are read; never the spec itself.
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    # The local paths the source may read; None: the workspace folder alone.
    boundary: Boundary | None = None

    @property
    def reach(self) -> Boundary:
        """What the source may read on this machine (see :mod:`civicstat.spec.boundary`)."""
        return self.boundary or Boundary.of(self.workspace_root)

    def secret(self, variable: str, holds: str, option: str) -> str:
        """The value of the environment variable a spec names for a secret; a clear error
        (naming the variable, what it must hold and the spec option) when it is unset, or
        when it is one of CivicStat's own, which no source may read."""
        if own_variable(variable):
            raise ConnectorError(
                f"options.{option} of source {self.source_id!r} names {variable}, one of "
                f"CivicStat's own variables ({OWN_PREFIX}*): a source may not read it"
            )
        value = self.env.get(variable)
        if not value:
            raise ConnectorError(
                f"environment variable {variable} is not set: it must hold {holds} "
                f"(options.{option} of source {self.source_id!r})"
            )
        return value


class Connector(Protocol):
    """Pulls a source's current payloads. ``Options`` validates the source's ``options:``."""

    Options: ClassVar[type[BaseModel]]

    def __init__(self, options: Any, context: ConnectorContext) -> None: ...

    def fetch(self) -> Iterator[Payload]:
        """Yield every payload of this pull; raise ConnectorError with a clear message."""
        ...

    def read_options(self) -> dict[str, Any]:
        """Options the loader needs to parse this source's payloads (CSV dialect, null
        markers...); a payload's own ``read_options`` add to them."""
        ...
