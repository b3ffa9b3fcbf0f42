"""The one protocol every connector implements, built-in or third-party."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

PayloadFormat = Literal["csv", "parquet"]


class ConnectorError(Exception):
    """A source could not be read; the message says what and where."""


@dataclass(frozen=True)
class Payload:
    """One raw payload as the source gave it: a file, a response body, a pushed batch."""

    name: str
    format: PayloadFormat
    content_type: str
    opener: Any  # () -> IO[bytes]; a callable keeps payloads lazy and streamable

    def open(self) -> IO[bytes]:
        stream: IO[bytes] = self.opener()
        return stream


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector may know about where it runs."""

    workspace_root: Path


class Connector(Protocol):
    """Pulls a source's current payloads. ``Options`` validates the source's ``options:``."""

    Options: ClassVar[type[BaseModel]]

    def __init__(self, options: Any, context: ConnectorContext) -> None: ...

    def fetch(self) -> Iterator[Payload]:
        """Yield every payload of this pull; raise ConnectorError with a clear message."""
        ...

    def read_options(self) -> dict[str, Any]:
        """Options the loader needs to parse payloads (CSV dialect, null markers...)."""
        ...
