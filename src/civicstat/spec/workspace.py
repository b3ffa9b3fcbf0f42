"""A loaded, valid workspace, and the issues that keep one from loading."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from civicstat.spec.models import (
    DataPolicy,
    Goal,
    GovernanceFile,
    Measure,
    Objective,
    PlanFile,
    Source,
    Story,
    WorkspaceFile,
)

WORKSPACE_FILE = "civicstat.yaml"
PLAN_FILE = "plan.yaml"
GOVERNANCE_FILE = "governance.yaml"
MEASURES_DIR = "measures"
SOURCES_DIR = "sources"


@dataclass(frozen=True, slots=True, order=True)
class Issue:
    """One problem in a spec file, at a 1-based line and column."""

    path: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"


class SpecError(Exception):
    """The workspace does not load; ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal content gives equal text, hence equal hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def definition_hash(model: BaseModel) -> str:
    """SHA-256 of a spec object's canonical JSON: which definition produced a number."""
    body = canonical_json(model.model_dump(mode="json"))
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class SpecObject:
    """One named object of the spec, as stored in a plan revision."""

    kind: str
    key: str
    title: str
    body: dict[str, Any]
    hash: str


@dataclass(frozen=True)
class Workspace:
    root: Path
    settings: WorkspaceFile
    plan: PlanFile
    governance: GovernanceFile
    measures: dict[str, Measure] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)
    stories: dict[str, Story] = field(default_factory=dict)  # stories/*.md, for the portal
    data_policy: DataPolicy | None = None  # the file portal.data_policy names

    def objectives(self) -> Iterator[tuple[Goal, Objective]]:
        for goal in self.plan.goals:
            for objective in goal.objectives:
                yield goal, objective

    def source_for_dataset(self, dataset: str) -> Source | None:
        return next((s for s in self.sources.values() if s.dataset_id == dataset), None)

    def spec_objects(self) -> list[SpecObject]:
        """Every named object with its own definition hash, in a stable order."""
        objects: list[SpecObject] = [
            _object("workspace", self.settings.name, self.settings.title, self.settings)
        ]
        objects += [_object("department", d.id, d.title, d) for d in self.governance.departments]
        for goal in self.plan.goals:
            # A goal's own definition excludes its objectives: they are objects of their own.
            bare = goal.model_copy(update={"objectives": []})
            objects.append(_object("goal", goal.id, goal.title, bare))
            objects += [_object("objective", o.id, o.title, o) for o in goal.objectives]
        objects += [_object("measure", m.id, m.title, m) for m in self.measures.values()]
        objects += [_object("source", s.id, s.title, s) for s in self.sources.values()]
        objects += [_object("agreement", a.id, a.title, a) for a in self.governance.agreements]
        objects += [_object("story", s.id, s.title, s) for s in self.stories.values()]
        if self.data_policy is not None:
            objects.append(_object("policy", "data", "Data policy", self.data_policy))
        return sorted(objects, key=lambda o: (o.kind, o.key))

    def layout(self) -> dict[str, Any]:
        """What the objects alone do not say: the plan's title, period and order."""
        layout: dict[str, Any] = {
            "plan": self.plan.model_dump(mode="json", include={"title", "period"}),
            "goals": [
                {"id": g.id, "objectives": [o.id for o in g.objectives]} for g in self.plan.goals
            ],
            "suppression": self.governance.suppression.model_dump(mode="json"),
        }
        if self.governance.masking:  # absent when unset: older revisions keep their hash
            layout["masking"] = {str(k): str(v) for k, v in self.governance.masking.items()}
        return layout

    def content_hash(self) -> str:
        """Hash of the whole workspace spec: unchanged files give an unchanged hash."""
        digest = hashlib.sha256()
        digest.update(canonical_json(self.layout()).encode())
        for obj in self.spec_objects():
            digest.update(f"{obj.kind}\0{obj.key}\0{obj.hash}\n".encode())
        return digest.hexdigest()


def _object(kind: str, key: str, title: str, model: BaseModel) -> SpecObject:
    return SpecObject(kind, key, title, model.model_dump(mode="json"), definition_hash(model))
