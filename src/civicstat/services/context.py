"""The running context of one workspace: settings, metadata store, lake, warehouse."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from civicstat import private_files
from civicstat.governance import audit_guard
from civicstat.governance import secrets as secret_keys
from civicstat.metadata import revisions
from civicstat.metadata.db import Database
from civicstat.metadata.models import utcnow
from civicstat.plan import AppliedPlan, build_plan
from civicstat.services.errors import InvalidInput
from civicstat.settings import Settings
from civicstat.spec.boundary import Boundary
from civicstat.spec.models import WorkspaceFile
from civicstat.spec.validate import workspace_settings
from civicstat.spec.workspace import WORKSPACE_FILE
from civicstat.warehouse.engine import Warehouse
from civicstat.warehouse.storage import Lake


class Context:
    """Opened once per process (per CLI command, per web app) and passed to services."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.workspace.resolve()
        spec = _storage_spec(self.root)
        # The state folder (metadata store, secret key) and the lake hold secrets and
        # restricted data: the server user's alone, tightened if an older version made them.
        private_files.restrict(private_files.make_folder(self.settings.state_dir))
        database_url = settings.resolved_database_url(spec.storage.database_url)
        self.db = Database(database_url, audit_key=secret_keys.audit_key(settings))
        self.lake = Lake(settings.resolved_lake(spec.storage.lake_url))
        private_files.restrict(private_files.make_folder(self.lake.root))
        # What the workspace's sources may read on this machine: never the stores above.
        self.boundary = Boundary.of(
            self.root, settings.data_roots, [self.lake.root, *database_files(database_url)]
        )
        self.warehouse = Warehouse(
            settings.warehouse_url or spec.storage.warehouse_url, self.lake.root
        )
        self._plan: AppliedPlan | None = None
        # What time it is, for decisions that expire (grants, agreements); tests freeze it.
        self.clock: Callable[[], dt.datetime] = utcnow
        self._plan_lock = threading.Lock()

    def migrate(self, *, protect: bool = True) -> audit_guard.Started:
        """Bring the metadata store up to date, anchor an audit log written before it was
        keyed, and (``protect``) put back missing append-only triggers, audited."""
        self.db.migrate()
        return audit_guard.prepare(self.db, self.settings.resolved_audit_heads(), protect=protect)

    def applied_plan(self, session: Session) -> AppliedPlan | None:
        """The applied plan, rebuilt only when a newer revision exists."""
        latest = revisions.latest(session)
        if latest is None:
            return None
        with self._plan_lock:
            if self._plan is None or self._plan.revision_id != latest.id:
                self._plan = build_plan(latest.id, latest.layout, revisions.applied_bodies(session))
            return self._plan

    def require_plan(self, session: Session) -> AppliedPlan:
        """The applied plan, or a clear error telling the operator to apply one."""
        plan = self.applied_plan(session)
        if plan is None:
            raise InvalidInput("no plan applied yet: run 'civicstat apply' first")
        return plan

    def close(self) -> None:
        self.warehouse.close()
        self.db.dispose()


def database_files(url: str) -> list[Path]:
    """The files of a SQLite metadata store (with its journal and WAL), none for a server."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return []
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return []
    path = Path(name).absolute()  # as SQLite opens it: from the current folder
    return [path, *(path.with_name(path.name + end) for end in ("-wal", "-shm", "-journal"))]


def _storage_spec(root: Path) -> WorkspaceFile:
    """Read only civicstat.yaml's settings (storage URLs, time zone) to open the stores,
    with the bounds and checks of ``civicstat validate`` (a SpecError lists its problems)."""
    path = root / WORKSPACE_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: not a CivicStat workspace (no {WORKSPACE_FILE})")
    return workspace_settings(root)
