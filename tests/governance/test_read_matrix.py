"""Every role against every operation that reads a dataset, on datasets of two departments:
the answers must match the expected table exactly. Someone who may not see a dataset gets
404, as for one that does not exist; 403 is only for unmasking a dataset one does see.

Riverside's ``incidents`` belongs to police (confidential) and ``permits`` to public works
(internal); both are filtered by a department column. A 200 cell lists the departments
whose rows came back ("-": rows without a department).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from reads_helpers import incident_rows, permit_rows, sign_in

from civicstat.governance import totp
from civicstat.governance.actors import Actor, Role
from civicstat.services import users
from civicstat.services.context import Context

OPERATIONS = {
    "describe": "/api/v1/datasets/{d}",
    "rows": "/api/v1/datasets/{d}/rows?limit=10000",
    "export": "/api/v1/datasets/{d}/rows.csv",
    "unmask": "/api/v1/datasets/{d}/rows?limit=10000&unmask=true",
}
DATASETS = ("incidents", "permits", "no_such_dataset")

ALL_INCIDENTS = "200 -,patrol,police,public-works"
ALL_PERMITS = "200 police,public-works"
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
    "admin+mfa": {"incidents": ALL_INCIDENTS, "permits": ALL_PERMITS, "no_such_dataset": "404"},
}  # fmt: skip


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
    """What the actor got: the status, and for a 200 the departments of the rows."""
    response = client.get(OPERATIONS[operation].format(d=dataset))
    if response.status_code != 200:
        return str(response.status_code)
    if operation == "describe":
        # The count of the rows the reader sees, told as the departments that make it up.
        count = response.json()["row_count"]
        per = _rows_per_department()[dataset]
        matching = [
            ",".join(sorted(combo))
            for combo in _subsets(sorted(per))
            if sum(per[d] for d in combo) == count
        ]
        return "200 " + (matching[0] if len(matching) == 1 else f"{count} rows (ambiguous)")
    if operation == "export":
        values = {r["department"] or "-" for r in csv.DictReader(io.StringIO(response.text))}
    else:
        values = {r["department"] or "-" for r in response.json()["rows"]}
    return "200 " + ",".join(sorted(values))


def _subsets(items: list[str]) -> list[list[str]]:
    found: list[list[str]] = [[]]
    for item in items:
        found += [[*subset, item] for subset in found]
    return [s for s in found if s]


@pytest.fixture
def clients(
    riverside: Context,
    riverside_browser: Callable[[], TestClient],
    riverside_user: Callable[..., Actor],
    admin: Actor,
) -> dict[str, TestClient]:
    opened = {"anonymous": riverside_browser()}
    for label in EXPECTED:
        if label == "anonymous":
            continue
        role_part, _, department = label.partition("@")
        mfa = role_part.endswith("+mfa")
        role = Role(role_part.removesuffix("+mfa"))
        name = label.replace("@", "-at-").replace("+", "-").replace("_", "-")
        user = riverside_user(role, department or None, name)
        client = riverside_browser()
        if mfa:
            seed = totp.from_base32(users.enroll_totp(riverside, admin, user.name).secret)
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
    assert len(clients) * len(DATASETS) * len(OPERATIONS) == 132
