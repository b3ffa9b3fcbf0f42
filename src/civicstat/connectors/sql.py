"""The ``sql`` connector: one SELECT against any database SQLAlchemy reaches.

The URL (with its password) lives in an environment variable the spec names, never in
the spec. Rows stream through a server-side cursor, ``chunk_rows`` at a time, and each
chunk becomes one Parquet payload, so the lake keeps exactly the rows the database
returned, with their types. An incremental source binds its high-water mark to
``:cursor`` as a parameter. A spec may only read: the query must be one SELECT (or WITH …
SELECT), checked with sqlglot, and the session is read-only where the database allows.

What a source may reach is bounded as for every connector: a database server by host over
TCP, its host passing the SSRF guard (``network.allow`` for an internal one) and the
connection made to the address checked; a SQLite file only where a file source could read
it; never a local socket; and never a CivicStat metadata store, whichever URL leads there.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from pydantic import Field, field_validator
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlglot import exp

from civicstat.connectors._arrow import ColumnTypes, to_table
from civicstat.connectors._guard import Guard
from civicstat.connectors.base import ConnectorContext, ConnectorError, Payload
from civicstat.excerpt import excerpt
from civicstat.metadata.db import normalise_url
from civicstat.spec.boundary import EnvName
from civicstat.spec.models import SpecModel

CONTENT_TYPE = "application/vnd.apache.parquet"
# SQLAlchemy backend names that sqlglot spells differently.
_SQLGLOT_NAMES = {"postgresql": "postgres", "mariadb": "mysql", "mssql": "tsql"}
# Anything that writes, changes the schema, locks or runs an opaque command.
_FORBIDDEN: tuple[type[exp.Expression], ...] = (
    exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter,
    exp.TruncateTable, exp.Into, exp.Copy, exp.Command, exp.Lock, exp.Set, exp.Use,
    exp.Transaction, exp.Commit, exp.Rollback, exp.Grant, exp.Revoke, exp.LoadData, exp.Pragma,
)  # fmt: skip
# How SQLAlchemy's text() finds bind parameters; ``\:`` escapes a literal colon.
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")

# Query options that would move the connection off the checked host: another host, a
# Unix socket, a service file naming one.
_HOST_OPTIONS = frozenset({"host", "hostaddr", "unix_socket", "service", "servicefile"})
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306, "mssql": 1433}
# Tables only a CivicStat metadata store has together: a database holding three of them in
# one schema is one, whatever it is called and however it is reached.
_OWN_TABLES = ("dataset_heads", "ingest_runs", "spec_objects", "audit_events")


class SqlOptions(SpecModel):
    """Options of the ``sql`` connector."""

    url_env: EnvName = Field(
        description="Environment variable holding the SQLAlchemy URL, e.g. CITY_ERP_URL"
    )
    query: str = Field(description="One SELECT (or WITH … SELECT); may use :cursor")
    initial_cursor: str | None = Field(
        None, description="Value bound to :cursor before any high-water mark exists; default NULL"
    )
    chunk_rows: int = Field(
        50_000, ge=1, le=5_000_000, description="Rows per fetch and per Parquet payload"
    )
    timeout: float = Field(
        300, gt=0, le=86_400, description="Seconds for connecting and for each statement or fetch"
    )

    @field_validator("query")
    @classmethod
    def _read_only(cls, query: str) -> str:
        try:
            check_query(query, dialect=None, strict=False)
        except ConnectorError as error:
            raise ValueError(str(error)) from None
        return query


class SqlConnector:
    """Streams one query's rows into Parquet payloads of ``chunk_rows`` rows each."""

    Options: ClassVar[type[SqlOptions]] = SqlOptions

    def __init__(self, options: SqlOptions, context: ConnectorContext) -> None:
        self.options = options
        self.context = context

    def fetch(self) -> Iterator[Payload]:
        url = self._url()
        where = url.render_as_string(hide_password=True)
        check_query(self.options.query, dialect=_sqlglot_dialect(url), strict=True)
        statement = text(self.options.query)
        params = self._params()
        try:
            url.get_dialect()
        except (ArgumentError, NoSuchModuleError, ImportError) as error:
            raise ConnectorError(f"{where}: cannot use this URL: {error}") from error
        url, connect_args = self._reachable(url, where)
        try:
            engine = _engine(url, self.options.timeout, connect_args)
        except (ArgumentError, NoSuchModuleError, ImportError) as error:
            raise ConnectorError(f"{where}: cannot use this URL: {error}") from error
        try:
            with engine.connect() as connection:
                _read_only_session(connection, self.options.timeout)
                _not_a_metadata_store(connection, where)
                result = connection.execution_options(yield_per=self.options.chunk_rows).execute(
                    statement, params
                )
                names = list(result.keys())
                _check_names(names)
                types: ColumnTypes = {}
                count = 0
                for rows in result.partitions(self.options.chunk_rows):
                    yield self._payload(count, to_table(names, rows, types))
                    count += 1
                if count == 0:
                    yield self._payload(0, to_table(names, [], types))
        except DBAPIError as error:
            raise ConnectorError(f"{where}: {_database_message(error, url)}") from error
        except SQLAlchemyError as error:
            raise ConnectorError(f"{where}: {_scrub(str(error), url)}") from error
        finally:
            engine.dispose()

    def read_options(self) -> dict[str, Any]:
        return {}

    def _url(self) -> URL:
        name = self.options.url_env
        raw = self.context.secret(name, "the database URL", "url_env")
        try:
            return _driver(make_url(normalise_url(raw)))
        except (ArgumentError, ValueError) as error:
            # The value may hold a password: say where it came from, never what it is.
            raise ConnectorError(
                f"environment variable {name} does not hold a valid SQLAlchemy URL"
            ) from error

    def _reachable(self, url: URL, where: str) -> tuple[URL, dict[str, Any]]:
        """The URL to connect with and extra driver arguments, once the SSRF guard (for a
        server) or the file boundary (for SQLite) has allowed it; refused otherwise."""
        backend = url.get_backend_name()
        if backend == "sqlite":
            name = url.database
            if "uri" in url.query:
                raise ConnectorError(f"{where}: SQLite URI file names (uri=…) are not supported")
            if name and name != ":memory:":
                # As SQLite opens it: a relative name from the current folder.
                refusal = self.context.reach.refusal(Path(name).absolute())
                if refusal is not None:
                    raise ConnectorError(f"{where}: the SQLite file {refusal}")
            return url, {}
        if not url.host or url.host.startswith("/"):
            raise ConnectorError(
                f"{where}: the URL names no host: a source reaches a database server over the "
                "network by host name or address (a local socket would bypass the SSRF guard)"
            )
        moved = sorted(set(url.query) & _HOST_OPTIONS)
        if moved:
            raise ConnectorError(
                f"{where}: the URL option {moved[0]!r} would connect elsewhere than its host; "
                "name the database server as the URL's host"
            )
        guard = Guard(self.context.allow)
        try:
            addresses = guard.addresses(url.host, url.port or _DEFAULT_PORTS.get(backend, 0))
        except httpx.ConnectError as error:
            raise ConnectorError(f"{where}: {error}") from error
        # Connect to the address the guard checked, so a changed DNS answer cannot redirect
        # the connection; libpq keeps the name for TLS and its password file.
        if backend == "postgresql":
            return url, {"hostaddr": addresses[0]}
        return url.set(host=addresses[0]), {}

    def _params(self) -> dict[str, Any]:
        """Bind ``:cursor``, and refuse any other parameter: nothing else would fill it."""
        names = set(_BIND.findall(self.options.query))
        unknown = sorted(names - {"cursor"})
        if unknown:
            raise ConnectorError(
                f"the query uses parameter(s) {', '.join(':' + n for n in unknown)}; only "
                r":cursor is bound (write \: for a literal colon)"
            )
        if "cursor" not in names:
            return {}
        mark = self.context.high_water_mark
        return {"cursor": mark if mark is not None else self.options.initial_cursor}

    def _payload(self, index: int, table: pa.Table) -> Payload:
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        data = buffer.getvalue()
        name = f"{self.context.source_id or 'sql'}-{index:05d}.parquet"
        return Payload(name, "parquet", CONTENT_TYPE, partial(io.BytesIO, data))


