"""The audit log on both metadata stores: the application's connection cannot change or
remove a record; a record changed behind its back (trigger dropped first) is named by
``civicstat audit verify``; a failed audit write fails what it describes; reading the log
is itself audited."""

from __future__ import annotations

import pytest
from governance_helpers import MakeUser
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner, Result

from civicstat.cli import app
from civicstat.governance import audit
from civicstat.governance.actors import Actor, Role
from civicstat.governance.audit import AuditUnavailable
from civicstat.metadata.db import Database
from civicstat.metadata.models import AuditEvent, User
from civicstat.services import audit as audit_service
from civicstat.services.accounts import users
from civicstat.services.context import Context
from civicstat.services.errors import PermissionDenied

KEY = b"a test key for the audit chain!!"  # what the secret key derives, in a real server
# What an attacker with the database owner's rights would do first.
DROP_APPEND_ONLY = {
    "sqlite": [
        "DROP TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_delete",
    ],
    "postgresql": ["DROP TRIGGER audit_events_append_only ON audit_events"],
}
# A store that refuses audit rows, as a full disk or a revoked grant would.
REFUSE_INSERTS = {
    "sqlite": [
        "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit store unavailable'; END $$",
        "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()",
    ],
}


def run_sql(db: Database, statements: dict[str, list[str]]) -> None:
    with db.engine.begin() as connection:
        for statement in statements[connection.dialect.name]:
            connection.execute(text(statement))


def recorded(db: Database, admin: Actor, count: int = 5) -> list[int]:
    with db.write() as session:
        return [
            audit.record(session, admin, "test:event", "thing", str(i)).id for i in range(count)
        ]


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url, audit_key=KEY)
    database.migrate()
    yield database  # type: ignore[misc]
    database.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(update(AuditEvent).values(outcome="denied"), id="update"),
        pytest.param(delete(AuditEvent), id="delete"),
    ],
)
def test_the_application_cannot_change_or_remove_audit_records(
    db: Database, admin: Actor, statement: object
) -> None:
    recorded(db, admin)

    with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
        session.execute(statement)  # type: ignore[call-overload]

    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 5
        assert audit.verify(session) is None


def test_postgres_refuses_truncating_the_audit_log(postgres_url: str, admin: Actor) -> None:
    db = Database(postgres_url, audit_key=KEY)
    db.migrate()
    recorded(db, admin)

    with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
        session.execute(text("TRUNCATE audit_events"))
    db.dispose()


def test_other_tables_stay_writable(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    name = make_user()
    users.set_role(example_ctx, admin, name, Role.ANALYST)
    users.disable(example_ctx, admin, name)

    with example_ctx.db.session() as session:
        user = session.scalars(select(User).where(User.username == name)).one()
        assert (user.role, user.is_active) == ("analyst", False)


def test_a_record_changed_behind_the_triggers_is_named(db: Database, admin: Actor) -> None:
    ids = recorded(db, admin)
    run_sql(db, DROP_APPEND_ONLY)

    with db.write() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(outcome="denied"))

    with db.session() as session:
        found = audit.check(session)
    assert (found.records, found.broken_id) == (5, ids[2])


def test_a_record_removed_behind_the_triggers_is_noticed_at_the_next_one(
    db: Database, admin: Actor
) -> None:
    ids = recorded(db, admin)
    run_sql(db, DROP_APPEND_ONLY)

    with db.write() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))

    with db.session() as session:
        assert audit.verify(session) == ids[2]


