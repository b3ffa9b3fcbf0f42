"""Timestamps at load become the workspace's local wall-clock time.

Measures bucket periods in the city's time (the workspace's ``timezone``), so timestamp
columns are stored as naive local times. A column that declares ``timezone`` holds values
in that zone; a value written with its UTC offset or zone (``2024-03-10T07:30:00Z``,
``…+05:30``, ``… -0500``, ``… America/Chicago``) is an instant whatever the column says;
both are converted to local time. A column with no ``timezone`` whose values carry no
offset is kept as written. Conversions use DuckDB's ICU time zones, so a local time that
a change to summer time skips, or that the change back repeats, is read the way ICU reads
it (a skipped local time moves forward by the hour skipped; a repeated one is read as
its second, standard-time occurrence).

CSV columns are typed by DuckDB's reader in one pass, where a value cannot be told to
carry an offset after the fact: a column is read as instants (``TIMESTAMPTZ``, unmarked
values in the column's zone) when it declares a zone, or when the first rows of the file
show offsets. One file's instants are read in one zone (the connection's ``TimeZone``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from civicstat.spec.models import Column

# A time followed by a UTC offset or a zone: the same pattern in Python and in DuckDB (RE2).
ZONED = (
    r"\d:\d\d(:\d\d([.,]\d+)?)?\s*"
    r"([zZ]|[+-]\d\d(:?\d\d)?|UTC|GMT|[A-Za-z]+/[A-Za-z_+-]+(/[A-Za-z_+-]+)?)$"
)
_ZONED = re.compile(ZONED)
SAMPLE_ROWS = 1000  # rows of a CSV looked at for offsets, read with its header


def carries_zone(text: str) -> bool:
    """Whether a timestamp's text says its offset or zone."""
    return _ZONED.search(text.strip()) is not None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _from_zone(naive: str, zone: str, local: str) -> str:
    """SQL: a naive timestamp in ``zone`` as local wall-clock time."""
    if zone == local:
        return naive
    return f"timezone({_literal(local)}, timezone({_literal(zone)}, {naive}))"


@dataclass(frozen=True)
class CsvTimestamp:
    """How the CSV reader types one timestamp column, and the SQL of the stored value."""

    read_as: str  # TIMESTAMP or TIMESTAMPTZ
    value: str  # SQL over the column as read
    zone: str | None  # the zone unmarked TIMESTAMPTZ values are read in (the session's)


def for_csv(
    column: Column, source: str, sample: Iterable[str], timestamp_format: str | None, local: str
) -> CsvTimestamp | None:
    """The reading of a CSV timestamp column (``source``: its quoted name) that stores local
    time; None when its values are kept as written."""
    if timestamp_format:
        # The format decides: with %z DuckDB's reader gives UTC, else the value as written.
        zone = "UTC" if "%z" in timestamp_format else column.timezone
        if zone is None or zone == local:
            return None
        return CsvTimestamp("TIMESTAMP", _from_zone(source, zone, local), None)
    if column.timezone is None and not any(carries_zone(v) for v in sample):
        return None
    return CsvTimestamp(
        "TIMESTAMPTZ", f"timezone({_literal(local)}, {source})", column.timezone or local
    )


def staged(
    text: str, raw_type: str, column: Column, timestamp_format: str | None, local: str
) -> str:
    """SQL of a staged value (``text``: an expression of DuckDB type ``raw_type``) as a
    local timestamp; NULL when it is not a timestamp. Decided value by value."""
    zone = column.timezone or local
    if raw_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone({_literal(local)}, {text})"
    if raw_type != "VARCHAR":
        return _from_zone(f"TRY_CAST({text} AS TIMESTAMP)", zone, local)
    if timestamp_format:
        parsed = f"try_strptime({text}, {_literal(timestamp_format)})"
        if "%z" in timestamp_format or "%Z" in timestamp_format:
            return f"timezone({_literal(local)}, {parsed})"
        return _from_zone(parsed, zone, local)
    naive = _from_zone(f"TRY_CAST({text} AS TIMESTAMP)", zone, local)
    return (
        f"CASE WHEN regexp_matches(trim({text}), {_literal(ZONED)}) "
        f"THEN timezone({_literal(local)}, TRY_CAST(trim({text}) AS TIMESTAMPTZ)) "
        f"ELSE {naive} END"
    )