def check_query(query: str, *, dialect: str | None, strict: bool) -> None:
    """Refuse anything but one read-only SELECT, so a source spec cannot change data.

    With ``strict`` false (spec validation, dialect unknown yet), SQL that sqlglot cannot
    parse passes; it is checked again with the database's dialect before it runs.
    """
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except RecursionError:  # what cannot be checked never runs
        raise _refused("it is nested too deeply to be checked") from None
    except Exception as error:  # a SqlglotError, or SQLGlot's own bug on odd text
        if not strict:
            return
        raise ConnectorError(f"the query cannot be checked as one SELECT: {error}") from error
    if len(statements) != 1:
        raise _refused(f"it holds {len(statements)} statements")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise _refused(f"it is a {statement.key.upper()} statement")
    for node in statement.walk():
        if isinstance(node, _FORBIDDEN):
            raise _refused(f"it contains {node.key.upper()}")


def _sqlglot_dialect(url: URL) -> str | None:
    backend = url.get_backend_name()
    name = _SQLGLOT_NAMES.get(backend, backend)
    try:
        sqlglot.Dialect.get_or_raise(name)
    except ValueError:
        return None  # an unknown dialect: parse as generic SQL
    return name


def _refused(why: str) -> ConnectorError:
    return ConnectorError(
        f"the query must be a single SELECT (or WITH … SELECT) that only reads; {why}"
    )


