"""The ``push`` connector: a source whose own system sends its records to CivicStat.

Nothing is pulled. A batch arrives as the body of ``POST /api/v1/sources/{id}/records``
(:mod:`civicstat.services.push`), is checked here for its shape before anything is kept,
then landed byte for byte and loaded like any other payload, by the source's ``load:`` mode.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from functools import partial
from typing import Any, ClassVar, Literal, NoReturn

from pydantic import Field

from civicstat.connectors.base import ConnectorContext, Payload
from civicstat.spec.models import SpecModel

PushFormat = Literal["json", "ndjson"]
MEDIA_TYPES: dict[PushFormat, str] = {"json": "application/json", "ndjson": "application/x-ndjson"}
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
MAX_BYTES_LIMIT = 1024 * 1024 * 1024  # a batch is held in memory while it is checked
_BOM = b"\xef\xbb\xbf"
_SPACE = re.compile(r"[ \t\n\r]*")


class PushOptions(SpecModel):
    """Options of the ``push`` connector."""

    formats: list[PushFormat] = Field(
        default_factory=lambda: list(MEDIA_TYPES),
        min_length=1,
        description="Body formats accepted: json (a JSON array of records, sent as "
        "application/json) and ndjson (one record per line, sent as application/x-ndjson)",
    )
    max_bytes: int = Field(
        DEFAULT_MAX_BYTES,
        ge=1,
        le=MAX_BYTES_LIMIT,
        description="Largest body accepted, in bytes; a larger one is refused (HTTP 413)",
    )


class BatchError(ValueError):
    """A pushed body that is not a batch of records; says where its first problem is.

    ``record`` is the 1-based number of the record, ``line`` the 1-based line of the body.
    """

    def __init__(self, message: str, *, record: int | None = None, line: int | None = None):
        super().__init__(message)
        self.record = record
        self.line = line


class PushConnector:
    """Accepts batches through the API instead of fetching: see :mod:`civicstat.services.push`."""

    Options: ClassVar[type[PushOptions]] = PushOptions

    def __init__(self, options: PushOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context

    def fetch(self) -> Iterator[Payload]:
        """Yields nothing: a push source has nothing to pull, its system sends the records.

        A scheduled or manual ``civicstat ingest`` of it therefore finds no new payload and
        publishes nothing; each pushed batch is its own run.
        """
        yield from ()

    def read_options(self) -> dict[str, Any]:
        return {}


def format_of(content_type: str | None) -> PushFormat | None:
    """The body format a Content-Type announces, or None when it is not one we read.

    A ``charset`` parameter, if any, must be UTF-8: JSON has no other encoding.
    """
    if not content_type:
        return None
    media, *params = (part.strip() for part in content_type.split(";"))
    fmt = next((f for f, m in MEDIA_TYPES.items() if m == media.lower()), None)
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return None
    return fmt


def batch_payload(body: bytes, fmt: PushFormat, name: str) -> Payload:
    """The pushed body as a payload the pipeline lands as-is and loads by its format."""
    return Payload(name, fmt, MEDIA_TYPES[fmt], partial(io.BytesIO, body))


def count_records(body: bytes, fmt: PushFormat) -> int:
    """Check that ``body`` is a non-empty batch of JSON objects; return how many.

    Run before anything is landed, so a malformed batch leaves no trace but its refusal,
    and the client learns which record to fix rather than a parser's byte offset.
    """
    if body.startswith(_BOM):
        raise BatchError("the body starts with a byte-order mark: send UTF-8 without one", line=1)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body.count(b"\n", 0, error.start) + 1
        raise BatchError(f"the body is not UTF-8 (byte {error.start + 1})", line=line) from None
    count = _count_array(text) if fmt == "json" else _count_lines(text)
    if count == 0:
        raise BatchError("the batch has no records")
    return count


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def _decode(text: str, pos: int, record: int) -> tuple[Any, int]:
    """One JSON value at ``pos``, with errors that name the record."""
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as error:
        raise BatchError(
            f"record {record} is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})",
            record=record,
            line=error.lineno,
        ) from None
    except (ValueError, RecursionError) as error:
        why = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        line = _line(text, pos)
        raise BatchError(
            f"record {record} is not valid JSON: {why} (line {line})", record=record, line=line
        ) from None


def _count_array(text: str) -> int:
    pos = _skip(text, 0)
    if not text.startswith("[", pos):
        raise BatchError(
            "an application/json body must be a JSON array of records: [{...}, {...}]",
            line=_line(text, pos),
        )
    pos = _skip(text, pos + 1)
    count = 0
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            count += 1
            start = pos
            value, pos = _decode(text, pos, count)
            if not isinstance(value, dict):
                _not_an_object(value, f"record {count}", count, _line(text, start))
            pos = _skip(text, pos)
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
            elif text.startswith("]", pos):
                pos += 1
                break
            else:
                line = _line(text, pos)
                raise BatchError(
                    f"after record {count}: expected ',' or ']' (line {line})",
                    record=count,
                    line=line,
                )
    pos = _skip(text, pos)
    if pos != len(text):
        raise BatchError(
            f"text after the closing ']' of the array (line {_line(text, pos)})",
            line=_line(text, pos),
        )
    return count


def _count_lines(text: str) -> int:
    """NDJSON: one object per line; blank lines (and a final newline) are allowed."""
    count = 0
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.strip(" \t\r")
        if not stripped:
            continue
        count += 1
        try:
            value = _DECODER.decode(stripped)
        except json.JSONDecodeError as error:
            column = error.colno + len(line) - len(line.lstrip(" \t"))
            raise BatchError(
                f"line {number} (record {count}) is not valid JSON: {error.msg} (column {column})",
                record=count,
                line=number,
            ) from None
        except (ValueError, RecursionError) as error:
            why = "nested too deeply" if isinstance(error, RecursionError) else str(error)
            raise BatchError(
                f"line {number} (record {count}) is not valid JSON: {why}",
                record=count,
                line=number,
            ) from None
        if not isinstance(value, dict):
            _not_an_object(value, f"line {number} (record {count})", count, number)
    return count


def _not_an_object(value: Any, where: str, record: int, line: int) -> NoReturn:
    raise BatchError(
        f"{where} is a JSON {_kind(value)}, not an object of column values",
        record=record,
        line=line,
    )


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1