def test_a_failed_audit_write_fails_the_change_it_describes(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    name = make_user(Role.ANALYST)
    run_sql(example_ctx.db, REFUSE_INSERTS)

    with pytest.raises(AuditUnavailable):
        users.set_role(example_ctx, admin, name, Role.ADMIN)

    with example_ctx.db.session() as session:
        role = session.scalar(select(User.role).where(User.username == name))
    assert role == "analyst"


def test_reading_the_log_is_audited_first_and_needs_the_permission(
    example_ctx: Context, make_user: MakeUser, admin: Actor
) -> None:
    make_user()
    listed = audit_service.recent(example_ctx, admin, limit=2)

    assert [e.action for e in listed] == ["audit:read", "user:add"]
    assert listed[0].detail == {"how": "list", "limit": 2}
    steward = Actor("user", "steward", Role.STEWARD, user_id=1, mfa=True)
    with pytest.raises(PermissionDenied):
        audit_service.recent(example_ctx, steward)
    with pytest.raises(PermissionDenied):
        audit_service.verify(example_ctx, steward)
    refusals = audit_service.recent(example_ctx, admin, limit=3)[1:]
    assert [(e.actor, e.action, e.outcome) for e in refusals] == [
        ("user:steward", "audit:read", "denied")
    ] * 2


def test_when_the_log_cannot_be_written_it_is_not_shown_either(
    example_ctx: Context, admin: Actor
) -> None:
    run_sql(example_ctx.db, REFUSE_INSERTS)

    with pytest.raises(AuditUnavailable):
        audit_service.recent(example_ctx, admin)
    with pytest.raises(AuditUnavailable):
        audit_service.verify(example_ctx, admin)


# --- the command ------------------------------------------------------------------------


def civicstat(ctx: Context, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("CIVICSTAT_DATABASE_URL", ctx.db.url)
    return CliRunner().invoke(app, [*args, "-w", str(ctx.root)], catch_exceptions=False)


def test_audit_verify_prints_ok_with_the_count(
    example_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    with example_ctx.db.session() as session:
        before = session.scalar(select(func.count()).select_from(AuditEvent))

    result = civicstat(example_ctx, monkeypatch, "audit", "verify")

    assert result.exit_code == 0, result.output
    with example_ctx.db.session() as session:
        head = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert head is not None
    assert head.action == "audit:read"  # the verification itself is on the record
    assert result.stdout == (
        f"OK: {before + 1} audit records, chain intact; head {head.hash}\n"  # type: ignore[operator]
        # the head this first start noted in the workspace's heads file
        "matches 1 head exported earlier\n"
    )


def test_audit_verify_names_the_first_broken_record_and_exits_1(
    example_ctx: Context, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = recorded(example_ctx.db, admin, 3)
    run_sql(example_ctx.db, DROP_APPEND_ONLY)
    with example_ctx.db.write() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == ids[1]).values(actor="someone-else")
        )
        at = session.scalar(select(AuditEvent.at).where(AuditEvent.id == ids[1]))
    assert at is not None

    result = civicstat(example_ctx, monkeypatch, "audit", "verify")

    assert result.exit_code == 1
    assert result.stdout == ""
    # The record first, then the guard found missing (verify reports it as it finds it).
    assert result.stderr.splitlines()[0] == (
        f"error: audit record {ids[1]} ({at:%Y-%m-%d %H:%M:%S} UTC) does not match its MAC: "
        "it was changed, or forged without the key"
    )
    assert result.stderr.splitlines()[1].startswith(
        "error: the audit log's append-only triggers are missing"
    )


def test_audit_list_shows_the_newest_events_with_filters(
    example_ctx: Context, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(username="ana")

    result = civicstat(
        example_ctx, monkeypatch, "audit", "list", "--limit", "5", "--action", "user:add"
    )

    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert "user:add" in line
    assert "user:ana" in line
    assert '"role": "viewer"' in line
    again = civicstat(example_ctx, monkeypatch, "audit", "list", "--limit", "1")
    assert "audit:read" in again.stdout


def test_audit_commands_fail_in_one_line_when_the_read_cannot_be_audited(
    example_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_sql(example_ctx.db, REFUSE_INSERTS)

    for command in ("verify", "list"):
        result = civicstat(example_ctx, monkeypatch, "audit", command)

        assert result.exit_code == 1
        assert result.stdout == ""
        assert result.stderr == "error: the audit log could not be written (audit:read)\n"