def _driver(url: URL) -> URL:
    """``mysql://`` and ``mariadb://`` mean PyMySQL, the driver CivicStat ships with."""
    if url.drivername in ("mysql", "mariadb"):
        url = url.set(drivername=f"{url.drivername}+pymysql")
    if url.get_backend_name() in ("mysql", "mariadb") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def _engine(url: URL, timeout: float, extra: dict[str, Any]) -> Engine:
    backend = url.get_backend_name()
    seconds = max(1, round(timeout))
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args = {
            "connect_timeout": seconds,
            "options": f"-c default_transaction_read_only=on -c statement_timeout={seconds}s",
        }
    elif backend in ("mysql", "mariadb"):
        # Never LOAD DATA LOCAL: it lets the server ask this machine for any of its files.
        connect_args = {"connect_timeout": seconds, "read_timeout": seconds, "local_infile": False}
    elif backend == "sqlite":
        connect_args = {"timeout": timeout}
    return create_engine(url, poolclass=NullPool, connect_args=connect_args | extra)


def _not_a_metadata_store(connection: Connection, where: str) -> None:
    """Refuse a database that holds a CivicStat metadata store, this workspace's or
    another's: its users, password hashes, sessions and audit log are no source's data.
    Every schema the connection can see is looked at (MySQL reads across databases)."""
    backend = connection.dialect.name
    wanted = ", ".join(f"'{name}'" for name in _OWN_TABLES)
    rows: Sequence[Sequence[Any]]
    if backend == "sqlite":
        rows = connection.exec_driver_sql(
            f"SELECT 'main', name FROM sqlite_master WHERE type = 'table' AND name IN ({wanted})"  # noqa: S608 - fixed names
        ).all()
    elif backend in ("postgresql", "mysql", "mariadb", "mssql"):
        rows = connection.exec_driver_sql(
            "SELECT table_schema, table_name FROM information_schema.tables "  # noqa: S608 - fixed names
            f"WHERE lower(table_name) IN ({wanted})"
        ).all()
    else:
        names = inspect(connection).get_table_names()
        rows = [("default", name) for name in names if name.lower() in _OWN_TABLES]
    by_schema: dict[str, set[str]] = {}
    for schema, table in rows:
        by_schema.setdefault(str(schema), set()).add(str(table).lower())
    if any(len(tables) >= 3 for tables in by_schema.values()):
        raise ConnectorError(
            f"{where}: this database holds a CivicStat metadata store (users, sessions, "
            "audit log); no source may read it"
        )


def _read_only_session(connection: Connection, timeout: float) -> None:
    """Belt and braces after the sqlglot check: the database itself refuses writes."""
    backend = connection.dialect.name
    if backend in ("mysql", "mariadb"):
        connection.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
        if getattr(connection.dialect, "is_mariadb", False):
            connection.exec_driver_sql(f"SET SESSION max_statement_time = {float(timeout):f}")
        else:
            connection.exec_driver_sql(f"SET SESSION max_execution_time = {round(timeout * 1000)}")
    elif backend == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")


def _check_names(names: Sequence[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name.lower() in seen:
            raise ConnectorError(f"the query returns column {name!r} twice: give each an alias")
        seen.add(name.lower())


def _database_message(error: DBAPIError, url: URL) -> str:
    """The database's own words, without SQLAlchemy's SQL echo or the URL's password."""
    original = error.orig
    args: tuple[Any, ...] = tuple(getattr(original, "args", ()))
    if len(args) >= 2 and isinstance(args[0], int):  # PyMySQL: (code, message)
        message = f"{args[1]} (error {args[0]})"
    else:
        message = str(original) if original is not None else str(error)
    return _scrub(message.strip().splitlines()[0] if message.strip() else repr(original), url)


def _scrub(message: str, url: URL) -> str:
    """The database's words without the URL's password, bounded: they may quote values."""
    password = url.password
    if password:
        message = message.replace(str(password), "***")
    return excerpt(message, 300)
