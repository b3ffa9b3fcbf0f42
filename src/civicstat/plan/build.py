"""Rebuild an ``AppliedPlan`` from the bodies a plan revision stored."""

from __future__ import annotations

from typing import Any

from civicstat.plan.applied import AppliedPlan
from civicstat.spec.models import (
    Agreement,
    DataPolicy,
    Department,
    Goal,
    Masking,
    Measure,
    Objective,
    PiiKind,
    PlanPeriod,
    Source,
    Story,
    Suppression,
    WorkspaceFile,
)

Body = dict[str, Any]


def build_plan(revision_id: int, layout: Body, bodies: dict[tuple[str, str], Body]) -> AppliedPlan:
    """The plan of revision ``revision_id`` from its layout and its (kind, key) bodies."""

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
        stories={k: Story.model_validate(b) for k, b in of("story").items()},
        data_policy=next((DataPolicy.model_validate(b) for b in of("policy").values()), None),
    )
