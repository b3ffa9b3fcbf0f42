"""Masking policies run inside the query: redact, keyed hash, generalise (a date to its
month, an address to its hundred block) and drop; which policy a column gets."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pytest

from civicstat.governance import masking
from civicstat.governance.actors import Actor, Role
from civicstat.governance.columns import visible_columns
from civicstat.governance.masking import DEFAULT_MASKING, KeyInQuery, hash_key, keyed_hash
from civicstat.spec.models import Classification, Column, Masking, PiiKind, Source
from civicstat.warehouse.engine import Warehouse

KEY = hash_key(b"a-test-secret-key-that-is-long-enough-to-count")


def run(
    column: Column, how: Masking, values: list[Any], key: KeyInQuery | None = None
) -> list[Any]:
    con = ibis.duckdb.connect()
    table = ibis.memtable(
        {"v": values}, schema={"v": "string" if column.type == "string" else column.type}
    )
    expr = table.select(v=masking.masked(table.v, column, how, key))
    return list(con.to_pyarrow(expr).column("v").to_pylist())


def col(name: str = "v", type_: str = "string", **more: Any) -> Column:
    return Column.model_validate({"name": name, "type": type_, **more})


def test_redact_shows_a_constant_whatever_the_value() -> None:
    assert run(col(pii="name"), Masking.REDACT, ["Ada Lovelace", None]) == [
        masking.REDACTED,
        masking.REDACTED,
    ]


def test_the_engine_hashes_exactly_as_the_python_twin_with_the_key() -> None:
    values = ["ID-1", "ID-2", "ID-1", None]

    hashed = run(col(pii="identifier"), Masking.HASH, values, KeyInQuery.literals(KEY))

    assert hashed == [
        keyed_hash(KEY, "ID-1"),
        keyed_hash(KEY, "ID-2"),
        keyed_hash(KEY, "ID-1"),
        None,
    ]
    assert hashed[0] == hashed[2] != hashed[1]  # equal values stay joinable
    assert len(hashed[0]) == masking.HASH_LENGTH


def test_a_different_secret_key_gives_different_hashes() -> None:
    other = hash_key(b"another-secret-key-entirely-different-0123456789")

    assert keyed_hash(KEY, "ID-1") != keyed_hash(other, "ID-1")


def test_the_hash_key_is_read_from_an_engine_variable_not_from_the_query_text(
    tmp_path: Any,
) -> None:
    warehouse = Warehouse(None, tmp_path)
    assert warehouse.set_variables(
        {masking.INNER_VARIABLE: KEY.inner, masking.OUTER_VARIABLE: KEY.outer}
    )
    table = ibis.memtable({"v": ["ID-1"]})
    expr = table.select(
        v=masking.masked(table.v, col(pii="identifier"), Masking.HASH, KeyInQuery.variables())
    )

    sql = ibis.to_sql(expr, dialect="duckdb")

    assert KEY.inner not in sql
    assert KEY.outer not in sql
    assert warehouse.execute(expr).column("v").to_pylist() == [keyed_hash(KEY, "ID-1")]
    warehouse.close()


@pytest.mark.parametrize("type_", ["date", "timestamp"])
def test_generalise_turns_a_date_into_its_month(type_: str) -> None:
    value: dt.date = dt.date(1957, 3, 14)
    if type_ == "timestamp":
        value = dt.datetime(1957, 3, 14, 22, 5)

    assert run(col(type_=type_, pii="date_of_birth"), Masking.GENERALISE, [value, None]) == [
        dt.date(1957, 3, 1),
        None,
    ]


@pytest.mark.parametrize(
    ("address", "block"),
    [
        ("1234 Main St", "1200 block of Main St"),
        ("1299 Main St", "1200 block of Main St"),
        ("56 Elm Ave", "0 block of Elm Ave"),
        ("  7-B Oak Rd", "0 block of Oak Rd"),
        ("1234 Main St, Apt 5", "1200 block of Main St"),
        ("1234 Main St Apt 5", "1200 block of Main St"),
        ("1234 Main St #5", "1200 block of Main St"),
        ("1234 Main St, Springfield, IL 62704", "1200 block of Main St"),
        ("1234B Martin Luther King Jr Blvd unit 3", "1200 block of Martin Luther King Jr Blvd"),
        ("Main St & 5th Ave", None),  # no house number: nothing to generalise to
        ("Ada Lovelace", None),
        ("", None),
        (None, None),
    ],
)
def test_generalise_turns_an_address_into_its_hundred_block(
    address: str | None, block: str | None
) -> None:
    assert run(col(pii="address"), Masking.GENERALISE, [address]) == [block]


def test_drop_is_not_an_expression() -> None:
    with pytest.raises(ValueError, match="drop the column"):
        run(col(pii="free_text"), Masking.DROP, ["x"])


def test_a_column_chooses_its_own_masking_over_the_workspace_and_the_default() -> None:
    by_kind = {PiiKind.NAME: Masking.HASH}

    assert masking.policy(col(pii="name", masking="drop"), by_kind) is Masking.DROP
    assert masking.policy(col(pii="name"), by_kind) is Masking.HASH
    assert masking.policy(col(pii="name"), {}) is DEFAULT_MASKING[PiiKind.NAME]
    assert masking.policy(col(), by_kind) is None


def test_generalise_that_cannot_apply_to_a_column_falls_back_to_redact() -> None:
    # A date of birth kept as text: the workspace asks to generalise, which needs a date.
    by_kind = {PiiKind.DATE_OF_BIRTH: Masking.GENERALISE}

    assert masking.policy(col(pii="date_of_birth"), by_kind) is Masking.REDACT


def test_a_column_cannot_be_generalised_when_its_type_does_not_allow_it() -> None:
    with pytest.raises(ValueError, match="generalise"):
        col(pii="name", masking="generalise")
    with pytest.raises(ValueError, match="PII columns"):
        col(masking="redact")


def _source(**more: Any) -> Source:
    return Source.model_validate(
        {
            "id": "cases",
            "title": "Cases",
            "owner": "police",
            "classification": "internal",
            "columns": [
                {"name": "case_id", "type": "string"},
                {"name": "name", "type": "string", "pii": "name"},
                {"name": "notes", "type": "string", "pii": "free_text"},
                {"name": "secret", "type": "string", "classification": "confidential"},
            ],
            **more,
        }
    )


STORED = [
    {"name": "case_id", "type": "string"},
    {"name": "name", "type": "string"},
    {"name": "notes", "type": "string"},
    {"name": "secret", "type": "string"},
    {"name": "extra", "type": "string", "declared": "false"},
]


def _views(role: Role, *, mfa: bool = False, unmask: bool = False) -> dict[str, Masking | None]:
    actor = Actor("user", "u", role, "police", 1, mfa=mfa)
    return {v.name: v.masking for v in visible_columns(actor, _source(), STORED, {}, unmask=unmask)}


def test_an_analyst_reads_pii_masked_and_no_column_above_their_clearance() -> None:
    # notes (free text) is dropped by default; secret is confidential; extra is undeclared.
    assert _views(Role.ANALYST) == {"case_id": None, "name": Masking.REDACT}


def test_a_column_the_spec_does_not_declare_is_restricted() -> None:
    assert "extra" not in _views(Role.STEWARD)
    assert "extra" not in _views(Role.ADMIN)  # restricted needs the second factor
    assert _views(Role.ADMIN, mfa=True)["extra"] is None


def test_unmasking_reads_pii_in_clear_within_the_clearance_only() -> None:
    assert _views(Role.STEWARD, mfa=True, unmask=True) == {
        "case_id": None,
        "name": None,
        "notes": None,
        "secret": None,
    }


def test_the_classification_of_a_column_defaults_to_its_source() -> None:
    source = _source()
    actor = Actor("user", "u", Role.ANALYST, "police", 1)

    views = visible_columns(actor, source, STORED[:2], {})

    assert [v.classification for v in views] == [Classification.INTERNAL] * 2
