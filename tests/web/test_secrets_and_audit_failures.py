"""No secret reaches a log, a page or the audit trail; and a read that must be audited is
refused, with no data, when the audit record cannot be written."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from web_helpers import MakeClient, MakeUser, sign_in, submit_code, submit_sign_in

from civicstat.governance import totp
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent, SignInChallenge, User, WebSession
from civicstat.services import ingest, workspace
from civicstat.services.accounts import users
from civicstat.services.context import Context

DATASET = "service_requests"
WRONG_PASSWORD = "tr0ub4dor&3-not-it"


def test_no_password_code_or_seed_is_ever_logged_shown_or_stored(
    client: TestClient,
    make_user: MakeUser,
    example_ctx: Context,
    admin: Actor,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = make_user(Role.ADMIN, username="cdo")
    enrolment = users.enroll_totp(example_ctx, admin, name)
    seed = totp.from_base32(enrolment.secret)
    # Every logger at every level, even SQLAlchemy's statements with their parameters.
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")

    pages = [submit_sign_in(client, name, password=WRONG_PASSWORD).text]
    pages.append(submit_sign_in(client, name).text)
    wrong_code = f"{(int(totp.code_at(seed, time.time())) + 500_000) % 10**6:06d}"
    pages.append(submit_code(client, wrong_code).text)
    code = totp.code_at(seed, time.time())
    signed_in = submit_code(client, code)
    assert signed_in.status_code == 303, signed_in.text
    pages.append(client.get("/plan").text)

    secrets = {
        "password": "correct horse battery staple",
        "wrong password": WRONG_PASSWORD,
        "code": code,
        "wrong code": wrong_code,
        "seed (base32)": enrolment.secret,
        "seed (hex)": seed.hex(),
    }
    captured = capsys.readouterr()
    places = {
        "log": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "pages": "\n".join(pages),
        "audit": _all_rows(example_ctx),
        "repr": repr(enrolment),
    }
    assert caplog.records, "nothing was logged: the capture is not looking"
    leaks = [f"{what} in {where}" for what, value in secrets.items()
             for where, seen in places.items() if value in seen]  # fmt: skip
    assert leaks == []


def _all_rows(ctx: Context) -> str:
    with ctx.db.session() as session:
        return "\n".join(
            str(row)
            for table in (AuditEvent, User, WebSession, SignInChallenge)
            for row in session.execute(select(table.__table__)).all()
        )


# A store that refuses audit rows, as a full disk or a revoked grant would.
REFUSE_AUDIT_INSERTS = {
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


@pytest.fixture
def confidential_ctx(example_ctx: Context, example_root: Path, admin: Actor) -> Context:
    source = example_root / "sources" / f"{DATASET}.yaml"
    text_ = source.read_text(encoding="utf-8")
    source.write_text(
        text_.replace("\nclassification: public\n", "\nclassification: confidential\n"),
        encoding="utf-8",
    )
    assert workspace.apply(example_ctx, admin).revision is not None
    ingest.ingest(example_ctx, admin, DATASET)
    return example_ctx


def test_a_confidential_read_fails_with_no_data_when_it_cannot_be_audited(
    confidential_ctx: Context,
    make_client: MakeClient,
    make_user: MakeUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(confidential_ctx)
    sign_in(client, make_user(Role.STEWARD))
    assert client.get(f"/api/v1/datasets/{DATASET}").status_code == 200
    with confidential_ctx.db.engine.begin() as connection:
        for statement in REFUSE_AUDIT_INSERTS[connection.dialect.name]:
            connection.execute(text(statement))

    response = client.get(f"/api/v1/datasets/{DATASET}")

    assert response.status_code == 503
    assert response.json() == {
        "detail": "The audit log cannot be written just now, so this request was not carried out."
    }
    assert "row_count" not in response.text
    assert "audit store unavailable" in caplog.text  # the operator is told why
