"""Load a workspace folder and report every problem in it at once, each at its place.

A plan is reviewed like code, so ``civicstat validate`` must say everything that is wrong
in one run: YAML syntax, the shape of each file (via the pydantic models), connector
options, cron schedules, duplicate ids and references between files. Checks between files
read the raw data, so a typo in one field does not hide a dangling reference in the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from civicstat.spec import _governance, _measures, _plugins, _stories, measure_kinds
from civicstat.spec._errors import hint, lower_first, model_issues, what, where
from civicstat.spec._files import File, columns_of, get, items, model_of
from civicstat.spec._quality import quality_problems
from civicstat.spec.boundary import Boundary
from civicstat.spec.models import (
    GovernanceFile,
    Measure,
    PlanFile,
    PlanPeriod,
    Source,
    StoryMeta,
    WorkspaceFile,
)
from civicstat.spec.stories import STORIES_DIR
from civicstat.spec.workspace import (
    GOVERNANCE_FILE,
    MEASURES_DIR,
    PLAN_FILE,
    SOURCES_DIR,
    WORKSPACE_FILE,
    Issue,
    SpecError,
    Workspace,
)
from civicstat.spec.yamlpos import Loc, read_yaml

__all__ = ["json_schema", "load_workspace", "summary", "validate_workspace", "workspace_settings"]

_IN_GOVERNANCE = f"not in {GOVERNANCE_FILE}"
_IN_MEASURES = f"not in {MEASURES_DIR}/"


def load_workspace(root: Path, boundary: Boundary | None = None) -> Workspace:
    """The workspace in ``root``; raises :class:`SpecError` listing every problem."""
    workspace, issues = validate_workspace(root, boundary)
    if issues or workspace is None:
        raise SpecError(issues)
    return workspace


def workspace_settings(root: Path) -> WorkspaceFile:
    """Only ``civicstat.yaml``, read to open the stores before the whole workspace is
    checked; raises :class:`SpecError` with its problems, FileNotFoundError without it."""
    validator = _Validator(root, Boundary.of(root))
    if not (root / WORKSPACE_FILE).is_file():
        raise FileNotFoundError(f"{root / WORKSPACE_FILE}: not a CivicStat workspace")
    file = validator.load(WORKSPACE_FILE, WorkspaceFile, required=True)
    if validator.issues or file is None or file.model is None:
        raise SpecError(validator.issues)
    return model_of(file, WorkspaceFile)  # type: ignore[no-any-return]


def validate_workspace(
    root: Path, boundary: Boundary | None = None
) -> tuple[Workspace | None, list[Issue]]:
    """Every problem in the workspace, in file order, and the workspace when there is none.

    ``boundary`` says which local paths its sources may read on this machine (default:
    the workspace folder alone, without its ``.civicstat/``).
    """
    if not root.is_dir():
        return None, [Issue(root.as_posix(), 1, 1, "workspace folder not found")]
    return _Validator(root, boundary or Boundary.of(root)).run()


def summary(workspace: Workspace) -> str:
    """One line saying what a valid workspace holds, for the CLI."""
    counts = [
        _plural(len(workspace.plan.goals), "goal"),
        _plural(sum(1 for _ in workspace.objectives()), "objective"),
        _plural(len(workspace.measures), "measure"),
        _plural(len(workspace.sources), "source"),
        _plural(len(workspace.governance.departments), "department"),
    ]
    return f"{workspace.settings.name}: valid — {', '.join(counts)}"


def json_schema() -> dict[str, Any]:
    """A JSON Schema document of every workspace file and each installed connector's options.

    Editors can point a file at one definition, e.g. ``schema.json#/$defs/Measure``.
    """
    files: dict[str, type[BaseModel]] = {
        WORKSPACE_FILE: WorkspaceFile,
        PLAN_FILE: PlanFile,
        GOVERNANCE_FILE: GovernanceFile,
        f"{MEASURES_DIR}/*.yaml": Measure,
        f"{SOURCES_DIR}/*.yaml": Source,
        f"{STORIES_DIR}/*.md (front matter)": StoryMeta,
    }
    installed = _plugins.loadable(_plugins.CONNECTORS)
    connectors = {name: cls.Options for name, cls in sorted(installed.items())}
    models = dict.fromkeys([*files.values(), *connectors.values()])
    refs, schema = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/$defs/{model}"
    )

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return dict(refs[(model, "validation")])

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "CivicStat workspace",
        "description": "The YAML files of a CivicStat workspace folder; see x-civicstat-files.",
        "$defs": schema["$defs"],
        "x-civicstat-files": {pattern: ref(model) for pattern, model in files.items()},
        "x-civicstat-connectors": {name: ref(model) for name, model in connectors.items()},
    }


class _Validator:
    def __init__(self, root: Path, boundary: Boundary) -> None:
        self.root = root
        self.boundary = boundary
        self.issues: list[Issue] = []

    def run(self) -> tuple[Workspace | None, list[Issue]]:
        settings = self.load(WORKSPACE_FILE, WorkspaceFile, required=True)
        plan = self.load(PLAN_FILE, PlanFile, required=True)
        governance = self.load(GOVERNANCE_FILE, GovernanceFile, required=True)
        measures = [f for f in (self.load(p, Measure) for p in self.folder(MEASURES_DIR)) if f]
        sources = [f for f in (self.load(p, Source) for p in self.folder(SOURCES_DIR)) if f]
        for source in sources:
            self.check_source(source)
            self.check_quality(source)
            for loc, message in _governance.source_problems(source.data):
                self.at(source, loc, message)
        departments = self.check_departments(governance)
        datasets = self.check_sources(sources, departments)
        measure_ids = self.check_measures(measures, datasets)
        self.check_plan(plan, departments, measure_ids)
        self.check_agreements(governance, departments, datasets)
        stories, issues = _stories.load_stories(self.root, self.boundary, measure_ids)
        policy, more = _stories.load_policy(self.root, self.boundary, settings)
        issues = sorted([*self.issues, *issues, *more])
        if issues:
            return None, issues
        # No issues means every file loaded and validated.
        assert settings is not None
        assert plan is not None
        assert governance is not None
        workspace = Workspace(
            root=self.root,
            settings=model_of(settings, WorkspaceFile),
            plan=model_of(plan, PlanFile),
            governance=model_of(governance, GovernanceFile),
            measures={m.id: m for m in (model_of(f, Measure) for f in measures)},
            sources={s.id: s for s in (model_of(f, Source) for f in sources)},
            stories=stories,
            data_policy=policy,
        )
        return workspace, []

    # --- one file at a time -----------------------------------------------------------

    def folder(self, name: str) -> list[str]:
        folder = self.root / name
        if not folder.is_dir():
            return []
        files = [p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()]
        return [f"{name}/{p.name}" for p in sorted(files) if not p.name.startswith(".")]

    def load(self, path: str, model: type[BaseModel], *, required: bool = False) -> File | None:
        file = self.root / path
        if not file.is_file():
            if required:
                self.add(path, (1, 1), f"{path} is missing: every workspace needs one")
            return None
        doc, issues = read_yaml(file, path)
        self.issues += issues
        if doc is None:
            return None
        if doc.data is None:
            self.add(path, (1, 1), f"file is empty: expected {what(model)}")
            return File(doc, None)
        try:
            return File(doc, model.model_validate(doc.data))
        except ValidationError as error:
            self.issues += model_issues(error, model, doc)
            return File(doc, None)

    def check_source(self, source: File) -> None:
        """The connector exists, its options fit its own model (and reach only what this
        machine lets a source read), and the schedule is cron."""
        data = source.data
        name = data.get("connector", "file")
        connector = _plugins.load(_plugins.CONNECTORS, name) if isinstance(name, str) else None
        if isinstance(name, str) and connector is None:
            installed = _plugins.loadable(_plugins.CONNECTORS)
            known = ", ".join(sorted(installed)) or "none"
            message = f"unknown connector {name!r}{hint(name, installed)} (installed: {known})"
            self.at(source, ("connector",), message)
        elif connector is not None and isinstance(data.get("options", {}), dict):
            try:
                options = connector.Options.model_validate(data.get("options", {}))
            except ValidationError as error:
                self.issues += model_issues(error, connector.Options, source.doc, ("options",))
            else:
                # A connector that reads local paths says which of them this machine refuses.
                reach = getattr(connector, "reach_problems", None)
                for loc, message in reach(options, self.boundary) if reach else ():
                    self.at(source, ("options", *loc), f"{where(('options', *loc))}: {message}")
        schedule = data.get("schedule")
        if isinstance(schedule, str):
            try:
                CronTrigger.from_crontab(schedule, timezone="UTC")
            except ValueError as error:
                reason = lower_first(str(error))
                self.at(source, ("schedule",), f"invalid cron expression {schedule!r}: {reason}")

    def check_quality(self, source: File) -> None:
        """Each quality check names declared columns of a fitting type, and its pattern or
        condition can run: a mistake found here would otherwise fail a run after the pull."""
        dataset = str(source.data.get("dataset") or source.data.get("id"))
        columns = columns_of(source)
        for loc in items(source, "quality"):
            check, kind = get(source, loc), get(source, (*loc, "check"))
            named = check.get("columns") if kind in ("not_null", "unique") else None
            for index in range(len(named) if isinstance(named, list) else 0):
                self.column(source, (*loc, "columns", index), dataset, columns)
            if kind in ("accepted_values", "range", "regex", "freshness"):
                self.column(source, (*loc, "column"), dataset, columns)
            for part, message in quality_problems(check, columns):
                self.at(source, (*loc, *part), message)

    # --- between files ----------------------------------------------------------------

    def check_departments(self, governance: File | None) -> set[str]:
        if governance is None:
            return set()
        departments = items(governance, "departments")
        ids = self.unique("department", [(governance, (*loc, "id")) for loc in departments])
        parents: dict[str, str] = {}
        for loc in departments:
            item = get(governance, loc)
            parent = item.get("parent")
            self.reference(governance, (*loc, "parent"), "department", ids, _IN_GOVERNANCE)
            if isinstance(item.get("id"), str) and isinstance(parent, str):
                parents[item["id"]] = parent
        for loc in departments:
            start = get(governance, loc).get("id")
            if not isinstance(start, str):
                continue
            chain = [start]
            while chain[-1] in parents and len(chain) <= len(parents):
                chain.append(parents[chain[-1]])
                if chain[-1] == start:
                    cycle = " → ".join(str(c) for c in chain)
                    self.at(governance, (*loc, "parent"), f"departments form a cycle: {cycle}")
                    break
        return set(ids)

    def check_sources(self, sources: list[File], departments: set[str]) -> dict[str, File]:
        """Unique source ids and datasets, known owners; returns each dataset's source."""
        self.unique("source", [(s, ("id",)) for s in sources])
        by_dataset: dict[str, File] = {}
        for source in sources:
            self.reference(source, ("owner",), "department", departments, _IN_GOVERNANCE)
            dataset = source.data.get("dataset") or source.data.get("id")
            if not isinstance(dataset, str):
                continue
            loc: Loc = ("dataset",) if source.data.get("dataset") else ("id",)
            if dataset in by_dataset:
                first = by_dataset[dataset]
                message = f"dataset {dataset!r} is already loaded by {first.path}"
                self.at(source, loc, f"{message}; give this source its own dataset")
            else:
                by_dataset[dataset] = source
        return by_dataset

    def check_measures(self, measures: list[File], datasets: dict[str, File]) -> set[str]:
        ids = self.unique("measure", [(m, ("id",)) for m in measures])
        by_id = {str(m.data.get("id")): m.data for m in measures}
        dataset_columns = {name: columns_of(source) for name, source in datasets.items()}
        for measure in measures:
            data = measure.data
            problems = list(_measures.kind_problems(data))
            problems += _measures.reference_problems(data, by_id)
            problems += _measures.population_problems(data, dataset_columns)
            kind = measure_kinds.available().get(str(data.get("kind")))
            if kind is not None and isinstance(measure.model, Measure):
                problems += [((f,), message) for f, message in kind.problems(measure.model)]
            if "dataset" in data:
                self.reference(
                    measure, ("dataset",), "dataset", datasets, "not loaded by any source"
                )
            dataset = data.get("dataset")
            if isinstance(dataset, str) and dataset in datasets:
                problems += _measures.column_problems(data, dataset, dataset_columns[dataset])
                problems += _governance.breakdown_problems(data, datasets[dataset].data)
            for loc, message in problems:
                self.at(measure, loc, message)
        if (circle := _measures.cycle(by_id)) is not None:
            first = next(m for m in measures if m.data.get("id") == circle[0])
            self.at(
                first,
                ("id",),
                f"measures are built from each other in a circle: {' -> '.join(circle)}",
            )
        return set(ids)

    def check_plan(self, plan: File | None, departments: set[str], measures: set[str]) -> None:
        if plan is None:
            return
        goals = items(plan, "goals")
        self.unique("goal", [(plan, (*loc, "id")) for loc in goals])
        objectives = [loc for goal in goals for loc in items(plan, (*goal, "objectives"))]
        self.unique("objective", [(plan, (*loc, "id")) for loc in objectives])
        for loc in objectives:
            self.reference(plan, (*loc, "department"), "department", departments, _IN_GOVERNANCE)
            self.reference(plan, (*loc, "measure"), "measure", measures, _IN_MEASURES)
        try:
            period = PlanPeriod.model_validate(plan.data.get("period"))
        except ValidationError:
            return  # already reported against the plan file
        if period.end <= period.start:
            message = f"plan period must end after it starts ({period.start} to {period.end})"
            self.at(plan, ("period", "end"), message)

    def check_agreements(
        self, governance: File | None, departments: set[str], datasets: dict[str, File]
    ) -> None:
        """Unique agreement ids; parties are known departments, datasets are loaded."""
        if governance is None:
            return
        agreements = items(governance, "agreements")
        self.unique("agreement", [(governance, (*loc, "id")) for loc in agreements])
        for loc in agreements:
            for party in items(governance, (*loc, "parties")):
                where = (*party, "department")
                self.reference(governance, where, "department", departments, _IN_GOVERNANCE)
            named = get(governance, (*loc, "datasets"))
            for index in range(len(named) if isinstance(named, list) else 0):
                where = (*loc, "datasets", index)
                self.reference(governance, where, "dataset", datasets, "not loaded by any source")

    # --- helpers ----------------------------------------------------------------------

    def unique(self, kind: str, places: list[tuple[File, Loc]]) -> dict[str, str]:
        """Report ids defined twice; returns each id with where it was first defined."""
        first: dict[str, str] = {}
        for file, loc in places:
            value = get(file, loc)
            if not isinstance(value, str):
                continue
            if value in first:
                message = f"duplicate {kind} id {value!r} (first defined at {first[value]})"
                self.at(file, loc, message)
            else:
                line, column = file.doc.positions.value(loc)
                first[value] = f"{file.path}:{line}:{column}"
        return first

    def reference(
        self, file: File, loc: Loc, kind: str, known: Iterable[str], missing: str
    ) -> None:
        """Report a reference to an id that ``known`` lacks; ``missing`` says where it isn't."""
        value = get(file, loc)
        if isinstance(value, str) and value not in known:
            self.at(file, loc, f"{kind} {value!r} {missing}{hint(value, known)}")

    def column(self, file: File, loc: Loc, dataset: str, columns: dict[str, str]) -> None:
        value = get(file, loc)
        if isinstance(value, str) and value not in columns:
            self.at(file, loc, f"column {value!r} not in dataset {dataset}{hint(value, columns)}")

    def at(self, file: File, loc: Loc, message: str) -> None:
        self.add(file.path, file.doc.positions.value(loc), message)

    def add(self, path: str, place: tuple[int, int], message: str) -> None:
        self.issues.append(Issue(path, place[0], place[1], message))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
