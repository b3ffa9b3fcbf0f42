"""Bounds on what one payload may make the loader read, checked before a parser sees it.

DuckDB's CSV reader silently drops a line longer than its buffer (32 MB by default), and
a small gzip file can hold gigabytes: a line the readers cannot take must be quarantined
with its number and a reason, and a payload beyond reason must fail its run, not exhaust
the machine. So each text payload is streamed once, decompressed when it is gzip, in
chunks of constant size: its lines longer than ``max_line_bytes`` are found (by jumping
from newline to newline at most that far apart, a few calls per chunk) and its
decompressed size is held under ``max_decompressed_bytes``. When long lines are found, the
parsers read a copy without them. Workbooks and Parquet files are bounded by what their
own directories say they hold.
"""

from __future__ import annotations

import contextlib
import gzip
import mmap
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import pyarrow.parquet as pq

MIB = 1 << 20
GIB = 1 << 30
_CHUNK = 4 * MIB
_RAW_BYTES = 1_000  # what the quarantine keeps of a line too long to load
MAX_ARCHIVE_MEMBERS = 10_000  # files in one workbook (a real one holds a few dozen)


class PayloadTooLarge(ValueError):
    """A payload is larger than a bound allows; the message names the bound's setting."""


@dataclass(frozen=True)
class ReadLimits:
    """The settings ``CIVICSTAT_MAX_LINE_BYTES`` and ``CIVICSTAT_MAX_DECOMPRESSED_BYTES``."""

    max_line_bytes: int = 8 * MIB
    max_decompressed_bytes: int = 8 * GIB


@dataclass(frozen=True)
class LongLine:
    """A line longer than the bound: its 1-based number, byte span and first bytes."""

    number: int
    start: int  # offset of its first byte in the (decompressed) payload
    end: int  # offset of its newline, or of the payload's end
    head: bytes

    @property
    def length(self) -> int:
        return self.end - self.start

    def reason(self, limit: int) -> str:
        return (
            f"line of {self.length:,} bytes is longer than the {limit:,} bytes a line may be "
            "(CIVICSTAT_MAX_LINE_BYTES)"
        )

    def raw(self) -> str:
        return self.head.decode("utf-8", errors="replace") + "…"


