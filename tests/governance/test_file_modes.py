"""What CivicStat keeps on disk for a workspace (the metadata store and its write-ahead
log, the secret key, raw copies and curated tables of restricted data, documents) is
readable by the server's own user only: files 600, folders 700, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from reads_helpers import write_workspace

from civicstat.governance import secrets
from civicstat.governance.actors import Actor, Role
from civicstat.services import ingest, lake, workspace
from civicstat.services.accounts import users
from civicstat.services.context import Context
from civicstat.settings import Settings


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The common default (022), under which a plain ``open`` makes world-readable files."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def loose(root: Path) -> dict[str, str]:
    """Every file or folder under ``root`` that another account could read or enter."""
    found = {
        str(path.relative_to(root)): oct(mode(path))
        for path in [root, *root.rglob("*")]
        if mode(path) & 0o077
    }
    return found


def test_a_workspace_s_store_key_and_lake_are_the_server_user_s_alone(
    tmp_path: Path, admin: Actor
) -> None:
    root = write_workspace(tmp_path / "riverside")
    ctx = Context(Settings(workspace=root))  # the embedded store, in .civicstat/
    try:
        ctx.migrate()
        workspace.apply(ctx, admin)
        for source in ("incidents", "permits"):
            ingest.ingest(ctx, admin, source)
        users.add_user(ctx, admin, username="ana", password="a long passphrase", role=Role.ADMIN)
        users.enroll_totp(ctx, admin, "ana")  # makes the workspace's secret key
        pdf = tmp_path / "dictionary.pdf"
        pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
        lake.add_document(ctx, admin, "incidents", pdf)

        state = root / ".civicstat"
        kept = {p.name for p in state.iterdir()}
        assert {"metadata.db", "metadata.db-wal", "metadata.db-shm", secrets.KEY_FILE} <= kept
        assert loose(state) == {}
        assert mode(state) == 0o700
        assert mode(state / "metadata.db-wal") == 0o600
        lake_root = ctx.lake.root
        assert list(lake_root.glob("raw/incidents/*/*.csv"))
        assert list(lake_root.glob("tables/incidents/*/*.parquet"))
        assert list(lake_root.glob("raw/documents/incidents/*/*.pdf"))
        assert loose(lake_root) == {}
    finally:
        ctx.close()


def test_opening_a_workspace_tightens_what_an_older_version_left_readable(
    tmp_path: Path, admin: Actor
) -> None:
    root = write_workspace(tmp_path / "riverside")
    ctx = Context(Settings(workspace=root))
    ctx.migrate()
    workspace.apply(ctx, admin)
    ingest.ingest(ctx, admin, "incidents")
    secrets.secret_key(ctx.settings)
    ctx.close()
    state = root / ".civicstat"
    for path in [state / "metadata.db", state / secrets.KEY_FILE]:
        path.chmod(0o644)
    state.chmod(0o755)
    (root / "lake").chmod(0o755)

    reopened = Context(Settings(workspace=root))
    try:
        reopened.migrate()
        secrets.secret_key(reopened.settings)
        assert mode(state) == 0o700
        assert mode(state / "metadata.db") == 0o600
        assert mode(state / secrets.KEY_FILE) == 0o600
        assert mode(root / "lake") == 0o700
    finally:
        reopened.close()
