"""Accountability fixtures: the example workspace with its data ingested, and the people
who act on it, made through the users service."""

from __future__ import annotations

import pytest
from accountability_helpers import person
from argon2 import PasswordHasher

from civicstat.governance import passwords
from civicstat.governance.actors import Actor, Role
from civicstat.services import ingest
from civicstat.services.context import Context


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_DUMMY", cheap.hash("civicstat-dummy-password"))


@pytest.fixture
def head(example_ctx: Context, admin: Actor) -> Actor:
    """The head of 311 Customer Service, which owns two objectives of the example plan."""
    return person(example_ctx, admin, "cs-head", Role.DEPARTMENT_HEAD, "customer-service")


@pytest.fixture
def other_head(example_ctx: Context, admin: Actor) -> Actor:
    return person(example_ctx, admin, "pw-head", Role.DEPARTMENT_HEAD, "public-works")


@pytest.fixture
def ingested_ctx(example_ctx: Context, admin: Actor) -> Context:
    """The example with its service requests ingested: close-requests-on-time is off target."""
    ingest.ingest(example_ctx, admin, "service_requests")
    return example_ctx
