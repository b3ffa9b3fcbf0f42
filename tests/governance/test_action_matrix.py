"""Every role against every action on objects of two departments, against a table written
out by hand: a new action, or a changed grant, must change this table too."""

from __future__ import annotations

import pytest

from civicstat.governance.actors import ANONYMOUS, Actor, Role
from civicstat.governance.permissions import ACTIONS, Resource, allowed
from civicstat.spec.models import Classification

# Who may do what, for an actor of the police department (signed in with a second
# factor) on an internal object of police ("own") and of public works ("other").
# Columns: admin, steward, department_head, analyst, viewer.
# "*" = both departments, "own" = police only, "-" = neither.
TABLE = """
plan:read          *     *     *     *     *
measure:read       *     *     *     *     *
catalog:read       *     *     *     *     *
dataset:read       *     *     *     *     -
dataset:export     *     *     *     *     -
dataset:unmask     *     *     -     -     -
dataset:document   *     *     -     -     -
source:ingest      *     *     -     -     -
source:push        *     *     -     -     -
run:read           *     *     *     *     -
measure:compute    *     *     -     -     -
measure:approve    *     -     -     -     -
workspace:apply    *     -     -     -     -
user:manage        *     -     -     -     -
token:manage       *     -     -     -     -
lake:prune         *     -     -     -     -
lake:sweep         *     -     -     -     -
audit:read         *     -     -     -     -
access:request     *     *     *     *     -
access:decide      *     own   -     -     -
agreement:read     *     *     *     *     *
agreement:draft    *     -     own   -     -
agreement:sign     -     -     own   -     -
agreement:review   *     -     own   -     -
action:read        *     *     *     *     *
action:write       *     -     own   -     -
meeting:read       *     *     *     *     -
meeting:run        *     -     -     -     -
portal:app         -     -     -     -     -
"""
ROLES = [Role.ADMIN, Role.STEWARD, Role.DEPARTMENT_HEAD, Role.ANALYST, Role.VIEWER]
EXPECTED = {
    line.split()[0]: dict(zip(ROLES, line.split()[1:], strict=True))
    for line in TABLE.strip().splitlines()
}


def resource(action: str, department: str) -> Resource:
    kind = ACTIONS[action].resource_kind
    return Resource(kind, f"{kind}-of-{department}", department, Classification.INTERNAL)


def test_the_table_names_every_action() -> None:
    assert set(EXPECTED) == set(ACTIONS)


@pytest.mark.parametrize("role", ROLES)
def test_every_action_on_objects_of_two_departments(role: Role) -> None:
    actor = Actor("user", f"{role}-1", role=role, department="police", user_id=1, mfa=True)
    mismatches = []
    for action, cells in EXPECTED.items():
        expected = {"*": (True, True), "own": (True, False), "-": (False, False)}[cells[role]]
        got = (
            allowed(actor, ACTIONS[action], resource(action, "police")),
            allowed(actor, ACTIONS[action], resource(action, "works")),
        )
        if got != expected:
            mismatches.append((action, "expected", expected, "got", got))
    assert mismatches == []


def test_without_a_second_factor_nobody_unmasks() -> None:
    for role in ROLES:
        actor = Actor("user", "x", role=role, department="police", user_id=1, mfa=False)
        assert not allowed(actor, ACTIONS["dataset:unmask"], resource("dataset:unmask", "police"))


def test_the_anonymous_public_and_a_push_token_do_only_what_they_are_given() -> None:
    token = Actor("token", "t", token_id=1, scopes=frozenset({"source:push:*"}))
    for action in ACTIONS:
        for department in ("police", "works"):
            target = resource(action, department)
            assert not allowed(ANONYMOUS, ACTIONS[action], target)
            assert allowed(token, ACTIONS[action], target) == (action == "source:push")
