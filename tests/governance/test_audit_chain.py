"""The keyed audit chain against someone who can write the database but does not hold the
key, on both metadata stores: every attack — triggers dropped, a record edited and the
later hashes recomputed (plain SHA-256, or HMAC under a wrong key), a record removed, the
tail cut off, the whole log rewritten as unkeyed — makes ``audit verify`` fail with a clear
message; exported heads catch what the chain alone cannot; missing append-only triggers are
reported, and put back (audited) when CivicStat starts; a log from before the upgrade
still verifies, anchored under the key."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from governance_helpers import MakeUser
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner, Result

from civicstat.cli import app
from civicstat.governance import audit, audit_guard, audit_heads
from civicstat.governance.actors import Actor, Role
from civicstat.governance.audit import Checkpoint
from civicstat.metadata.db import Database, alembic_config
from civicstat.metadata.models import AuditEvent
from civicstat.services import audit as audit_service
from civicstat.services.context import Context
from civicstat.spec.workspace import canonical_json
from civicstat.worker.scheduler import AUDIT_HEAD_JOB, Scheduler

KEY = b"a test key for the audit chain!!"  # what the secret key derives, in a real server
NOT_THE_KEY = b"the attacker's guess at that key"

DROP_APPEND_ONLY = {
    "sqlite": ["DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"],
    "postgresql": [
        "DROP TRIGGER audit_events_append_only ON audit_events",
        "DROP TRIGGER audit_events_no_truncate ON audit_events",
    ],
}


def run_sql(db: Database, statements: dict[str, list[str]]) -> None:
    with db.engine.begin() as connection:
        for statement in statements[connection.dialect.name]:
            connection.execute(text(statement))


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url, audit_key=KEY)
    database.migrate()
    yield database  # type: ignore[misc]
    database.dispose()


def recorded(db: Database, admin: Actor, count: int = 6) -> list[int]:
    with db.write() as session:
        return [
            audit.record(session, admin, "test:event", "thing", str(i)).id for i in range(count)
        ]


def checked(db: Database, expect: list[Checkpoint] | None = None) -> audit.ChainCheck:
    with db.session() as session:
        return audit.check(session, expect or [])


# --- what an attacker who read the source, but lacks the key, computes --------------------


def content(prev_hash: str, row: AuditEvent) -> bytes:
    body = canonical_json(
        {
            "at": row.at.isoformat(),
            "actor": row.actor,
            "action": row.action,
            "object_kind": row.object_kind,
            "object_id": row.object_id,
            "outcome": row.outcome,
            "detail": row.detail,
        }
    )
    return f"{prev_hash}\n{body}".encode()


def plain_sha256(prev_hash: str, row: AuditEvent) -> str:
    return hashlib.sha256(content(prev_hash, row)).hexdigest()


def wrong_key(prev_hash: str, row: AuditEvent) -> str:
    return hmac.new(NOT_THE_KEY, content(prev_hash, row), hashlib.sha256).hexdigest()


Rehash = Callable[[str, AuditEvent], str]


def rewrite_from(db: Database, first_id: int, rehash: Rehash, **columns: object) -> None:
    """Recompute every hash from ``first_id`` on, so each record points at the one before."""
    with db.write() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id >= first_id).order_by(AuditEvent.id)
        ).all()
        prev = rows[0].prev_hash
        for row in rows:
            for name, value in columns.items():
                setattr(row, name, value)
            row.prev_hash = prev
            row.hash = rehash(prev, row)
            prev = row.hash
            session.flush()


def edit(db: Database, record_id: int) -> None:
    with db.write() as session:
        session.execute(
            update(AuditEvent).where(AuditEvent.id == record_id).values(actor="someone-else")
        )


ATTACKS: dict[str, tuple[Rehash, dict[str, object], str]] = {
    "plain-sha256": (plain_sha256, {}, "does not match its MAC"),
    "plain-sha256-as-unkeyed": (
        plain_sha256,
        {"scheme": "sha256", "key_id": None},
        "is unkeyed although keyed records come before it",
    ),
    "hmac-under-a-wrong-key": (wrong_key, {}, "does not match its MAC"),
    "hmac-under-a-wrong-key-named-as-such": (
        wrong_key,
        {"key_id": audit.key_id(NOT_THE_KEY)},
        "was keyed with another key",
    ),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_a_record_edited_and_the_later_hashes_recomputed_without_the_key_is_named(
    db: Database, admin: Actor, attack: str
) -> None:
    ids = recorded(db, admin)
    assert checked(db).intact
    run_sql(db, DROP_APPEND_ONLY)
    rehash, columns, why = ATTACKS[attack]

    edit(db, ids[2])
    rewrite_from(db, ids[2], rehash, **columns)

    found = checked(db)
    assert (found.records, found.broken_id) == (6, ids[2])
    assert found.problem is not None
    assert found.problem.startswith(f"audit record {ids[2]} (")
    assert why in found.problem


def test_a_record_removed_from_the_middle_is_noticed_at_the_next_one(
    db: Database, admin: Actor
) -> None:
    ids = recorded(db, admin)
    run_sql(db, DROP_APPEND_ONLY)

    with db.write() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[3]))

    found = checked(db)
    assert found.broken_id == ids[4]
    assert found.problem is not None
    assert "does not follow the record before it" in found.problem


def test_a_tail_cut_off_is_caught_by_a_head_exported_before(db: Database, admin: Actor) -> None:
    recorded(db, admin)
    with db.session() as session:
        exported = audit.head(session)
    assert exported.records == 6
    run_sql(db, DROP_APPEND_ONLY)

    with db.write() as session:
        newest = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc())).first()
        session.execute(delete(AuditEvent).where(AuditEvent.id >= (newest or 0) - 1))

    # The chain alone cannot see it: what is left is whole.
    assert checked(db).problem is None
    found = checked(db, [exported])
    assert found.records == 4
    assert found.problem == (
        "the log has 4 records, fewer than the 6 of a head exported earlier: records were "
        "removed from its end"
    )


def test_a_chain_rebuilt_with_the_key_itself_is_caught_by_a_head_exported_before(
    db: Database, admin: Actor
) -> None:
    """What the key alone cannot stop: whoever holds it and the database can rebuild the
    chain; a head exported elsewhere still tells."""
    ids = recorded(db, admin)
    with db.session() as session:
        exported = audit.head(session)
    run_sql(db, DROP_APPEND_ONLY)

    edit(db, ids[1])
    rewrite_from(
        db, ids[1], lambda prev, row: hmac.new(KEY, content(prev, row), "sha256").hexdigest()
    )

    assert checked(db).problem is None
    found = checked(db, [exported])
    assert found.problem is not None
    assert found.problem.startswith("record number 6 has hash ")
    assert found.problem.endswith(f"not {exported.head} as exported earlier: the log was rewritten")


def test_appends_from_many_transactions_at_once_keep_one_chain(db: Database, admin: Actor) -> None:
    def append(n: int) -> None:
        for i in range(15):
            with db.write() as session:
                audit.record(session, admin, "test:event", "thing", f"{n}-{i}")

    threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    found = checked(db)
    assert (found.records, found.problem) == (60, None)


# --- the append-only triggers ------------------------------------------------------------------

TAMPERED_GUARDS = {
    "dropped": (
        DROP_APPEND_ONLY,
        {
            "sqlite": ("audit_events_no_update", "audit_events_no_delete"),
            "postgresql": ("audit_events_append_only", "audit_events_no_truncate"),
        },
    ),
    "disabled-or-replaced": (
        {
            "sqlite": [
                "DROP TRIGGER audit_events_no_update",
                "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
                "BEGIN SELECT 1; END",
            ],
            "postgresql": [
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
                "CREATE OR REPLACE FUNCTION civicstat_audit_append_only() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
            ],
        },
        {
            "sqlite": ("audit_events_no_update",),
            "postgresql": ("civicstat_audit_append_only()", "audit_events_append_only"),
        },
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERED_GUARDS))
def test_missing_triggers_are_reported_then_put_back_at_start_and_audited(
    example_ctx: Context, admin: Actor, tampering: str
) -> None:
    statements, expected = TAMPERED_GUARDS[tampering]
    run_sql(example_ctx.db, statements)
    dialect = example_ctx.db.engine.dialect.name

    found = checked(example_ctx.db)
    assert found.problem is None
    assert found.missing_guards == expected[dialect]
    assert not found.intact

    started = example_ctx.migrate()

    assert started.restored == expected[dialect]
    assert checked(example_ctx.db).intact
    with example_ctx.db.session() as session:
        newest = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert newest is not None
    assert (newest.actor, newest.action, newest.detail) == (
        "system:start",
        "audit:protect",
        {"restored": list(expected[dialect])},
    )
    with pytest.raises(DBAPIError, match="append-only"), example_ctx.db.write() as session:
        session.execute(update(AuditEvent).values(outcome="denied"))
    assert example_ctx.migrate().restored == ()  # nothing to do the next time


# --- a log written before the chain was keyed ----------------------------------------------

OLD_ROWS = sa.table(
    "audit_events",
    sa.column("at", sa.DateTime),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("object_kind", sa.String),
    sa.column("object_id", sa.String),
    sa.column("outcome", sa.String),
    sa.column("detail", sa.JSON),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


@pytest.fixture
def upgraded(database_url: str, tmp_path: Path) -> Database:
    """A store at migration 0005 with four records chained as CivicStat wrote them then
    (plain SHA-256), brought up to date."""
    db = Database(database_url, audit_key=KEY)
    command.upgrade(alembic_config(db.engine), "0005")
    prev = audit.GENESIS
    start = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    with db.engine.begin() as connection:
        for i in range(4):
            row = AuditEvent(
                at=start + dt.timedelta(minutes=i, microseconds=i),
                actor="operator:root",
                action="user:add",
                object_kind="user",
                object_id=f"user-{i}",
                outcome="ok",
                detail={"role": "viewer"},
            )
            digest = plain_sha256(prev, row)
            values = {c: getattr(row, c) for c in ("actor", "action", "object_kind", "object_id")}
            connection.execute(
                OLD_ROWS.insert().values(
                    at=row.at.replace(tzinfo=None),
                    outcome="ok",
                    detail=row.detail,
                    prev_hash=prev,
                    hash=digest,
                    **values,
                )
            )
            prev = digest
    db.migrate()
    yield db  # type: ignore[misc]
    db.dispose()


def test_a_log_from_before_the_upgrade_is_anchored_at_start_and_still_verifies(
    upgraded: Database, admin: Actor, tmp_path: Path
) -> None:
    with upgraded.session() as session:
        assert audit.check(session).problem is not None  # not anchored yet

    started = audit_guard.prepare(upgraded, tmp_path / "heads.jsonl")
    recorded(upgraded, admin, 2)

    assert started.anchored == 4
    found = checked(upgraded)
    assert (found.records, found.problem) == (7, None)
    with upgraded.session() as session:
        anchor = session.get(AuditEvent, found.keyed_since)
    assert anchor is not None
    assert (anchor.action, anchor.actor, anchor.scheme) == (
        "audit:anchor",
        "system:start",
        "hmac-sha256",
    )
    assert anchor.detail == {"unkeyed_records": 4, "unkeyed_head": anchor.prev_hash}
    assert audit_guard.prepare(upgraded, tmp_path / "heads.jsonl").anchored is None


def test_an_unkeyed_record_rewritten_after_the_anchor_breaks_the_chain_at_the_anchor(
    upgraded: Database, admin: Actor, tmp_path: Path
) -> None:
    audit_guard.prepare(upgraded, tmp_path / "heads.jsonl")
    recorded(upgraded, admin, 2)
    run_sql(upgraded, DROP_APPEND_ONLY)
    with upgraded.session() as session:
        first, anchor = session.scalars(
            select(AuditEvent.id).where(AuditEvent.id.in_([1, 5])).order_by(AuditEvent.id)
        ).all()

    edit(upgraded, first)
    with upgraded.write() as session:  # the unkeyed records rehashed as they were written
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id < anchor).order_by(AuditEvent.id)
        ).all()
        prev = audit.GENESIS
        for row in rows:
            row.prev_hash, row.hash = prev, plain_sha256(prev, row)
            prev = row.hash
            session.flush()

    found = checked(upgraded)
    assert found.broken_id == anchor
    assert found.problem is not None
    assert "does not follow the record before it" in found.problem


def test_a_log_rewritten_as_unkeyed_is_never_anchored_again(
    upgraded: Database, admin: Actor, tmp_path: Path
) -> None:
    heads = tmp_path / "heads.jsonl"
    started = audit_guard.prepare(upgraded, heads)  # anchors, and notes the first head
    recorded(upgraded, admin, 2)
    assert started.exported == Checkpoint(5, started.exported.head if started.exported else "")
    run_sql(upgraded, DROP_APPEND_ONLY)

    rewrite_from(upgraded, 1, plain_sha256, scheme="sha256", key_id=None)
    again = audit_guard.prepare(upgraded, heads, protect=False)

    assert (again.anchored, again.exported) == (None, None)
    found = checked(upgraded)
    assert found.problem is not None
    assert "are all unkeyed and none anchors them" in found.problem
    with upgraded.session() as session:
        assert audit.check(session, audit_heads.read(heads)).problem == found.problem


def test_the_first_start_of_a_keyed_log_notes_its_head(
    db: Database, admin: Actor, tmp_path: Path
) -> None:
    heads = tmp_path / "state" / "heads.jsonl"
    assert audit_guard.prepare(db, heads).exported is None  # nothing to note yet
    recorded(db, admin, 3)

    started = audit_guard.prepare(db, heads)

    assert started.exported is not None
    assert audit_heads.read(heads) == [started.exported]
    assert started.exported.records == 3
    assert audit_guard.prepare(db, heads).exported is None  # once


# --- the commands ----------------------------------------------------------------------------


def civicstat(ctx: Context, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("CIVICSTAT_DATABASE_URL", ctx.db.url)
    return CliRunner().invoke(app, [*args, "-w", str(ctx.root)], catch_exceptions=False)


def test_audit_head_prints_logs_and_appends_the_head_and_records_that_it_did(
    example_ctx: Context,
    make_user: MakeUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_user(Role.ANALYST)
    with example_ctx.db.session() as session:
        before = audit.head(session)
    caplog.set_level(logging.INFO, logger="civicstat")

    result = civicstat(example_ctx, monkeypatch, "audit", "head")

    heads = example_ctx.root / ".civicstat" / "audit-heads.jsonl"
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{before.records} {before.head}\n"
    assert result.stderr == f"appended to {heads}\n"
    assert stat.S_IMODE(heads.stat().st_mode) == 0o600
    *_, line = heads.read_text().splitlines()  # after the head the first start noted
    entry = json.loads(line)
    assert (entry["records"], entry["head"], len(entry["key_id"])) == (
        before.records,
        before.head,
        16,
    )
    assert [r.getMessage() for r in caplog.records if "audit head" in r.getMessage()][-1] == (
        f"audit head {line}"
    )
    with example_ctx.db.session() as session:
        newest = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert newest is not None
    assert (newest.action, newest.detail) == (
        "audit:head",
        {"records": before.records, "head": before.head},
    )


def test_audit_verify_checks_the_exported_heads_and_fails_on_a_cut_tail(
    example_ctx: Context, make_user: MakeUser, admin: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(Role.ANALYST)
    exported = civicstat(example_ctx, monkeypatch, "audit", "head").stdout.split()
    count, head = exported
    for name in ("ana", "bob"):
        make_user(Role.VIEWER, username=name)

    ok = civicstat(
        example_ctx,
        monkeypatch,
        "audit",
        "verify",
        "--expect-head",
        head,
        "--expect-count",
        count,
    )
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines()[1] == "matches 1 head exported earlier"

    run_sql(example_ctx.db, DROP_APPEND_ONLY)
    with example_ctx.db.write() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id >= int(count) - 1))
    # The heads file kept in the workspace is checked without being named.
    cut = civicstat(example_ctx, monkeypatch, "audit", "verify")

    assert cut.exit_code == 1
    assert cut.stdout == ""
    [tail, triggers] = cut.stderr.splitlines()
    assert tail.startswith("error: the log has ")
    assert tail.endswith(
        f"fewer than the {count} of a head exported earlier: records were removed from its end"
    )
    assert triggers.startswith(
        "error: the audit log's append-only triggers are missing, disabled or altered: "
    )


def test_audit_verify_reports_missing_triggers_and_the_next_start_puts_them_back(
    example_ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_sql(example_ctx.db, DROP_APPEND_ONLY)

    reported = civicstat(example_ctx, monkeypatch, "audit", "verify")
    again = civicstat(example_ctx, monkeypatch, "audit", "verify")
    civicstat(example_ctx, monkeypatch, "users", "list")  # any other command starts as usual
    whole = civicstat(example_ctx, monkeypatch, "audit", "verify")

    names = {"sqlite": "audit_events_no_update, audit_events_no_delete"}.get(
        example_ctx.db.engine.dialect.name, "audit_events_append_only, audit_events_no_truncate"
    )
    assert (reported.exit_code, reported.stdout) == (1, "")
    assert reported.stderr == (
        "error: the audit log's append-only triggers are missing, disabled or altered: "
        f"{names} (CivicStat puts them back when it next starts)\n"
    )
    assert again.exit_code == 1  # verifying does not hide what it found
    assert whole.exit_code == 0, whole.output
    events = audit_service.recent(example_ctx, operator_actor(), action="audit:protect")
    assert [e.detail["restored"] for e in events] == [names.split(", ")]


def operator_actor() -> Actor:
    return Actor("operator", "operator:pytest", Role.ADMIN, mfa=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expect-head", "a" * 64], "--expect-head and --expect-count go together"),
        (["--expect-count", "3"], "--expect-head and --expect-count go together"),
        (
            ["--expect-head", "xyz", "--expect-count", "3"],
            "--expect-head: a head is 64 hexadecimal digits, not 'xyz'",
        ),
        (
            ["--expect-head", "a" * 64, "--expect-count", "0"],
            "--expect-count: a number of records is 1 or more",
        ),
        (["--heads", "HEADS"], "--heads: HEADS:2: 'head' is not a hash (64 hexadecimal digits)"),
    ],
)
def test_audit_verify_refuses_unclear_expectations_with_exit_2(
    example_ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    heads = tmp_path / "heads.jsonl"
    heads.write_text(json.dumps({"records": 1, "head": "0" * 64}) + '\n{"records": 2}\n')
    args = [str(heads) if a == "HEADS" else a for a in args]

    result = civicstat(example_ctx, monkeypatch, "audit", "verify", *args)

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"error: {message.replace('HEADS', str(heads))}\n"


def test_the_scheduler_exports_the_head_once_a_day(example_ctx: Context) -> None:
    scheduler = Scheduler(example_ctx)
    scheduler.start()
    try:
        job = scheduler._scheduler.get_job(AUDIT_HEAD_JOB)
        assert job is not None
        assert str(job.trigger).startswith("cron[hour='0', minute='0'")
        scheduler.export_audit_head()
    finally:
        scheduler.shutdown()

    heads = example_ctx.settings.resolved_audit_heads()
    [line] = heads.read_text().splitlines()
    assert json.loads(line)["records"] >= 1
