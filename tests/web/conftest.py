"""Web fixtures: the app on the applied example workspace (each metadata store), and users
built through the users service."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, MakeClient, MakeUser

from civicstat.governance import passwords
from civicstat.governance.actors import Actor, Role
from civicstat.services.accounts import users
from civicstat.services.context import Context


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id with its cost turned down: these tests are about the web, not about how
    slow a guess is, and the default cost (~0.2 s a hash) would dominate the run."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_DUMMY", cheap.hash("civicstat-dummy-password"))


@pytest.fixture
def client(example_ctx: Context, make_client: MakeClient) -> TestClient:
    return make_client(example_ctx)


@pytest.fixture
def app(client: TestClient) -> FastAPI:
    assert isinstance(client.app, FastAPI)
    return client.app


@pytest.fixture
def make_user(example_ctx: Context, admin: Actor) -> MakeUser:
    """Add a user through the users service; returns the user name (the password is PASSWORD)."""

    def make(
        role: Role, username: str | None = None, department: str | None = "customer-service"
    ) -> str:
        name = username or role.value.replace("_", "-")
        users.add_user(
            example_ctx, admin, username=name, password=PASSWORD, role=role, department=department
        )
        return name

    return make


@pytest.fixture
def example_csv(example_root: Path) -> Path:
    return example_root / "data" / "service_requests.csv"
