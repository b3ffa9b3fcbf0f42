"""The ``sql`` connector against the real PostgreSQL and MariaDB servers on this machine:
rows and types land in Parquet exactly as the database returned them, ``:cursor`` pulls
only newer rows, and a spec can neither write nor leak the URL's password."""

from __future__ import annotations

import datetime as dt
import io
import os
import time
import uuid
from collections.abc import Generator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from civicstat.connectors import registry
from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload
from civicstat.connectors.sql import SqlConnector, SqlOptions, check_query

ROWS = 5_000
BASE = dt.datetime(2024, 1, 1, 8, 0, 0)
MARIADB_URL = os.environ.get("CIVICSTAT_TEST_MARIADB_URL", "mariadb://root@127.0.0.1:3306/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """As in tests/conftest.py: skip on a user's machine, fail in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this may not be skipped)")
    pytest.skip(reason)


def row(i: int) -> dict[str, Any]:
    """Row ``i`` of the test table: every type, NULLs every 7th row, awkward text."""
    empty = i % 7 == 0
    return {
        "id": i,
        "amount": None if empty else Decimal(i * 37 % 100_000 - 20_000) / 100,
        "ratio": None if empty else i / 8,
        "label": None if empty else f'O\'Brien "{i}" — naïve ☃ 東京 😀 back\\slash',
        "day": None if empty else dt.date(2020, 1, 1) + dt.timedelta(days=i % 1_500),
        "updated_at": BASE + dt.timedelta(minutes=i),
        "flag": None if empty else i % 2 == 0,
    }


EXPECTED = [row(i) for i in range(1, ROWS + 1)]


def make_table(engine: Engine, name: str, ddl: str) -> None:
    with engine.begin() as connection:
        connection.execute(text(ddl.format(name=name)))
        connection.execute(
            text(
                f"INSERT INTO {name} (id, amount, ratio, label, day, updated_at, flag) "  # noqa: S608
                "VALUES (:id, :amount, :ratio, :label, :day, :updated_at, :flag)"
            ),
            EXPECTED,
        )


@pytest.fixture(scope="module")
def pg_table(postgres_server: str) -> Iterator[tuple[str, str]]:
    """(URL, table) of a uniquely named table in db ``test``, dropped afterwards."""
    name = f"civicstat_sql_{uuid.uuid4().hex[:10]}"
    engine = create_engine(postgres_server)
    make_table(
        engine,
        name,
        "CREATE TABLE {name} (id integer PRIMARY KEY, amount numeric(12, 2), "
        "ratio double precision, label text, day date, updated_at timestamp, flag boolean)",
    )
    try:
        yield postgres_server, name
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


@pytest.fixture(scope="module")
def mariadb_url() -> str:
    url = make_url(MARIADB_URL).set(drivername="mariadb+pymysql")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        unavailable(f"MariaDB not reachable at {MARIADB_URL}: {error.__class__.__name__}")
    finally:
        engine.dispose()
    return MARIADB_URL


@pytest.fixture(scope="module")
def maria_table(mariadb_url: str) -> Iterator[tuple[str, str]]:
    name = f"civicstat_sql_{uuid.uuid4().hex[:10]}"
    engine = create_engine(
        make_url(mariadb_url)
        .set(drivername="mariadb+pymysql")
        .update_query_dict({"charset": "utf8mb4"})
    )
    make_table(
        engine,
        name,
        "CREATE TABLE {name} (id int PRIMARY KEY, amount decimal(12, 2), ratio double, "
        "label text, day date, updated_at datetime, flag boolean) DEFAULT CHARSET=utf8mb4",
    )
    try:
        yield mariadb_url, name
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
        engine.dispose()


def sql(
    url: str | None, *, mark: str | None = None, env_name: str = "CITY_DB_URL", **options: Any
) -> SqlConnector:
    env = {} if url is None else {env_name: url}
    context = ConnectorContext(
        Path("."),
        source_id="finance",
        cursor="updated_at",
        high_water_mark=mark,
        env=env,
        allow=("127.0.0.1",),  # the test servers run on loopback, as a city's ERP is internal
    )
    return SqlConnector(SqlOptions.model_validate({"url_env": env_name, **options}), context)


def tables(connector: SqlConnector) -> tuple[list[Payload], list[pa.Table]]:
    payloads = list(connector.fetch())
    read = []
    for payload in payloads:
        with payload.open() as stream:
            read.append(pq.read_table(io.BytesIO(stream.read())))
    return payloads, read


SELECT_ALL = "SELECT id, amount, ratio, label, day, updated_at, flag FROM {t} ORDER BY id"


def test_sql_is_registered_through_the_entry_point() -> None:
    found: object = registry.get("sql")
    assert found is SqlConnector


# --- PostgreSQL ----------------------------------------------------------------------------


def test_postgres_rows_and_types_round_trip_into_parquet_chunks(
    pg_table: tuple[str, str],
) -> None:
    url, table = pg_table
    payloads, parts = tables(sql(url, query=SELECT_ALL.format(t=table), chunk_rows=2_000))
    assert [p.name for p in payloads] == [f"finance-{i:05d}.parquet" for i in range(3)]
    assert {(p.format, p.content_type) for p in payloads} == {
        ("parquet", "application/vnd.apache.parquet")
    }
    assert [t.num_rows for t in parts] == [2_000, 2_000, 1_000], "one payload per fetched chunk"
    schema = parts[0].schema
    assert [str(schema.field(n).type) for n in schema.names] == [
        "int64", "decimal128(38, 2)", "double", "string", "date32[day]", "timestamp[us]", "bool"
    ]  # fmt: skip
    assert all(t.schema == schema for t in parts), "every chunk has the same types"
    assert pa.concat_tables(parts).to_pylist() == EXPECTED


def test_postgres_timestamptz_lands_in_utc_and_json_as_text(postgres_server: str) -> None:
    query = (
        "SELECT TIMESTAMPTZ '2024-03-10 12:00:00+05' AS at, "
        """'{"a": [1, 2]}'::jsonb AS doc, NULL::integer AS nothing, 'NaN'::numeric AS odd"""
    )
    [table] = tables(sql(postgres_server, query=query))[1]
    assert table.schema.field("at").type == pa.timestamp("us", tz="UTC")
    assert table.column("at")[0].as_py() == dt.datetime(2024, 3, 10, 7, tzinfo=dt.UTC)
    assert table.column("doc").to_pylist() == ['{"a": [1, 2]}']
    assert table.column("nothing").to_pylist() == [None]
    assert table.column("odd").to_pylist() == ["NaN"], "a value Arrow cannot type stays text"


def test_postgres_cursor_returns_only_rows_newer_than_the_high_water_mark(
    pg_table: tuple[str, str],
) -> None:
    url, table = pg_table
    query = f"SELECT id, updated_at FROM {table} WHERE updated_at > :cursor ORDER BY id"  # noqa: S608
    mark = (BASE + dt.timedelta(minutes=4_990)).isoformat(sep=" ")
    [newer] = tables(sql(url, query=query, mark=mark))[1]
    assert newer.column("id").to_pylist() == list(range(4_991, 5_001))
    first = sql(url, query=query, initial_cursor="2024-01-04 00:00:00")
    assert sum(t.num_rows for t in tables(first)[1]) == ROWS - (3 * 24 - 8) * 60
    everything = (
        f"SELECT id FROM {table} WHERE CAST(:cursor AS timestamp) IS NULL "  # noqa: S608
        "OR updated_at > CAST(:cursor AS timestamp)"
    )
    assert sum(t.num_rows for t in tables(sql(url, query=everything))[1]) == ROWS


def test_postgres_cursor_is_bound_never_spliced_into_the_sql(pg_table: tuple[str, str]) -> None:
    url, table = pg_table
    query = f"SELECT id FROM {table} WHERE label > :cursor"  # noqa: S608
    evil = f"x' OR 1=1; DROP TABLE {table}; --"
    [got] = tables(sql(url, query=query, mark=evil))[1]
    assert got.num_rows < ROWS, "the mark compared as one text value"
    [still] = tables(sql(url, query=f"SELECT count(*) AS n FROM {table}"))[1]  # noqa: S608
    assert still.column("n").to_pylist() == [ROWS]


def test_postgres_empty_result_is_one_empty_payload_with_the_columns(
    pg_table: tuple[str, str],
) -> None:
    url, table = pg_table
    query = f"SELECT id, label FROM {table} WHERE id < 0"  # noqa: S608
    payloads, [empty] = tables(sql(url, query=query))
    assert len(payloads) == 1
    assert (empty.num_rows, empty.column_names) == (0, ["id", "label"])


def test_postgres_same_query_twice_gives_identical_payload_bytes(
    pg_table: tuple[str, str],
) -> None:
    url, table = pg_table
    query = SELECT_ALL.format(t=table)

    def digests() -> list[bytes]:
        return [p.open().read() for p in sql(url, query=query, chunk_rows=2_500).fetch()]

    assert digests() == digests(), "re-running an unchanged pull lands the same files"


def test_postgres_query_error_carries_the_database_message_not_the_password(
    postgres_server: str,
) -> None:
    url = make_url(postgres_server).set(password="s3cret-Pa55").render_as_string(False)
    with pytest.raises(ConnectorError) as caught:
        list(sql(url, query="SELECT * FROM no_such_table_here").fetch())
    message = str(caught.value)
    assert 'relation "no_such_table_here" does not exist' in message
    assert "s3cret-Pa55" not in message
    assert "***" in message, "says where, with the password masked"


def test_postgres_session_is_read_only_even_for_a_select(postgres_server: str) -> None:
    name = f"civicstat_seq_{uuid.uuid4().hex[:8]}"
    engine = create_engine(postgres_server)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SEQUENCE {name}"))
    try:
        with pytest.raises(ConnectorError, match="read-only transaction"):
            list(sql(postgres_server, query=f"SELECT nextval('{name}')").fetch())
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SEQUENCE {name}"))
        engine.dispose()


def test_postgres_statement_timeout(postgres_server: str) -> None:
    with pytest.raises(ConnectorError, match="statement timeout"):
        list(sql(postgres_server, query="SELECT pg_sleep(5)", timeout=1).fetch())


# --- MariaDB -------------------------------------------------------------------------------


def test_mariadb_rows_and_types_round_trip_into_parquet_chunks(
    maria_table: tuple[str, str],
) -> None:
    url, table = maria_table
    _, parts = tables(sql(url, query=SELECT_ALL.format(t=table), chunk_rows=1_500))
    assert [t.num_rows for t in parts] == [1_500, 1_500, 1_500, 500]
    schema = parts[0].schema
    # MariaDB's BOOLEAN is TINYINT(1): the driver returns 0/1, and so does the payload.
    assert [str(schema.field(n).type) for n in schema.names] == [
        "int64", "decimal128(38, 2)", "double", "string", "date32[day]", "timestamp[us]", "int64"
    ]  # fmt: skip
    got = pa.concat_tables(parts).to_pylist()
    expected = [{**r, "flag": None if r["flag"] is None else int(r["flag"])} for r in EXPECTED]
    assert got == expected


def test_mariadb_cursor_returns_only_newer_rows_and_null_means_all(
    maria_table: tuple[str, str],
) -> None:
    url, table = maria_table
    query = f"SELECT id FROM {table} WHERE :cursor IS NULL OR updated_at > :cursor ORDER BY id"  # noqa: S608
    mark = (BASE + dt.timedelta(minutes=4_995)).isoformat(sep=" ")
    [newer] = tables(sql(url, query=query, mark=mark))[1]
    assert newer.column("id").to_pylist() == list(range(4_996, 5_001))
    assert sum(t.num_rows for t in tables(sql(url, query=query))[1]) == ROWS


def test_mariadb_mysql_scheme_means_pymysql_too(maria_table: tuple[str, str]) -> None:
    url, table = maria_table
    mysql = make_url(url).set(drivername="mysql").render_as_string(False)
    [got] = tables(sql(mysql, query=f"SELECT count(*) AS n FROM {table}"))[1]  # noqa: S608
    assert got.column("n").to_pylist() == [ROWS]


def test_mariadb_query_error_carries_the_database_message(maria_table: tuple[str, str]) -> None:
    url, _ = maria_table
    with pytest.raises(ConnectorError, match=r"Table 'test\.no_such_table' doesn't exist"):
        list(sql(url, query="SELECT * FROM no_such_table").fetch())


def test_mariadb_session_is_read_only_even_for_a_select(mariadb_url: str) -> None:
    name = f"civicstat_seq_{uuid.uuid4().hex[:8]}"
    engine = create_engine(make_url(mariadb_url).set(drivername="mariadb+pymysql"))
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SEQUENCE {name}"))
    try:
        with pytest.raises(ConnectorError, match="READ ONLY transaction"):
            list(sql(mariadb_url, query=f"SELECT NEXTVAL({name}) AS n").fetch())
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SEQUENCE {name}"))
        engine.dispose()


# --- what a spec may not do, and clear errors ----------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "DROP TABLE budget",
        "DELETE FROM budget",
        "INSERT INTO budget VALUES (1)",
        "UPDATE budget SET amount = 0",
        "CREATE TABLE copy AS SELECT * FROM budget",
        "TRUNCATE budget",
        "SELECT 1; DROP TABLE budget",
        "WITH gone AS (DELETE FROM budget RETURNING *) SELECT * FROM gone",
        "SELECT * INTO budget_copy FROM budget",
        "SELECT * FROM budget FOR UPDATE",
        "GRANT SELECT ON budget TO public",
        "CALL refresh_budget()",
    ],
)
def test_a_query_that_is_not_a_single_select_is_refused(query: str) -> None:
    with pytest.raises(ValidationError, match="must be a single SELECT"):
        SqlOptions(url_env="CITY_DB_URL", query=query)
    with pytest.raises(ConnectorError, match="must be a single SELECT"):
        check_query(query, dialect="postgres", strict=True)


