"""Masking of PII columns, applied inside the query: what someone who does not unmask reads.

A column's policy is its own ``masking``, else governance.yaml's for its PII kind, else the
default below. Every policy is an Ibis expression, so the engine never hands the clear
value to Python for a masked read, and filtering or sorting happens on what the reader sees.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from civicstat.spec.models import Column, Masking, PiiKind

DEFAULT_MASKING: dict[PiiKind, Masking] = {
    PiiKind.NAME: Masking.REDACT,
    PiiKind.ADDRESS: Masking.GENERALISE,
    PiiKind.PHONE: Masking.REDACT,
    PiiKind.EMAIL: Masking.REDACT,
    PiiKind.DATE_OF_BIRTH: Masking.GENERALISE,
    PiiKind.IDENTIFIER: Masking.HASH,
    PiiKind.FREE_TEXT: Masking.DROP,
    PiiKind.OTHER: Masking.REDACT,
}
REDACTED = "[redacted]"
HASH_LENGTH = 16  # hex characters: 64 bits, ample to keep a city's distinct values apart
# Names of the engine variables holding the hash keys, so that no query text carries them.
INNER_VARIABLE = "civicstat_mask_inner"
OUTER_VARIABLE = "civicstat_mask_outer"

# "1234 Main St", "12-B Elm Ave, Apt 3": the house number, then the street.
_HOUSE_NUMBER = r"^\s*(\d{1,7})[A-Za-z]?(?:[-/][0-9A-Za-z]+)?\s+(\S.*)$"
# What follows the street and could single out a home: a unit, a city, a postcode.
_AFTER_STREET = r"(?i)\s*(?:[,#].*|\b(?:apt|apartment|unit|suite|ste|fl|floor|rm|room)\b.*)$"


def policy(column: Column, by_kind: Mapping[PiiKind, Masking]) -> Masking | None:
    """How ``column`` is masked (None: it holds no PII). A policy that cannot apply to the
    column's type (generalising a text that is not an address) falls back to redact."""
    if column.pii is None:
        return None
    chosen = column.masking or by_kind.get(column.pii) or DEFAULT_MASKING[column.pii]
    if chosen is Masking.GENERALISE and not column.can_generalise:
        return Masking.REDACT
    return chosen


@dataclass(frozen=True, slots=True, repr=False)
class HashKey:
    """The two keys of the masking hash, derived from the workspace's secret key."""

    inner: str
    outer: str


def hash_key(secret: bytes) -> HashKey:
    def derive(purpose: str) -> str:
        return hmac.new(secret, f"civicstat:{purpose}".encode(), hashlib.sha256).hexdigest()

    return HashKey(derive("masking-inner"), derive("masking-outer"))


def keyed_hash(key: HashKey, value: str) -> str:
    """What ``hash`` masking shows for ``value``, computed in Python (the engine computes the
    same in SQL): SHA-256 nested as in HMAC, so the value cannot be recovered by hashing
    guesses without the key."""
    inner = hashlib.sha256((key.inner + value).encode()).hexdigest()
    return hashlib.sha256((key.outer + inner).encode()).hexdigest()[:HASH_LENGTH]


@ibis.udf.scalar.builtin(name="getvariable")  # type: ignore[untyped-decorator]
def _variable(variable: str) -> str:  # type: ignore[empty-body]
    """DuckDB's ``getvariable``: a value set on the connection with ``SET VARIABLE``."""


@dataclass(frozen=True, slots=True)
class KeyInQuery:
    """The hash keys as the query reads them: engine variables, or literals on an engine
    without variables."""

    inner: ir.StringValue
    outer: ir.StringValue

    @classmethod
    def variables(cls) -> KeyInQuery:
        return cls(_variable(INNER_VARIABLE), _variable(OUTER_VARIABLE))

    @classmethod
    def literals(cls, key: HashKey) -> KeyInQuery:
        return cls(ibis.literal(key.inner), ibis.literal(key.outer))


def masked(value: ir.Value, column: Column, how: Masking, key: KeyInQuery | None) -> ir.Value:
    """``value`` (the column) as a reader without unmask sees it; DROP is the caller's to do."""
    if how is Masking.REDACT:
        return ibis.literal(REDACTED, type="string")
    if how is Masking.HASH:
        if key is None:
            raise ValueError("hash masking needs the key")
        text = value.cast("string")
        inner = (key.inner + text).hexdigest("sha256")
        return (key.outer + inner).hexdigest("sha256").substr(0, HASH_LENGTH)
    if how is Masking.GENERALISE:
        if column.type in ("date", "timestamp"):
            month = value.truncate("M")
            return month.date() if column.type == "timestamp" else month
        return _block(value.cast("string"))
    raise ValueError(f"{how} is not an expression: drop the column instead")


def _block(address: ir.StringValue) -> ir.StringValue:
    """An address as its hundred block: "1234 Main St, Apt 5" → "1200 block of Main St";
    without a house number, NULL."""
    number = address.re_extract(_HOUSE_NUMBER, 1)
    street = address.re_extract(_HOUSE_NUMBER, 2).re_replace(_AFTER_STREET, "").strip()
    hundred = (number.cast("int64") // 100 * 100).cast("string")
    blank = (number == "") | (street == "")
    return ibis.ifelse(blank, ibis.null("string"), hundred + " block of " + street)
