"""The running context of one workspace: settings, metadata store, lake, warehouse."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from civicstat.metadata import revisions
from civicstat.metadata.db import Database
from civicstat.metadata.models import utcnow
from civicstat.services.errors import InvalidInput
from civicstat.settings import Settings
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
from civicstat.warehouse.lake import Lake


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
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.resolved_database_url(spec.storage.database_url))
        self.lake = Lake(settings.resolved_lake(spec.storage.lake_url))
        self.lake.root.mkdir(parents=True, exist_ok=True)
        self.warehouse = Warehouse(
            settings.warehouse_url or spec.storage.warehouse_url, self.lake.root
        )
        self._plan: AppliedPlan | None = None
        # What time it is, for decisions that expire (grants, agreements); tests freeze it.
        self.clock: Callable[[], dt.datetime] = utcnow
        self._plan_lock = threading.Lock()

    def migrate(self) -> None:
        self.db.migrate()

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