def test_ddl_is_refused_before_the_database_is_reached(pg_table: tuple[str, str]) -> None:
    url, table = pg_table
    connector = sql(url, query="SELECT 1")
    object.__setattr__(connector.options, "query", f"DROP TABLE {table}")  # past validation
    with pytest.raises(ConnectorError, match="DROP statement"):
        list(connector.fetch())
    [still] = tables(sql(url, query=f"SELECT count(*) AS n FROM {table}"))[1]  # noqa: S608
    assert still.column("n").to_pylist() == [ROWS]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT a::date FROM t",
        "WITH x AS (SELECT 1 AS a) SELECT a FROM x",
        "SELECT 1 UNION SELECT 2",
        "SELECT * FROM t WHERE updated_at > :cursor",
    ],
)
def test_reading_queries_pass(query: str) -> None:
    assert SqlOptions(url_env="CITY_DB_URL", query=query).query == query


def test_url_env_is_the_name_of_a_variable_never_the_url() -> None:
    with pytest.raises(ValidationError, match="url_env"):
        SqlOptions(url_env="postgresql://user:pw@db/city", query="SELECT 1")


def test_missing_environment_variable_is_named() -> None:
    with pytest.raises(ConnectorError, match="environment variable CITY_DB_URL is not set"):
        list(sql(None, query="SELECT 1").fetch())


