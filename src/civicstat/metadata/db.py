"""Engine and sessions for the metadata store, and bringing its schema up to date."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from civicstat import private_files


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here, the driver CivicStat ships with."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        _private_database_file(url)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _private_database_file(url: str) -> None:
    """Create a SQLite database file as the server user's alone (600) before SQLite does:
    SQLite gives its write-ahead log and shared memory files the database file's mode, so
    they are private too. A looser file left by an older version is tightened."""
    parsed = make_url(url)
    name = parsed.database or ""
    if not name or name == ":memory:" or name.startswith("file:") or parsed.query.get("uri"):
        return
    path = Path(name)
    if path.parent.is_dir():
        private_files.touch(path)
        private_files.restrict_all(private_files.sqlite_files(path))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the web server) run while a writer (an ingest) commits;
    # synchronous=FULL makes a commit durable before it returns.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # SQLAlchemy emits BEGIN itself (below), so a write transaction can take its lock up front.
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Any) -> None:
    # A write transaction that starts as a reader fails at once (SQLITE_BUSY) if another
    # process wrote meanwhile; BEGIN IMMEDIATE waits for the lock instead.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("civicstat.metadata") / "migrations"))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe when another process does it too."""
    if current_revision(engine) == head_revision(engine):
        return
    try:
        command.upgrade(alembic_config(engine), "head")
    except (OperationalError, ProgrammingError):
        # Another process may have raced us to the same migration; it is fine if it won.
        if current_revision(engine) != head_revision(engine):
            raise


def serialise(session: Session, name: str) -> None:
    """Hold the lock called ``name`` until the session's transaction ends, so that work
    which reads then writes (the audit chain's head, a sign-in throttle's count) is done by
    one transaction at a time, across processes. PostgreSQL: an advisory transaction lock;
    SQLite: write transactions (``Database.write``) are one at a time already."""
    if session.get_bind().dialect.name != "postgresql":
        return
    number = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:number)"), {"number": number})


class Database:
    """The metadata store of one workspace: an engine and a session factory.

    ``audit_key`` is the key of the audit log's MACs (``governance.audit``); it travels with
    every session (``session.info``), so whatever records an event has it at hand, and it
    is never stored in the database.
    """

    def __init__(self, url: str, *, audit_key: bytes | None = None) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        info = {"audit_key": audit_key} if audit_key is not None else {}
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, info=info)
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._write_sessions = sessionmaker(writer, expire_on_commit=False, info=info)

    def migrate(self) -> None:
        migrate(self.engine)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A read-mostly unit of work: committed when the block ends, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that writes: it holds the write lock from its first statement."""
        with self._write_sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
