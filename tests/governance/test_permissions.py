"""Restricted data needs a second factor, on top of the role's clearance; the rest of the
permission table is unchanged by it."""

from __future__ import annotations

import pytest

from civicstat.governance.actors import Actor, Role, operator, system
from civicstat.governance.permissions import (
    AUDIT_READ,
    CLEARANCE,
    DATASET_READ,
    PLAN_READ,
    ROLE_GRANTS,
    Resource,
    allowed,
)
from civicstat.spec.models import Classification


def user(role: Role, *, mfa: bool) -> Actor:
    return Actor("user", "someone", role, "police", 7, mfa=mfa)


def dataset(classification: Classification | None) -> Resource:
    return Resource("dataset", "calls_911", "police", classification)


@pytest.mark.parametrize("classification", [Classification.RESTRICTED, None])
def test_an_admin_without_a_second_factor_may_not_read_restricted_data(
    classification: Classification | None,
) -> None:
    assert not allowed(user(Role.ADMIN, mfa=False), DATASET_READ, dataset(classification))
    assert allowed(user(Role.ADMIN, mfa=True), DATASET_READ, dataset(classification))


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("classification", list(Classification))
def test_a_second_factor_never_raises_clearance(role: Role, classification: Classification) -> None:
    """With or without it, the role's clearance is the ceiling; below restricted the
    factor changes nothing."""
    levels = list(Classification)
    within = DATASET_READ.name in ROLE_GRANTS[role] and levels.index(
        classification
    ) <= levels.index(CLEARANCE[role])
    with_mfa = allowed(user(role, mfa=True), DATASET_READ, dataset(classification))
    without = allowed(user(role, mfa=False), DATASET_READ, dataset(classification))

    assert with_mfa == within
    assert without == (within and classification is not Classification.RESTRICTED)


def test_the_plan_does_not_need_a_second_factor() -> None:
    assert allowed(user(Role.VIEWER, mfa=False), PLAN_READ, Resource("plan", "plan"))


def test_operators_and_system_tasks_count_as_second_factor() -> None:
    restricted = dataset(Classification.RESTRICTED)

    assert operator("ana").mfa
    assert system("recompute").mfa
    assert allowed(operator("ana"), DATASET_READ, restricted)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_read_the_audit_log(role: Role) -> None:
    log = Resource("audit", "log")

    assert allowed(user(Role.ADMIN, mfa=False), AUDIT_READ, log)
    assert not allowed(user(role, mfa=True), AUDIT_READ, log)


def test_a_token_never_reads_restricted_data() -> None:
    token = Actor("token", "token:1:cad", token_id=1, scopes=frozenset({"source:push:*"}))

    assert not allowed(token, DATASET_READ, dataset(Classification.RESTRICTED))
