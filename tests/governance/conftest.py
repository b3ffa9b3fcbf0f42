"""Governance fixtures: cheap real argon2id, and users made through the users service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from governance_helpers import PASSWORD, MakeUser
from reads_helpers import write_workspace

from civicstat.governance import passwords
from civicstat.governance.actors import Actor, Role
from civicstat.services import ingest, workspace
from civicstat.services.accounts import users
from civicstat.services.context import Context


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id with its cost turned down: these tests are about what sign-in does,
    not about how slow a guess is."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_DUMMY", cheap.hash("civicstat-dummy-password"))


@pytest.fixture
def make_user(example_ctx: Context, admin: Actor) -> MakeUser:
    """Add a user through the users service; returns the user name (password: PASSWORD)."""

    def make(role: Role = Role.VIEWER, username: str | None = None) -> str:
        name = username or role.value.replace("_", "-")
        users.add_user(
            example_ctx,
            admin,
            username=name,
            password=PASSWORD,
            role=role,
            department="customer-service",
        )
        return name

    return make


# --- governed reads: the Riverside workspace with planted canaries (reads_helpers) ------


@pytest.fixture
def riverside(tmp_path: Path, make_context: Callable[[Path], Context], admin: Actor) -> Context:
    """Riverside applied and both its datasets ingested, on each metadata store."""
    ctx = make_context(write_workspace(tmp_path / "riverside"))
    workspace.apply(ctx, admin)
    for source in ("incidents", "permits"):
        ingest.ingest(ctx, admin, source)
    return ctx


@pytest.fixture
def riverside_user(riverside: Context, admin: Actor) -> Callable[..., Actor]:
    """Add a Riverside user through the users service (password: PASSWORD)."""

    def make(role: Role, department: str | None, username: str | None = None) -> Actor:
        name = username or f"{role.value.replace('_', '-')}-{department or 'none'}"
        return users.add_user(
            riverside, admin, username=name, password=PASSWORD, role=role, department=department
        )

    return make


@pytest.fixture
def riverside_browser(
    riverside: Context, make_client: Callable[..., TestClient]
) -> Callable[[], TestClient]:
    """New test browsers on Riverside's app; redirects are not followed."""
    return lambda: make_client(riverside)
