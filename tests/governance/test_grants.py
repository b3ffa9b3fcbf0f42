"""Grants in ``allowed()``: a sharing agreement or an approved request lets one user read
one dataset beyond their role, and nothing else; stewards decide only for their own
department's datasets."""

from __future__ import annotations

import pytest

from civicstat.governance.actors import Actor, Role
from civicstat.governance.permissions import (
    ACCESS_DECIDE,
    ACCESS_REQUEST,
    DATASET_EXPORT,
    DATASET_READ,
    MEASURE_APPROVE,
    Resource,
    allowed,
    cleared,
)
from civicstat.spec.models import Classification

GRANT = frozenset({"dataset:read:calls_911"})


def user(role: Role, *, grants: frozenset[str] = frozenset(), mfa: bool = False) -> Actor:
    return Actor("user", "someone", role, "parks", 7, mfa=mfa, grants=grants)


def dataset(classification: Classification | None, dataset_id: str = "calls_911") -> Resource:
    return Resource("dataset", dataset_id, "police", classification)


@pytest.mark.parametrize("role", list(Role))
def test_a_grant_lets_any_role_read_that_dataset(role: Role) -> None:
    confidential = dataset(Classification.CONFIDENTIAL)

    assert allowed(user(role, grants=GRANT), DATASET_READ, confidential)
    assert cleared(user(role, grants=GRANT), Classification.CONFIDENTIAL, "calls_911")


def test_a_grant_reads_only_its_own_dataset_and_does_not_export() -> None:
    analyst = user(Role.ANALYST, grants=GRANT)

    assert not allowed(analyst, DATASET_READ, dataset(Classification.CONFIDENTIAL, "permits"))
    assert not cleared(analyst, Classification.CONFIDENTIAL, "permits")
    assert not allowed(analyst, DATASET_EXPORT, dataset(Classification.CONFIDENTIAL))


def test_granted_restricted_data_still_needs_a_second_factor() -> None:
    restricted = dataset(Classification.RESTRICTED)

    assert not allowed(user(Role.ANALYST, grants=GRANT), DATASET_READ, restricted)
    assert allowed(user(Role.ANALYST, grants=GRANT, mfa=True), DATASET_READ, restricted)


@pytest.mark.parametrize("classification", [Classification.RESTRICTED, None])
def test_a_grant_clears_restricted_and_undeclared_columns_only_with_a_second_factor(
    classification: Classification | None,
) -> None:
    """A column of a granted dataset above the grant's reach without a code: restricted, or
    not declared at all (schema drift)."""
    assert not cleared(user(Role.ANALYST, grants=GRANT), classification, "calls_911")
    assert cleared(user(Role.ANALYST, grants=GRANT, mfa=True), classification, "calls_911")
    assert cleared(user(Role.ANALYST, grants=GRANT), Classification.CONFIDENTIAL, "calls_911")


def test_grants_count_for_users_only() -> None:
    token = Actor("token", "token:1:x", token_id=1, grants=GRANT)
    anonymous = Actor("anonymous", "anonymous", grants=GRANT)

    assert not allowed(token, DATASET_READ, dataset(Classification.PUBLIC))
    assert not allowed(anonymous, DATASET_READ, dataset(Classification.PUBLIC))


def test_stewards_decide_requests_for_their_own_departments_datasets_only() -> None:
    police = Actor("user", "sue", Role.STEWARD, "police", 1)
    parks = Actor("user", "otto", Role.STEWARD, "parks", 2)
    admin = Actor("user", "ada", Role.ADMIN, "parks", 3)
    owned = dataset(Classification.CONFIDENTIAL)

    assert allowed(police, ACCESS_DECIDE, owned)
    assert not allowed(parks, ACCESS_DECIDE, owned)
    assert allowed(admin, ACCESS_DECIDE, owned)
    assert not allowed(police, ACCESS_DECIDE, Resource("dataset", "orphan"))


@pytest.mark.parametrize("role", list(Role))
def test_who_asks_and_who_approves_measures(role: Role) -> None:
    someone = Actor("user", "x", role, "police", 1)
    measure = Resource("measure", "pct-911-answered-10s", "police")

    assert allowed(someone, MEASURE_APPROVE, measure) == (role is Role.ADMIN)
    assert allowed(someone, ACCESS_REQUEST, dataset(None)) == (role is not Role.VIEWER)
