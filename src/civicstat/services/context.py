"""The running context of one workspace: settings, metadata store, lake, warehouse."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from civicstat import private_files
from civicstat.governance import audit_guard
from civicstat.governance import secrets as secret_keys
from civicstat.metadata import revisions
from civicstat.metadata.db import Database
from civicstat.metadata.models import utcnow
from civicstat.services.errors import InvalidInput
from civicstat.settings import Settings
from civicstat.spec.boundary import Boundary
from civicstat.spec.models import (
    Agreement,
    Department,
    Goal,
    Masking,
    Measure,
    Objective,
    PiiKind,
    PlanPeriod,
    Source,
    Suppression,
    WorkspaceFile,
)
from civicstat.spec.validate import workspace_settings
from civicstat.spec.workspace import WORKSPACE_FILE
from civicstat.warehouse.engine import Warehouse
from civicstat.warehouse.storage import Lake


@dataclass(frozen=True)
class AppliedPlan:
    """The workspace as last applied: what every service works from (not the files on disk)."""

    revision_id: int
    settings: WorkspaceFile
    title: str
    period: PlanPeriod
    departments: dict[str, Department]
    goals: list[Goal]  # each with its objectives, in plan order
    measures: dict[str, Measure]
    sources: dict[str, Source]
    # governance.yaml's masking by PII kind (a column's own masking comes first)
    masking: dict[PiiKind, Masking] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)  # data sharing agreements
    suppression: Suppression = field(default_factory=Suppression)  # public outputs' threshold

    def objectives(self) -> list[tuple[Goal, Objective]]:
        return [(g, o) for g in self.goals for o in g.objectives]

    def source_for_dataset(self, dataset_id: str) -> Source | None:
        return next((s for s in self.sources.values() if s.dataset_id == dataset_id), None)


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
                self._plan = _build_plan(
                    latest.id, latest.layout, revisions.applied_bodies(session)
                )
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


Body = dict[str, Any]


def _build_plan(revision_id: int, layout: Body, bodies: dict[tuple[str, str], Body]) -> AppliedPlan:
    def of(kind: str) -> dict[str, Body]:
        return {key: body for (k, key), body in bodies.items() if k == kind}

    objectives = {k: Objective.model_validate(b) for k, b in of("objective").items()}
    goal_bodies = of("goal")
    goals = [
        Goal.model_validate({**goal_bodies[entry["id"]], "objectives": []}).model_copy(
            update={"objectives": [objectives[o] for o in entry["objectives"]]}
        )
        for entry in layout["goals"]
    ]
    return AppliedPlan(
        revision_id=revision_id,
        settings=WorkspaceFile.model_validate(next(iter(of("workspace").values()))),
        title=layout["plan"]["title"],
        period=PlanPeriod.model_validate(layout["plan"]["period"]),
        departments={k: Department.model_validate(b) for k, b in of("department").items()},
        goals=goals,
        measures={k: Measure.model_validate(b) for k, b in of("measure").items()},
        sources={k: Source.model_validate(b) for k, b in of("source").items()},
        masking={PiiKind(k): Masking(v) for k, v in layout.get("masking", {}).items()},
        agreements={k: Agreement.model_validate(b) for k, b in of("agreement").items()},
        suppression=Suppression.model_validate(layout.get("suppression", {})),
    )
