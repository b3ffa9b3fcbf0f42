"""Values and text derived from data (check examples, run errors and warnings, quarantined
values, audit details) reach a reader only where the rows API would give them the same
data in clear, and a dataset they may not read is not revealed by any of them.

The workspace is Riverside with troubles (``derived_helpers``). Every role signs in and
walks every GET route of the app plus the runs page's own views; the families of planted
values each one meets must be exactly the expected ones, so the walk proves both that a
value is withheld and that it is there to be found by those who may read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from derived_helpers import (
    BAD_ROWS,
    SEALED,
    break_incidents,
    families,
    write_troubled_workspace,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from governance_helpers import PASSWORD
from reads_helpers import MARK, sign_in
from sqlalchemy import select
from test_canaries import get_routes
from typer.testing import CliRunner

from civicstat.cli import app as cli_app
from civicstat.governance import audit, totp
from civicstat.governance.actors import Actor, Role
from civicstat.metadata.models import AuditEvent, IngestRun, QuarantinedRow
from civicstat.pipeline.runner import IngestError
from civicstat.services import ingest, workspace
from civicstat.services.accounts import users
from civicstat.services.context import Context

# The runs page's views, beyond the plain walk of every GET route.
RUNS_VIEWS = [
    "/runs",
    "/runs?source=incidents",
    "/runs?unmask=true",
    "/runs?unmask=true&source=incidents",
    "/audit?limit=1000",
]
# Who meets which families of planted values, walking everything (unmask included, for
# those who may unmask). Reading every row of incidents in clear: its stewards and admins;
# its restricted column and sealed_cases: admins with a second factor; PII and run errors
# (which may quote any column): only on unmask; the old audit detail: nobody. Admins see
# in the audit log that sealed_cases exists: they set up the sources.
EXPECTED: dict[str, set[str]] = {
    "anonymous": set(),
    "analyst@police": set(),
    "department_head@police": set(),
    "department_head@public-works": set(),
    "steward@police": {"district"},
    "steward@public-works": set(),
    "steward+mfa@police": {"district", "phone"},
    "admin": {"district", "sealed-id"},
    "admin+mfa": {"district", "phone", "notes", "badrow", "code", "subject", "sealed", "sealed-id"},
}  # fmt: skip


@pytest.fixture
def troubled(tmp_path: Path, make_context: Callable[[Path], Context], admin: Actor) -> Context:
    """Riverside with troubles, applied and pulled: incidents published with failing warn
    checks then failed on bad rows, permits published, sealed_cases failed on a check;
    and an ingest event recorded before the audit log stopped keeping run errors."""
    ctx = make_context(write_troubled_workspace(tmp_path / "riverside"))
    workspace.apply(ctx, admin)
    ingest.ingest(ctx, admin, "incidents")
    ingest.ingest(ctx, admin, "permits")
    with pytest.raises(IngestError):
        ingest.ingest(ctx, admin, SEALED)
    break_incidents(ctx.root)
    with pytest.raises(IngestError):
        ingest.ingest(ctx, admin, "incidents")
    with ctx.db.write() as session:
        audit.record(
            session, admin, "source:ingest", "source", "incidents", "failed",
            status="failed", error=f"column 'caller_name': 'CANARY-LEGACY-{MARK}-1' is bad",
        )  # fmt: skip
    return ctx


@pytest.fixture
def browsers(troubled: Context, make_client: Callable[..., TestClient]) -> Callable[[], TestClient]:
    return lambda: make_client(troubled)


@pytest.fixture
def clients(
    troubled: Context, browsers: Callable[[], TestClient], admin: Actor
) -> dict[str, TestClient]:
    """A signed-in browser for each label of EXPECTED."""
    opened = {"anonymous": browsers()}
    for label in EXPECTED:
        if label == "anonymous":
            continue
        role_part, _, department = label.partition("@")
        mfa = role_part.endswith("+mfa")
        name = label.replace("@", "-at-").replace("+", "-").replace("_", "-")
        role = Role(role_part.removesuffix("+mfa"))
        users.add_user(
            troubled, admin, username=name, password=PASSWORD, role=role,
            department=department or None,
        )  # fmt: skip
        client = browsers()
        if mfa:
            seed = totp.from_base32(users.enroll_totp(troubled, admin, name).secret)
            sign_in(client, name, code=totp.code_at(seed, time.time()))
        else:
            sign_in(client, name)
        opened[label] = client
    return opened


def walk(client: TestClient) -> dict[str, str]:
    assert isinstance(client.app, FastAPI)
    client.app.state.live_timing = {"lasting": 0.0}  # /events: its first event, then the end
    seen = {}
    for path in [*get_routes(client.app), *RUNS_VIEWS]:
        response = client.get(path)
        seen[f"GET {path} -> {response.status_code}"] = response.text + str(response.headers)
    return seen


def test_the_planted_values_are_where_the_tests_look_for_them(troubled: Context) -> None:
    with troubled.db.session() as session:
        stored = " ".join(
            f"{r.error} {r.warnings}" for r in session.scalars(select(IngestRun))
        ) + " ".join(q.raw or "" for q in session.scalars(select(QuarantinedRow)))
        quarantined = session.scalars(select(QuarantinedRow)).all()
    assert len(quarantined) == BAD_ROWS
    assert {"badrow"} <= families(stored)  # the failed run's error quotes a bad value
    assert all("CANARY-NAME-" in (q.raw or "") for q in quarantined)


def test_a_runs_error_and_warnings_name_failing_checks_but_quote_none_of_their_examples(
    troubled: Context,
) -> None:
    with troubled.db.session() as session:
        runs = {(r.source_id, r.status): r for r in session.scalars(select(IngestRun))}
    sealed = runs[SEALED, "failed"]
    published = runs["incidents", "succeeded"]

    assert sealed.error == (
        "quality check(s) failed: regex case_code: failed on 8 rows (see the run's check results)"
    )
    assert "check regex caller_phone: failed on 38 rows (see the run's check results)" in (
        published.warnings
    )
    assert families(f"{sealed.warnings} {published.warnings}") == set()


def test_each_reader_meets_exactly_the_values_the_rows_api_would_give_them(
    clients: dict[str, TestClient],
) -> None:
    met = {}
    for label, client in clients.items():
        by_answer = {where: families(text) for where, text in walk(client).items()}
        met[label] = set().union(*by_answer.values())
        where = {f: [w for w, found in by_answer.items() if f in found] for f in met[label]}
        unexpected = {f: where[f] for f in met[label] - EXPECTED[label]}
        assert unexpected == {}, label

    assert met == EXPECTED


@pytest.mark.parametrize(
    "label",
    ["analyst@police", "department_head@public-works", "department_head@police",
     "steward@police", "admin"],
)  # fmt: skip
def test_a_hidden_dataset_answers_like_one_that_does_not_exist(
    clients: dict[str, TestClient], label: str
) -> None:
    client = clients[label]
    for path in ("/runs?source={}", "/api/v1/inventory/{}", "/api/v1/datasets/{}"):
        hidden = client.get(path.format(SEALED))
        unknown = client.get(path.format("no_such_source"))

        assert hidden.status_code == unknown.status_code
        assert hidden.text.replace(SEALED, "?") == unknown.text.replace("no_such_source", "?")


def test_runs_of_hidden_datasets_do_not_take_the_places_of_the_newest_visible_ones(
    clients: dict[str, TestClient],
) -> None:
    # The two newest runs are of incidents and sealed_cases, which an analyst may not read.
    page = clients["analyst@police"].get("/runs?limit=2")

    assert page.status_code == 200
    assert "The 1 newest runs" in page.text
    assert 'href="/runs?source=permits"' in page.text


def test_the_reader_who_may_see_sealed_runs_gets_their_examples_and_not_personal_data(
    clients: dict[str, TestClient],
) -> None:
    page = clients["admin+mfa"].get(f"/runs?source={SEALED}")

    assert page.status_code == 200
    assert families(page.text) == {"code", "sealed-id"}
    assert "the example values withheld: subject_name is personal data, masked for you" in (
        page.text
    )


def test_unmasking_runs_needs_the_unmask_permission_and_is_audited(
    troubled: Context, clients: dict[str, TestClient]
) -> None:
    refused = clients["steward@police"].get("/runs?unmask=true")
    clear = clients["steward+mfa@police"].get("/runs?unmask=true")

    assert refused.status_code == 403
    assert clear.status_code == 200
    assert "phone" in families(clear.text)
    with troubled.db.session() as session:
        unmasked = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "dataset:unmask")
        ).all()
        assert [(e.actor, e.object_id, e.outcome, e.detail) for e in unmasked] == [
            ("user:steward-at-police", "*", "denied", {}),
            ("user:steward-mfa-at-police", "incidents", "ok", {"via": "runs"}),
        ]


def test_a_measure_page_shows_no_run_of_a_dataset_the_reader_may_not_read(
    clients: dict[str, TestClient],
) -> None:
    analyst = clients["analyst@police"].get("/measures/incidents-reported")
    steward = clients["steward@police"].get("/measures/incidents-reported")

    assert analyst.status_code == steward.status_code == 200
    assert "/runs?source=incidents" not in analyst.text
    assert "incidents.csv" not in analyst.text  # the raw payload's name
    assert "/runs?source=incidents" in steward.text


def test_the_audit_log_keeps_no_run_error_and_shows_old_ones_withheld(
    troubled: Context, clients: dict[str, TestClient]
) -> None:
    with troubled.db.session() as session:
        details = [
            e.detail
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "source:ingest"))
        ]
    page = clients["admin+mfa"].get("/audit?action=source:ingest")

    assert [d for d in details if "error" in d] == [
        {"status": "failed", "error": f"column 'caller_name': 'CANARY-LEGACY-{MARK}-1' is bad"}
    ]  # only the one planted as recorded before
    assert page.status_code == 200
    assert families(page.text) == {"sealed-id"}  # its ingest events, no value
    assert "text from the data withheld" in page.text


def test_civicstat_runs_withholds_error_text_unless_the_operator_unmasks(
    troubled: Context, database_url: str
) -> None:
    env = {"CIVICSTAT_DATABASE_URL": database_url}
    runner = CliRunner()

    listed = runner.invoke(cli_app, ["runs", "-w", str(troubled.root)], env=env)
    unmasked = runner.invoke(cli_app, ["runs", "-w", str(troubled.root), "--unmask"], env=env)

    assert listed.exit_code == 0, listed.output
    assert families(listed.stdout) == {"sealed-id"}
    assert "the error message withheld" in listed.stdout
    assert unmasked.exit_code == 0, unmasked.output
    assert "badrow" in families(unmasked.stdout)
    with troubled.db.session() as session:
        recorded = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "dataset:unmask")
        ).all()
        assert [(e.object_id, e.detail) for e in recorded] == [
            ("incidents", {"via": "runs"}),
            (SEALED, {"via": "runs"}),
        ]
