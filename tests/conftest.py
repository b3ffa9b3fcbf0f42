"""Shared fixtures: real services (PostgreSQL), real data (../shared/data), real workspaces.

A test that needs a service or the shared data skips on a user's machine without it, but
fails under ``CI=true``: there, a skip would hide a broken promise. Any other skip or
expected failure fails a CI run too, but for a declared engine limit (see skip_guard).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from civicstat.governance.actors import Actor, operator
from civicstat.services import workspace as workspace_service
from civicstat.services.context import Context
from civicstat.settings import Settings
from civicstat.spec.example import write_example
from civicstat.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CIVICSTAT_SHARED_DATA", ROOT.parent / "shared" / "data"))
POSTGRES_ADMIN_URL = os.environ.get(
    "CIVICSTAT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytest_plugins = ["skip_guard"]


def unavailable(reason: str) -> None:
    """Skip on a user's machine; fail in CI, where every prerequisite must be present."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this may not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        unavailable(f"shared data folder {SHARED_DATA} not found")
    return SHARED_DATA


@pytest.fixture(scope="session")
def java() -> str:
    """The JVM that Spark (PySpark in local mode) runs on."""
    home = os.environ.get("JAVA_HOME")
    found = shutil.which("java", path=str(Path(home) / "bin")) if home else shutil.which("java")
    if found is None:
        unavailable("Java not found (java on PATH or JAVA_HOME): Spark needs a JVM")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def postgres_server() -> str:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        unavailable(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {error.__class__.__name__}")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    name = f"civicstat_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each metadata test runs on both stores: the SQLite default and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'metadata.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def admin() -> Actor:
    return operator("pytest")


@pytest.fixture
def example_root(tmp_path: Path) -> Path:
    """A fresh copy of the example workspace that `civicstat init` writes."""
    root = tmp_path / "ws"
    write_example(root)
    return root


@pytest.fixture
def make_context(database_url: str) -> Iterator[Callable[[Path], Context]]:
    """Open contexts on a workspace with the parametrised metadata store."""
    opened: list[Context] = []

    def make(root: Path) -> Context:
        # The shared data folder is a data root, as an operator would list a city's exports.
        settings = Settings(workspace=root, database_url=database_url, data_roots=[SHARED_DATA])
        ctx = Context(settings)
        ctx.migrate()
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        ctx.close()


@pytest.fixture
def example_ctx(
    example_root: Path, make_context: Callable[[Path], Context], admin: Actor
) -> Context:
    """The example workspace, applied, on each metadata store."""
    ctx = make_context(example_root)
    workspace_service.apply(ctx, admin)
    return ctx


@pytest.fixture
def make_client(database_url: str) -> Iterator[Callable[..., TestClient]]:
    """A test browser on a new app sharing an open context (from ``address``, if given);
    redirects are not followed."""
    opened: list[TestClient] = []

    def make(ctx: Context, address: str | None = None) -> TestClient:
        app = create_app(Settings(workspace=ctx.root, database_url=database_url), ctx)
        client = (
            TestClient(app, follow_redirects=False)
            if address is None
            else TestClient(app, follow_redirects=False, client=(address, 50000))
        )
        client.__enter__()  # runs the app's lifespan, as a server would
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)