def test_a_value_that_is_not_a_url_is_not_echoed() -> None:
    with pytest.raises(ConnectorError, match="does not hold a valid SQLAlchemy URL") as caught:
        list(sql("not a url with pw=hunter2", query="SELECT 1").fetch())
    assert "hunter2" not in str(caught.value)


def test_unknown_driver_and_unreachable_server_are_clear(postgres_server: str) -> None:
    with pytest.raises(ConnectorError, match="cannot use this URL"):
        list(sql("nosuchdb://u:pw@host/db", query="SELECT 1").fetch())
    closed = make_url(postgres_server).set(port=1, password="pw-XYZ").render_as_string(False)
    with pytest.raises(ConnectorError, match="Connection refused") as caught:
        list(sql(closed, query="SELECT 1", timeout=5).fetch())
    assert "pw-XYZ" not in str(caught.value)


def test_parameters_other_than_cursor_are_refused(postgres_server: str) -> None:
    with pytest.raises(ConnectorError, match=r"parameter\(s\) :dept; only :cursor is bound"):
        list(sql(postgres_server, query="SELECT 1 WHERE 'x' = :dept").fetch())


def test_duplicate_column_names_ask_for_an_alias(postgres_server: str) -> None:
    with pytest.raises(ConnectorError, match="returns column 'a' twice"):
        list(sql(postgres_server, query="SELECT 1 AS a, 2 AS a").fetch())


def test_postgres_rows_stream_a_chunk_at_a_time_never_all_at_once(postgres_server: str) -> None:
    """200 million rows would take minutes and gigabytes if fetched whole."""
    query = (  # a join streams; a lone generate_series would be materialised first
        "SELECT (a.g - 1) * 10000 + b.g AS g "
        "FROM generate_series(1, 20000) AS a(g) CROSS JOIN generate_series(1, 10000) AS b(g)"
    )
    stream = cast("Generator[Payload]", sql(postgres_server, query=query, chunk_rows=1_000).fetch())
    started = time.monotonic()
    first = next(stream)
    stream.close()
    assert time.monotonic() - started < 10
    assert len(set(pq.read_table(first.open()).column("g").to_pylist())) == 1_000


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT " + "(" * 3000 + "1" + ")" * 3000, "nested too deeply to be checked"),
        ("SELECT {:!!`}", "cannot be checked as one SELECT"),  # SQLGlot's own AttributeError
    ],
)
def test_a_query_the_checker_cannot_follow_never_runs(query: str, message: str) -> None:
    with pytest.raises(ConnectorError, match=message):
        check_query(query, dialect="postgres", strict=True)
