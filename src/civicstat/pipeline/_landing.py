"""Landing a run's payloads in the lake as-is, and settling them (hash, flush) in the
background while DuckDB parses them."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Callable, Iterable
from typing import IO, Protocol

from civicstat.connectors.base import Payload
from civicstat.warehouse.loader import Input
from civicstat.warehouse.storage import Lake, LandedFile


class Progress(Protocol):
    """Told what a run is doing: its phase (fetching, loading, checking, publishing...)
    and, when the amount of work is known, the share of the phase done (0.0 to 1.0, as it
    grows); ``None`` when it cannot be told. Called from the run's threads."""

    def __call__(self, phase: str, done: float | None = None, /) -> None: ...


def land(
    lake: Lake,
    source_id: str,
    payloads: Iterable[Payload],
    landed: list[LandedFile],
    progress: Progress | None,
) -> list[Input]:
    """Copy each payload into the lake's raw zone (appending to ``landed`` as it goes, so
    a fetch that fails half-way still records what it kept); returns the loader's inputs."""
    when = dt.datetime.now(dt.UTC)
    inputs: list[Input] = []
    for payload in payloads:
        if payload.local_path is not None:
            size = payload.local_path.stat().st_size
            file = lake.land_file(
                source_id, payload.name, payload.content_type, payload.local_path,
                when=when, on_bytes=_byte_meter(progress, "fetching", size),
            )  # fmt: skip
        else:
            with payload.open() as stream:
                meter = _byte_meter(progress, "fetching", _size_of(stream))
                file = lake.land(
                    source_id, payload.name, payload.content_type, stream, when=when,
                    durable=False, on_bytes=meter,
                )  # fmt: skip
        landed.append(file)
        inputs.append(Input(file.path, payload.name, payload.format, payload.read_options))
    return inputs


class Flush:
    """Hashes and flushes landed payloads on a background thread; ``wait`` joins it and
    returns the files with their hashes."""

    def __init__(self, lake: Lake, files: list[LandedFile]) -> None:
        self._files = list(files)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, args=(lake,), daemon=True)
        self._thread.start()

    def _run(self, lake: Lake) -> None:
        try:
            self._files = lake.settle(self._files)
        except OSError as error:
            self._error = error

    def wait(self) -> list[LandedFile]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._files


def _byte_meter(
    progress: Progress | None, phase: str, total: int | None
) -> Callable[[int], None] | None:
    """Bytes copied so far as a share of ``total``; nothing when it is not known."""
    if progress is None:
        return None
    if not total:
        progress(phase)
        return None
    progress(phase, 0.0)
    return lambda copied: progress(phase, min(copied / total, 1.0))


def _size_of(stream: IO[bytes]) -> int | None:
    """A payload stream's size when it can be told without reading it: a local or remote
    file (fsspec knows the object's size), an in-memory body."""
    size = getattr(stream, "size", None)  # fsspec files
    if isinstance(size, int):
        return size
    try:
        if stream.seekable():
            here = stream.tell()
            end = stream.seek(0, io.SEEK_END)
            stream.seek(here)
            return end - here
    except (OSError, ValueError):
        pass
    return None