def is_gzip(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(2) == b"\x1f\x8b"


@contextlib.contextmanager
def opened(path: Path) -> Iterator[IO[bytes]]:
    """The payload's bytes, decompressed when it is gzip (told by its first bytes)."""
    if is_gzip(path):
        with gzip.open(path, "rb") as unzipped:
            yield cast(IO[bytes], unzipped)
    else:
        with path.open("rb") as plain:
            yield plain


def long_lines(path: Path, limits: ReadLimits, name: str, copy: Path) -> list[LongLine]:
    """Every line of the payload longer than ``limits.max_line_bytes`` (without its newline),
    in order; raises :class:`PayloadTooLarge` past ``limits.max_decompressed_bytes``.

    When there are any, ``copy`` receives the (decompressed) payload without them. A plain
    file is mapped, not read: jumping to the last newline before each bound touches a few
    pages per ``max_line_bytes``, so the scan costs next to nothing on the ingest path. A
    gzip payload is streamed once, the copy written in the same pass from the first long
    line on: a gzip bomb is decompressed once.
    """
    if not is_gzip(path):
        found = _mapped_long_lines(path, limits.max_line_bytes)
        if found:
            _copy_without(path, found, copy)
        return found
    scan = _Scan(path, limits.max_line_bytes, copy)
    with opened(path) as stream:
        while chunk := stream.read(_CHUNK):
            _check_size(scan.base + len(chunk), limits, name)
            scan.feed(chunk)
    scan.finish()
    return scan.found


def _mapped_long_lines(path: Path, limit: int) -> list[LongLine]:
    size = path.stat().st_size
    found: list[LongLine] = []
    if size <= limit:
        return found
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        start = newlines = counted = 0  # newlines counts those before ``counted``
        while size - start > limit:
            last = data.rfind(b"\n", start, start + limit + 1)
            if last != -1:
                start = last + 1
                continue
            end = data.find(b"\n", start + limit + 1)
            end = size if end == -1 else end
            newlines += sum(  # mmap has no count(): a slice at a time
                data[at : min(at + _CHUNK, start)].count(b"\n")
                for at in range(counted, start, _CHUNK)
            )
            counted = start
            found.append(LongLine(newlines + 1, start, end, data[start : start + _RAW_BYTES]))
            start = end + 1
    return found


def _copy_without(path: Path, lines: Sequence[LongLine], target: Path) -> None:
    """Copy a plain payload to ``target`` without ``lines`` and their newlines, streaming."""
    with path.open("rb") as source, target.open("wb") as out:
        offset = 0
        for line in lines:
            _copy_range(source, out, line.start - offset)
            source.seek(line.end + 1)
            offset = line.end + 1
        _copy_range(source, out, None)


def _copy_range(source: IO[bytes], out: IO[bytes], length: int | None) -> None:
    """Copy ``length`` bytes (or the rest) from ``source`` to ``out``, a chunk at a time."""
    while length is None or length > 0:
        block = source.read(_CHUNK if length is None else min(_CHUNK, length))
        if not block:
            return
        out.write(block)
        if length is not None:
            length -= len(block)


class _Scan:
    """The state of one pass: where the current line starts, whether it is already known
    too long, and, once a long line is found, the copy being written without them."""

    def __init__(self, path: Path, limit: int, copy: Path) -> None:
        self.path, self.limit, self.copy = path, limit, copy
        self.found: list[LongLine] = []
        self.base = 0  # offset of the chunk in the payload
        self.newlines = 0  # newlines before the chunk
        self.start = 0  # offset of the current line's first byte
        self.long_start: int | None = None  # the current line's start, once known too long
        self.head = b""  # the first bytes of the current line, when it began in a past chunk
        self.out: IO[bytes] | None = None  # the copy, from the first long line on
        self.kept = 0  # the copy holds what it should of the payload up to here
        self.pending = b""  # the current line's bytes of past chunks, not yet in the copy
        self.closed: list[LongLine] = []  # long lines found in this chunk, for the copy

    def feed(self, chunk: bytes) -> None:
        pos = max(self.start - self.base, 0)
        while pos < len(chunk):
            if self.long_start is not None:
                end = chunk.find(b"\n", pos)
                if end == -1:
                    break
                self.close(chunk, self.base + end)
                pos = end + 1
                continue
            deadline = self.start + self.limit - self.base  # the newline may be here at the latest
            last = chunk.rfind(b"\n", pos, min(len(chunk), deadline + 1))
            if last != -1:
                self.start, pos = self.base + last + 1, last + 1
            elif deadline < len(chunk):
                self.open_long(chunk)
                pos = deadline
            else:
                break
        if self.long_start is None and self.start >= self.base:
            self.head = chunk[self.start - self.base : self.start - self.base + _RAW_BYTES]
        if self.out is not None:
            self.write(chunk)
        self.newlines += chunk.count(b"\n")
        self.base += len(chunk)

    def open_long(self, chunk: bytes) -> None:
        """The current line is longer than the limit: skip to its end."""
        self.long_start = self.start
        if self.start >= self.base:
            self.head = chunk[self.start - self.base : self.start - self.base + _RAW_BYTES]
        if self.out is None:
            self.start_copy(self.start)

    def close(self, chunk: bytes, end: int) -> None:
        """The long line ends at ``end`` (its newline, or the payload's end)."""
        assert self.long_start is not None
        start = self.long_start
        before = chunk.count(b"\n", 0, start - self.base) if start >= self.base else 0
        line = LongLine(self.newlines + before + 1, start, end, self.head)
        self.found.append(line)
        self.closed.append(line)
        self.long_start, self.start = None, end + 1

    def start_copy(self, until: int) -> None:
        """Open the copy with the payload's first ``until`` bytes, read again (they hold no
        long line)."""
        self.out = self.copy.open("wb")
        left = until
        with opened(self.path) as again:
            while left and (block := again.read(min(_CHUNK, left))):
                self.out.write(block)
                left -= len(block)
        self.kept = until

    def write(self, chunk: bytes) -> None:
        """Add this chunk's part of the copy: up to the current line, whose bytes wait until
        it is known to be short, and without the long lines."""
        assert self.out is not None
        data, data_base = self.pending + chunk, self.base - len(self.pending)
        cut = self.long_start if self.long_start is not None else self.start
        cut = min(cut, self.base + len(chunk))
        pos = max(self.kept, data_base)
        for line in self.closed:
            if line.start > pos:
                self.out.write(data[pos - data_base : line.start - data_base])
            pos = max(pos, line.end + 1)
        if pos < cut:
            self.out.write(data[pos - data_base : cut - data_base])
        self.kept = max(cut, pos)
        self.closed = []
        self.pending = data[cut - data_base :] if self.long_start is None else b""

    def finish(self) -> None:
        if self.long_start is None and self.base - self.start > self.limit:
            self.open_long(b"")  # the loop finds every long line; this is a guard
        if self.long_start is not None:
            self.close(b"", self.base)
            self.pending = b""
        if self.out is not None:
            self.write(b"")
            self.out.write(self.pending)
            self.out.close()


def _check_size(size: int, limits: ReadLimits, name: str) -> None:
    if size > limits.max_decompressed_bytes:
        raise PayloadTooLarge(
            f"{name}: decompresses to more than {limits.max_decompressed_bytes:,} bytes "
            "(CIVICSTAT_MAX_DECOMPRESSED_BYTES)"
        )


def original_line(line: int, removed: Sequence[LongLine]) -> int:
    """The payload's line number of line ``line`` of its copy without ``removed``."""
    for gone in removed:  # in order
        if gone.number <= line:
            line += 1
    return line


def check_decompressed(path: Path, limits: ReadLimits, name: str) -> None:
    """Stream a gzip payload once to hold its decompressed size under the bound."""
    if not is_gzip(path):
        return
    size = 0
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            _check_size(size, limits, name)


def check_workbook(path: Path, limits: ReadLimits, name: str) -> None:
    """An .xlsx is a zip: what its members say they expand to (zipfile stops reading a
    member at its declared size) is held under the decompressed bound, and their number
    under :data:`MAX_ARCHIVE_MEMBERS`."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        return  # not a zip: the workbook reader says what is wrong with it
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise PayloadTooLarge(
            f"{name}: holds {len(members):,} files, more than the {MAX_ARCHIVE_MEMBERS:,} "
            "a workbook may have"
        )
    _check_size(sum(info.file_size for info in members), limits, name)


def check_parquet(path: Path, limits: ReadLimits, name: str) -> None:
    """A Parquet file's row groups, as its footer sizes them uncompressed, under the bound."""
    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception:  # not Parquet: DuckDB's reader says what is wrong
        return
    sizes = [metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups)]
    _check_size(sum(sizes), limits, name)
