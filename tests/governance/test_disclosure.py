"""The disclosure rule against the rows API's own decisions: for every kind of reader and
every column of Riverside's datasets (an undeclared one too), a value is shown exactly when
the rows API would return that column in clear on every row, hidden exactly when the
rows API answers 404, and withheld otherwise."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from derived_helpers import SEALED, write_troubled_workspace

from civicstat.governance.actors import Actor, Role, operator
from civicstat.governance.columns import visible_columns
from civicstat.governance.disclosure import Verdict, disclosure, named
from civicstat.governance.permissions import DATASET_READ, DATASET_UNMASK, Resource, allowed
from civicstat.governance.rows import row_scope
from civicstat.spec.models import Department, Masking, PiiKind, Source

DRIFT = "ssn"  # a column the spec does not declare


def _load(root: Path) -> tuple[dict[str, Source], dict[str, Department], dict[PiiKind, Masking]]:
    governance = yaml.safe_load((root / "governance.yaml").read_text(encoding="utf-8"))
    departments = {d["id"]: Department.model_validate(d) for d in governance["departments"]}
    by_kind = {PiiKind(k): Masking(v) for k, v in governance["masking"].items()}
    sources = {}
    for path in sorted((root / "sources").glob("*.yaml")):
        source = Source.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        sources[source.dataset_id] = source
    return sources, departments, by_kind


def _readers() -> list[Actor]:
    found = [Actor("anonymous", "anonymous"), operator("ops")]
    for role, department, mfa in itertools.product(
        list(Role), ["police", "patrol", "public-works", None], [False, True]
    ):
        found.append(Actor("user", f"{role}-{department}-{mfa}", role, department, mfa=mfa))
    granted = frozenset({f"dataset:read:{SEALED}", "dataset:read:incidents"})
    found += [
        Actor("user", "partner", Role.ANALYST, "public-works", mfa=True, grants=granted),
        Actor("user", "partner-no-code", Role.ANALYST, "public-works", grants=granted),
        Actor("token", "token:1", scopes=frozenset({"source:push:*"})),
    ]
    return found


def _expected(
    actor: Actor,
    source: Source,
    departments: dict[str, Department],
    by_kind: dict[PiiKind, Masking],
    columns: list[str],
    unmask: bool,
) -> Verdict:
    """What the rows API does with these columns for this reader, as a verdict."""
    resource = Resource("dataset", source.dataset_id, source.owner, source.classification)
    if not allowed(actor, DATASET_READ, resource):
        return Verdict.HIDDEN
    stored = [{"name": c.name, "type": c.type} for c in source.columns]
    stored.append({"name": DRIFT, "type": "string"})
    unmasks = unmask and allowed(actor, DATASET_UNMASK, resource)
    views = {v.name: v for v in visible_columns(actor, source, stored, by_kind, unmask=unmasks)}
    in_clear = all(name in views and views[name].clear for name in columns)
    every_row = not columns or row_scope(actor, source, departments).everything
    return Verdict.SHOWN if in_clear and every_row else Verdict.WITHHELD


@pytest.mark.parametrize("unmask", [False, True], ids=["masked", "unmask"])
def test_a_value_is_shown_exactly_where_the_rows_api_returns_it_in_clear(
    tmp_path: Path, unmask: bool
) -> None:
    sources, departments, by_kind = _load(write_troubled_workspace(tmp_path / "ws"))
    mismatches = []
    checked = 0
    for actor, source in itertools.product(_readers(), sources.values()):
        names = [c.name for c in source.columns]
        cases = [[n] for n in [*names, DRIFT]] + [[], names[:2]]
        for columns in cases:
            got = disclosure(actor, source, departments, by_kind, columns, unmask=unmask)
            want = _expected(actor, source, departments, by_kind, columns, unmask)
            checked += 1
            if got.verdict is not want:
                mismatches.append(f"{actor.name} {source.dataset_id} {columns}: {got} != {want}")
        # Text whose columns are not known may quote any of them, the undeclared included.
        got = disclosure(actor, source, departments, by_kind, None, unmask=unmask)
        want = _expected(actor, source, departments, by_kind, [*names, DRIFT], unmask)
        if got.verdict is not want:
            mismatches.append(f"{actor.name} {source.dataset_id} any column: {got} != {want}")

    assert mismatches == []
    assert checked > 1000


def test_a_withheld_value_says_why_without_quoting_it(tmp_path: Path) -> None:
    sources, departments, by_kind = _load(write_troubled_workspace(tmp_path / "ws"))
    head = Actor("user", "head", Role.DEPARTMENT_HEAD, "public-works")
    steward = Actor("user", "steward", Role.STEWARD, "police")

    def why(actor: Actor, columns: list[str] | None) -> str:
        return disclosure(actor, sources["incidents"], departments, by_kind, columns).why

    assert why(head, ["district"]) == "it may come from rows of incidents that you do not read"
    assert why(steward, ["caller_phone"]) == "caller_phone is personal data, masked for you"
    assert why(steward, ["officer_notes"]) == (
        "column officer_notes is restricted, above your clearance"
    )
    assert why(steward, None) == "it may quote any column of incidents, some above your clearance"


def test_a_source_above_the_readers_clearance_is_named_nowhere(tmp_path: Path) -> None:
    sources, _, _ = _load(write_troubled_workspace(tmp_path / "ws"))
    viewer = Actor("user", "viewer", Role.VIEWER, "police")
    admin = Actor("user", "admin", Role.ADMIN)

    assert named(viewer, sources["permits"])  # internal: a viewer knows it exists
    assert not named(viewer, sources["incidents"])
    assert not named(admin, sources[SEALED])  # restricted: with a second factor only
    assert named(Actor("user", "admin", Role.ADMIN, mfa=True), sources[SEALED])
