"""Rows as a database driver returned them, as Arrow tables with one type per column,
chunk after chunk: the ``sql`` connector's payloads."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

# Arrow type per column, fixed by the first chunk that has a value, so later chunks (and an
# all-NULL chunk) keep it; decimals widen their scale when a later chunk needs more.
ColumnTypes = dict[str, pa.DataType]


def to_table(names: Sequence[str], rows: Sequence[Sequence[Any]], types: ColumnTypes) -> pa.Table:
    """Rows as the driver returned them, as an Arrow table with a type per column."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = [
        _to_array(name, list(values), types) for name, values in zip(names, columns, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=list(names))


def _to_array(name: str, values: list[Any], types: ColumnTypes) -> pa.Array:
    present = [v for v in values if v is not None]
    if not present:
        return pa.nulls(len(values), types.get(name, pa.string()))
    wanted = _arrow_type(present, types.get(name))
    if wanted is not None:
        try:
            array = pa.array(_plain(values, wanted), type=wanted)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError, TypeError):
            pass
        else:
            types[name] = wanted
            return array
    # Mixed or exotic values (NaN decimals, ranges, SQLite's loose typing): keep them as text.
    types[name] = pa.string()
    return pa.array([None if v is None else _text(v) for v in values], type=pa.string())


def _arrow_type(present: list[Any], known: pa.DataType | None) -> pa.DataType | None:
    if known is not None and pa.types.is_string(known):
        return known  # once text, always text: every payload of the pull agrees
    kinds = {_kind(v) for v in present}
    if len(kinds) != 1:
        return pa.float64() if kinds == {"int", "float"} else None
    kind = kinds.pop()
    if kind == "decimal":
        scale = max(_scale(v) for v in present)
        digits = max(_integer_digits(v) for v in present)
        if known is not None and pa.types.is_decimal(known):
            scale = max(scale, known.scale)
        return pa.decimal128(38, scale) if digits + scale <= 38 else pa.decimal256(76, scale)
    if kind == "datetime":
        aware = {v.tzinfo is not None for v in present}
        if len(aware) != 1:
            return None
        return pa.timestamp("us", tz="UTC") if aware.pop() else pa.timestamp("us")
    if kind == "int" and known is not None and pa.types.is_floating(known):
        return known
    return _SIMPLE.get(kind)


_SIMPLE: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "bytes": pa.binary(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timedelta": pa.duration("us"),
    "json": pa.string(),
    "uuid": pa.string(),
}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, decimal.Decimal):
        return "decimal" if value.is_finite() else "other"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes | bytearray | memoryview):
        return "bytes"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time" if value.tzinfo is None else "other"
    if isinstance(value, dt.timedelta):
        return "timedelta"
    if isinstance(value, dict | list):
        return "json"
    if isinstance(value, uuid.UUID):
        return "uuid"
    return "other"


def _scale(value: decimal.Decimal) -> int:
    return max(0, -int(value.as_tuple().exponent))


def _integer_digits(value: decimal.Decimal) -> int:
    sign_digits_exponent = value.as_tuple()
    return max(0, len(sign_digits_exponent.digits) + int(sign_digits_exponent.exponent))


def _plain(values: list[Any], wanted: pa.DataType) -> list[Any]:
    """Values Arrow takes as they are, except the few that need a nudge."""
    if pa.types.is_timestamp(wanted) and wanted.tz is not None:
        return [None if v is None else v.astimezone(dt.UTC) for v in values]
    if pa.types.is_binary(wanted):
        return [None if v is None else bytes(v) for v in values]
    if pa.types.is_string(wanted):
        return [None if v is None else _text(v) for v in values]
    return values


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)
