"""Every role, and every holder of a grant, against every operation that reads a dataset,
on datasets of two departments: the answers must match the expected table exactly. Someone
who may not see a dataset gets 404, as for one that does not exist; 403 is only for
unmasking a dataset one does see.

Riverside's ``incidents`` belongs to police (confidential, with a restricted column and an
undeclared one) and ``permits`` to public works (internal); both are filtered by a
department column. A 200 cell lists the departments whose rows came back ("-": rows without
a department; "none": no row), then the restricted columns that came back, if any
(``+officer_notes,ssn``: only with a second factor).

Grant holders: the patrol division is a party to a sharing agreement on ``incidents``, and
analysts of public works hold an approved access request for it. A grant lets them read
the dataset (their own department's rows), never export it (404: a grant gives
``dataset:read`` only) or unmask it; its restricted columns still need a sign-in with a
second factor.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from governance_helpers import PASSWORD
from reads_helpers import incident_rows, permit_rows, sign_in

from civicstat.governance import totp
from civicstat.governance.actors import Actor, Role
from civicstat.services import access, datasets
from civicstat.services import workspace as workspace_service
from civicstat.services.accounts import sessions, users
from civicstat.services.accounts import sign_in as sign_in_service
from civicstat.services.context import Context
from civicstat.services.errors import Forbidden, PermissionDenied

OPERATIONS = {
    "describe": "/api/v1/datasets/{d}",
    "rows": "/api/v1/datasets/{d}/rows?limit=10000",
    "export": "/api/v1/datasets/{d}/rows.csv",
    "unmask": "/api/v1/datasets/{d}/rows?limit=10000&unmask=true",
}
DATASETS = ("incidents", "permits", "no_such_dataset")

ALL_INCIDENTS = "200 -,patrol,police,public-works"
ALL_PERMITS = "200 police,public-works"
RESTRICTED = ("officer_notes", "ssn")  # incidents' restricted column and its undeclared one
SEEN = " +officer_notes,ssn"
# actor → dataset → operation → answer; an entry for all four operations when they agree.
EXPECTED: dict[str, dict[str, dict[str, str] | str]] = {
    "anonymous": {"incidents": "401", "permits": "401", "no_such_dataset": "401"},
    "viewer@police": {"incidents": "404", "permits": "404", "no_such_dataset": "404"},
    "analyst@police": {
        "incidents": "404",
        "permits": {"describe": "200 police", "rows": "200 police", "export": "200 police",
                    "unmask": "403"},
        "no_such_dataset": "404",
    },
    "analyst@public-works": {
        "incidents": "404",
        "permits": {"describe": "200 public-works", "rows": "200 public-works",
                    "export": "200 public-works", "unmask": "403"},
        "no_such_dataset": "404",
    },
    "department_head@police": {
        "incidents": {"describe": "200 patrol,police", "rows": "200 patrol,police",
                      "export": "200 patrol,police", "unmask": "403"},
        "permits": {"describe": "200 police", "rows": "200 police", "export": "200 police",
                    "unmask": "403"},
        "no_such_dataset": "404",
    },
    "department_head@public-works": {
        "incidents": {"describe": "200 public-works", "rows": "200 public-works",
                      "export": "200 public-works", "unmask": "403"},
        "permits": {"describe": "200 public-works", "rows": "200 public-works",
                    "export": "200 public-works", "unmask": "403"},
        "no_such_dataset": "404",
    },
    "steward@police": {
        "incidents": {"describe": ALL_INCIDENTS, "rows": ALL_INCIDENTS, "export": ALL_INCIDENTS,
                      "unmask": "403"},
        "permits": {"describe": "200 police", "rows": "200 police", "export": "200 police",
                    "unmask": "403"},
        "no_such_dataset": "404",
    },
    "steward@public-works": {
        "incidents": {"describe": "200 public-works", "rows": "200 public-works",
                      "export": "200 public-works", "unmask": "403"},
        "permits": {"describe": ALL_PERMITS, "rows": ALL_PERMITS, "export": ALL_PERMITS,
                    "unmask": "403"},
        "no_such_dataset": "404",
    },
    "steward+mfa@police": {
        "incidents": ALL_INCIDENTS,
        "permits": "200 police",
        "no_such_dataset": "404",
    },
    "admin": {
        "incidents": {"describe": ALL_INCIDENTS, "rows": ALL_INCIDENTS, "export": ALL_INCIDENTS,
                      "unmask": "403"},
        "permits": {"describe": ALL_PERMITS, "rows": ALL_PERMITS, "export": ALL_PERMITS,
                    "unmask": "403"},
        "no_such_dataset": "404",
    },
    "admin+mfa": {
        "incidents": ALL_INCIDENTS + SEEN, "permits": ALL_PERMITS, "no_such_dataset": "404"
    },
    # --- holders of a grant (sharing agreement or approved request) on incidents ---------
    "analyst+agreement@patrol": {
        "incidents": {"describe": "200 patrol", "rows": "200 patrol", "export": "404",
                      "unmask": "403"},
        "permits": {"describe": "200 none", "rows": "200 none", "export": "200 none",
                    "unmask": "403"},
        "no_such_dataset": "404",
    },
    "analyst+agreement+mfa@patrol": {
        "incidents": {"describe": "200 patrol" + SEEN, "rows": "200 patrol" + SEEN,
                      "export": "404", "unmask": "403"},
        "permits": {"describe": "200 none", "rows": "200 none", "export": "200 none",
                    "unmask": "403"},
        "no_such_dataset": "404",
    },
    "viewer+agreement@patrol": {
        "incidents": {"describe": "200 patrol", "rows": "200 patrol", "export": "404",
                      "unmask": "403"},
        "permits": "404",
        "no_such_dataset": "404",
    },
    "analyst+request@public-works": {
        "incidents": {"describe": "200 public-works", "rows": "200 public-works",
                      "export": "404", "unmask": "403"},
        "permits": {"describe": "200 public-works", "rows": "200 public-works",
                    "export": "200 public-works", "unmask": "403"},
        "no_such_dataset": "404",
    },
    "analyst+request+mfa@public-works": {
        "incidents": {"describe": "200 public-works" + SEEN, "rows": "200 public-works" + SEEN,
                      "export": "404", "unmask": "403"},
        "permits": {"describe": "200 public-works", "rows": "200 public-works",
                    "export": "200 public-works", "unmask": "403"},
        "no_such_dataset": "404",
    },
}  # fmt: skip

AGREEMENT = """
agreements:
  - id: patrol-incidents
    title: Incidents for patrol planning
    parties:
      - department: patrol
    datasets: [incidents]
    purpose: Plan patrol routes
    legal_basis: Police general order 12
    start: 2020-01-01
    expires: 2099-12-31
    approver: Dana Ruiz, Chief Data Officer
