"""``AppliedPlan`` and the questions asked of it: which row measure computes a measure,
who owns it, which datasets it reads, its definition hash, the order to compute in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from civicstat.spec import measure_kinds
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
    Window,
    WorkspaceFile,
)
from civicstat.spec.workspace import definition_hash


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
    stories: dict[str, Story] = field(default_factory=dict)  # the portal's stories, by id
    data_policy: DataPolicy | None = None  # the portal's data policy page

    def objectives(self) -> list[tuple[Goal, Objective]]:
        return [(g, o) for g in self.goals for o in g.objectives]

    def source_for_dataset(self, dataset_id: str) -> Source | None:
        return next((s for s in self.sources.values() if s.dataset_id == dataset_id), None)

    def depends_on(self, measure: Measure) -> list[str]:
        """The measures ``measure`` is built from (none for a measure computed from rows)."""
        return measure_kinds.get(measure.kind).depends_on(measure)

    def effective(self, measure: Measure) -> Measure:
        """The row measure that computes ``measure``: a cumulative one is the measure it
        accumulates, over a window from the start of each (fiscal) year."""
        if not measure_kinds.get(measure.kind).accumulates:
            return measure
        assert measure.of is not None
        base = self.effective(self.measures[measure.of])
        window = Window(to_date=measure.reset or "year")
        return base.model_copy(
            update={"id": measure.id, "grain": measure.grain, "window": window, "unit": base.unit}
        )

    def owner(self, measure: Measure) -> str | None:
        """The department owning the source a measure is computed from."""
        dataset = self.effective(measure).dataset
        source = self.source_for_dataset(dataset) if dataset else None
        return source.owner if source else None

    def datasets_of(self, measure: Measure) -> set[str]:
        """The datasets a measure is computed from, through the measures it is built from."""
        row = self.effective(measure)
        if row.dataset is not None:
            return {row.dataset}
        out: set[str] = set()
        for dep in self.depends_on(measure):
            out |= self.datasets_of(self.measures[dep])
        return out

    def for_dataset(self, dataset_id: str) -> list[str]:
        """Measures computed from a dataset's rows (directly, or to date through cumulative)."""
        return [m.id for m in self.measures.values() if self.effective(m).dataset == dataset_id]

    def definition_hash(self, measure: Measure) -> str:
        """The definition hash of a measure and, for composite ones, of everything under it."""
        parts = [definition_hash(measure)]
        parts += [self.definition_hash(self.measures[d]) for d in self.depends_on(measure)]
        if len(parts) == 1:
            return parts[0]
        return hashlib.sha256("+".join(parts).encode()).hexdigest()

    def in_order(self, chosen: list[Measure]) -> list[Measure]:
        """``chosen`` and every measure built from them, inputs before the measures using
        them."""
        dependents: dict[str, list[str]] = {}
        for m in self.measures.values():
            for dep in self.depends_on(m):
                dependents.setdefault(dep, []).append(m.id)
        wanted: set[str] = set()
        stack = [m.id for m in chosen]
        while stack:
            current = stack.pop()
            if current not in wanted:
                wanted.add(current)
                stack.extend(dependents.get(current, []))
        done: list[Measure] = []
        seen: set[str] = set()

        def visit(measure_id: str) -> None:
            if measure_id in seen:
                return
            seen.add(measure_id)  # validate rejects cycles, so marking first is safe
            measure = self.measures[measure_id]
            for dep in self.depends_on(measure):
                if dep in wanted:
                    visit(dep)
            done.append(measure)

        for measure_id in sorted(wanted):
            visit(measure_id)
        return done
