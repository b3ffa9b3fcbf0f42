"""The guards that keep ``audit_events`` append-only, as the database holds them: which are
missing, disabled or altered, and putting them back.

Migration 0003 made them; the database's owner can drop, disable or replace them, so they
are checked (``audit verify``) and restored (each start) from the definitions here, which
are the same as that migration's.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

__all__ = ["GUARDS", "missing", "restore"]

MESSAGE = "audit_events is append-only"
_FUNCTION = "civicstat_audit_append_only"

# SQLite keeps each trigger's text as written; it must be this text, word for word.
_SQLITE = {
    "audit_events_no_update": "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON "
    f"audit_events BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    "audit_events_no_delete": "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON "
    f"audit_events BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
}
_PG_FUNCTION_BODY = f"""
BEGIN
  RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
END
"""
_PG_FUNCTION = (
    f"CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS "
    f"$${_PG_FUNCTION_BODY}$$"
)
# PostgreSQL: each trigger by name, its pg_trigger.tgtype bits and its statement.
# tgtype: 1 row-level, 2 before, 8 delete, 16 update, 32 truncate.
_PG_TRIGGERS = {
    "audit_events_append_only": (
        1 | 2 | 8 | 16,
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()",
    ),
    "audit_events_no_truncate": (
        2 | 32,
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()",
    ),
}
GUARDS = {
    "sqlite": list(_SQLITE),
    "postgresql": [f"{_FUNCTION}()", *_PG_TRIGGERS],
}


def _words(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip()


def missing(connection: Connection) -> list[str]:
    """The guards that are not in place as CivicStat made them: dropped, disabled, or
    replaced by something else of the same name. Empty on another kind of database."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        rows = connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = 'audit_events'"
            )
        )
        found = {name: _words(sql) for name, sql in rows}
        return [name for name, sql in _SQLITE.items() if found.get(name) != _words(sql)]
    if dialect == "postgresql":
        return _missing_on_postgres(connection)
    return []


def _missing_on_postgres(connection: Connection) -> list[str]:
    body = connection.scalar(
        text(
            "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE p.proname = :name AND p.pronargs = 0 AND n.nspname = current_schema()"
        ),
        {"name": _FUNCTION},
    )
    gone = [] if _words(body) == _words(_PG_FUNCTION_BODY) else [f"{_FUNCTION}()"]
    rows = connection.execute(
        text(
            "SELECT t.tgname, t.tgtype, t.tgenabled, p.proname FROM pg_trigger t "
            "JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgrelid = to_regclass('audit_events') AND NOT t.tgisinternal"
        )
    )
    # 'O' fires in normal sessions, 'A' always; 'D' (disabled) and 'R' (replica only) do not.
    live = {name: (kind, proc) for name, kind, enabled, proc in rows if enabled in ("O", "A")}
    for name, (kind, _) in _PG_TRIGGERS.items():
        if live.get(name) != (kind, _FUNCTION):
            gone.append(name)
    return gone


def restore(connection: Connection, names: list[str]) -> None:
    """Put back the guards named (as ``missing`` names them), replacing what stands in
    their place. Needs the rights of the table's owner."""
    dialect = connection.dialect.name
    for name in names:
        if dialect == "sqlite" and name in _SQLITE:
            connection.execute(text(f'DROP TRIGGER IF EXISTS "{name}"'))
            connection.execute(text(_SQLITE[name]))
        elif dialect == "postgresql" and name == f"{_FUNCTION}()":
            connection.execute(text(_PG_FUNCTION))
        elif dialect == "postgresql" and name in _PG_TRIGGERS:
            connection.execute(text(f'DROP TRIGGER IF EXISTS "{name}" ON audit_events'))
            connection.execute(text(_PG_TRIGGERS[name][1]))
        else:
            raise ValueError(f"no append-only guard {name!r} on {dialect}")