"""


def expected(actor: str, dataset: str, operation: str) -> str:
    cell = EXPECTED[actor][dataset]
    return cell if isinstance(cell, str) else cell[operation]


def _rows_per_department() -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {"incidents": {}, "permits": {}}
    for name, rows in (("incidents", incident_rows()), ("permits", permit_rows())):
        for row in rows:
            key = row["department"] or "-"
            counts[name][key] = counts[name].get(key, 0) + 1
    return counts


def answer(client: TestClient, dataset: str, operation: str) -> str:
    """What the actor got: the status, and for a 200 the departments of the rows and the
    restricted columns among those returned."""
    response = client.get(OPERATIONS[operation].format(d=dataset))
    if response.status_code != 200:
        return str(response.status_code)
    if operation == "describe":
        # The count of the rows the reader sees, told as the departments that make it up.
        count = response.json()["row_count"]
        columns = [c["name"] for c in response.json()["columns"]]
        per = _rows_per_department()[dataset]
        matching = [
            ",".join(sorted(combo))
            for combo in _subsets(sorted(per))
            if sum(per[d] for d in combo) == count
        ]
        seen = matching[0] if len(matching) == 1 else f"{count} rows (ambiguous)"
    elif operation == "export":
        reader = csv.DictReader(io.StringIO(response.text))
        seen = ",".join(sorted({r["department"] or "-" for r in reader}))
        columns = list(reader.fieldnames or [])
    else:
        seen = ",".join(sorted({r["department"] or "-" for r in response.json()["rows"]}))
        columns = [c["name"] for c in response.json()["columns"]]
    restricted = [name for name in RESTRICTED if name in columns]
    return f"200 {seen or 'none'}" + (f" +{','.join(restricted)}" if restricted else "")


def _subsets(items: list[str]) -> list[list[str]]:
    found: list[list[str]] = [[]]
    for item in items:
        found += [[*subset, item] for subset in found]
    return found  # the empty one too: no row at all


@pytest.fixture
def granted_riverside(riverside: Context, admin: Actor) -> Context:
    """Riverside with the patrol division a party to a sharing agreement on incidents."""
    governance = riverside.root / "governance.yaml"
    governance.write_text(governance.read_text(encoding="utf-8") + AGREEMENT, encoding="utf-8")
    assert workspace_service.apply(riverside, admin).revision is not None
    return riverside


def _labelled(label: str) -> tuple[Role, str | None, set[str]]:
    """``role+flag+flag@department`` → the role, the department and the flags (mfa: signs in
    with a code; agreement: a member of the party; request: holds an approved request)."""
    role_part, _, department = label.partition("@")
    role, *flags = role_part.split("+")
    return Role(role), department or None, set(flags)


def _approve_request(ctx: Context, admin: Actor, username: str) -> None:
    asked = access.request(
        ctx, admin, "incidents", reason="Street safety study", days=30, for_user=username
    )
    assert access.approve(ctx, admin, asked.id).status == access.APPROVED


@pytest.fixture
def clients(
    granted_riverside: Context,
    riverside_browser: Callable[[], TestClient],
    riverside_user: Callable[..., Actor],
    admin: Actor,
) -> dict[str, TestClient]:
    opened = {"anonymous": riverside_browser()}
    for label in EXPECTED:
        if label == "anonymous":
            continue
        role, department, flags = _labelled(label)
        name = label.replace("@", "-at-").replace("+", "-").replace("_", "-")
        user = riverside_user(role, department, name)
        if "request" in flags:
            _approve_request(granted_riverside, admin, user.name)
        client = riverside_browser()
        if "mfa" in flags:
            enrolled = users.enroll_totp(granted_riverside, admin, user.name)
            seed = totp.from_base32(enrolled.secret)
            sign_in(client, user.name, code=totp.code_at(seed, time.time()))
        else:
            sign_in(client, user.name)
        opened[label] = client
    return opened


def test_every_role_gets_exactly_the_expected_answer_for_every_read(
    clients: dict[str, TestClient],
) -> None:
    mismatches = [
        f"{actor} {operation} {dataset}: expected {want}, got {got}"
        for actor, client in clients.items()
        for dataset in DATASETS
        for operation in OPERATIONS
        if (got := answer(client, dataset, operation))
        != (want := expected(actor, dataset, operation))
    ]

    assert mismatches == []
    assert len(clients) * len(DATASETS) * len(OPERATIONS) == 192


def _session_actor(ctx: Context, username: str, seed: bytes | None) -> Actor:
    """The user as a request sees them: signed in through the sign-in service (with a code
    when enrolled), the session resumed, their grants worked out afresh."""
    step = sign_in_service.with_password(ctx, username, PASSWORD)
    if seed is not None:
        assert isinstance(step, sign_in_service.CodeNeeded)
        step = sign_in_service.with_code(ctx, step.challenge, totp.code_at(seed, time.time()))
    assert isinstance(step, sign_in_service.Granted)
    token, _ = sessions.open_session(ctx, step.actor)
    resumed = sessions.resume_session(ctx, token)
    assert resumed is not None
    return resumed.actor


@pytest.mark.parametrize(
    ("grant", "department", "own"),
    [("agreement", "patrol", {"patrol"}), ("request", "police", {"police", "patrol"})],
    ids=["agreement", "request"],
)
def test_a_grant_holder_reads_through_the_services_but_never_exports_or_unmasks(
    granted_riverside: Context,
    riverside_user: Callable[..., Actor],
    admin: Actor,
    grant: str,
    department: str,
    own: set[str],
) -> None:
    """The same rules as the web routes, asked of the services directly: the grant reads
    the holder's own rows; restricted columns come only with a second factor."""
    ctx = granted_riverside
    columns: dict[bool, list[str]] = {}
    for mfa in (False, True):
        user = riverside_user(Role.ANALYST, department, f"{grant}-holder-{'mfa' if mfa else 'pw'}")
        if grant == "request":
            _approve_request(ctx, admin, user.name)
        seed = totp.from_base32(users.enroll_totp(ctx, admin, user.name).secret) if mfa else None
        actor = _session_actor(ctx, user.name, seed)
        assert (actor.mfa, actor.grants) == (mfa, frozenset({"dataset:read:incidents"}))

        described = datasets.describe(ctx, actor, "incidents")
        page = datasets.rows(ctx, actor, "incidents", limit=1000)
        assert [c["name"] for c in described.columns] == [c.name for c in page.columns]
        columns[mfa] = [c.name for c in page.columns if c.name in RESTRICTED]
        assert {r["department"] for r in page.rows} == own
        assert described.row_count == len(page.rows) > 0
        with pytest.raises(PermissionDenied):
            datasets.export_csv(ctx, actor, "incidents")
        with pytest.raises(Forbidden):
            datasets.rows(ctx, actor, "incidents", unmask=True)

    assert columns == {False: [], True: list(RESTRICTED)}
