"""Row-level access: the rows the engine keeps for an actor are exactly those a plain
Python reference filter keeps, over thousands of random actors, rows and hierarchies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicstat.governance.actors import ANONYMOUS, Actor, Role
from civicstat.governance.rows import departments_under, row_filter, row_scope
from civicstat.spec.models import Department, Source

POOL = ["a", "b", "c", "d", "e", "f"]
NAMES = ["ann", "bob"]


def reference_sees(
    actor: Actor, by: str, owner: str, value: str | None, parents: dict[str, str | None]
) -> bool:
    """The rule, written out plainly: walk up from a department to see what it sits under."""

    def at_or_under(department: str | None, top: str | None) -> bool:
        seen: set[str] = set()
        while department is not None and top is not None and department not in seen:
            if department == top:
                return True
            seen.add(department)
            department = parents.get(department)
        return False

    if actor.role is None:
        return False
    if actor.role is Role.ADMIN:
        return True
    if actor.role is Role.STEWARD and at_or_under(owner, actor.department):
        return True
    if value is None:
        return False
    if by == "user":
        return actor.kind == "user" and value == actor.name
    return at_or_under(value, actor.department)


@st.composite
def hierarchies(draw: st.DrawFn) -> dict[str, str | None]:
    """A forest: each department's parent comes before it (or it has none)."""
    parents: dict[str, str | None] = {}
    for index, name in enumerate(POOL):
        parents[name] = draw(st.none() | st.sampled_from(POOL[:index])) if index else None
    return parents


actors = st.builds(
    Actor,
    kind=st.sampled_from(["user", "user", "user", "operator"]),
    name=st.sampled_from(NAMES),
    role=st.sampled_from(list(Role)),
    department=st.none() | st.sampled_from([*POOL, "unknown"]),
    user_id=st.just(1),
) | st.just(ANONYMOUS)


@dataclass
class Tally:
    cases: int = 0


def _source(owner: str, by: str) -> Source:
    return Source.model_validate(
        {
            "id": "cases",
            "title": "Cases",
            "owner": owner,
            "row_access": {"column": "owner_of_row", "by": by},
            "columns": [{"name": "owner_of_row", "type": "string"}],
        }
    )


def test_the_engine_keeps_exactly_the_rows_the_reference_filter_keeps() -> None:
    con = ibis.duckdb.connect()
    tally = Tally()

    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        parents=hierarchies(),
        owner=st.sampled_from(POOL),
        by=st.sampled_from(["department", "user"]),
        values=st.lists(
            st.none() | st.sampled_from([*POOL, *NAMES, "zz"]), min_size=5, max_size=40
        ),
        people=st.lists(actors, min_size=2, max_size=10),
    )
    def check(
        parents: dict[str, str | None],
        owner: str,
        by: str,
        values: list[str | None],
        people: list[Actor],
    ) -> None:
        departments = {
            name: Department(id=name, title=name.upper(), parent=parent)
            for name, parent in parents.items()
        }
        source = _source(owner, by)
        table = ibis.memtable(
            {"i": list(range(len(values))), "owner_of_row": values},
            schema={"i": "int64", "owner_of_row": "string"},
        )
        kept = []
        for index, actor in enumerate(people):
            seen = row_filter(table, row_scope(actor, source, departments))
            kept.append(seen.select(seen.i, a=ibis.literal(index)))
        result = con.to_pyarrow(ibis.union(*kept, distinct=False)).to_pylist()
        engine = {(r["a"], r["i"]) for r in result}
        reference = {
            (a, i)
            for a, actor in enumerate(people)
            for i, value in enumerate(values)
            if reference_sees(actor, by, owner, value, parents)
        }
        assert engine == reference
        tally.cases += len(people) * len(values)

    check()
    assert tally.cases >= 5_000, f"only {tally.cases} (actor, row) cases were checked"


DEPARTMENTS = {
    d.id: d
    for d in [
        Department(id="city", title="City"),
        Department(id="police", title="Police", parent="city"),
        Department(id="patrol", title="Patrol", parent="police"),
        Department(id="works", title="Works", parent="city"),
    ]
}


def _scope(
    role: Role, department: str | None, owner: str = "police", by: str = "department"
) -> Any:
    actor = Actor("user", "ann", role, department, 1)
    return row_scope(actor, _source(owner, by), DEPARTMENTS)


def test_a_department_head_sees_their_department_and_those_under_it() -> None:
    scope = _scope(Role.DEPARTMENT_HEAD, "police")

    assert scope.values == {"police", "patrol"}
    assert _scope(Role.ANALYST, "city").values == {"city", "police", "patrol", "works"}


def test_a_steward_of_the_owning_department_sees_every_row_others_only_their_own() -> None:
    assert _scope(Role.STEWARD, "police").everything
    assert _scope(Role.STEWARD, "city").everything  # above the owner
    assert _scope(Role.STEWARD, "works").values == {"works"}


def test_an_actor_without_a_department_sees_no_row() -> None:
    scope = _scope(Role.ANALYST, None)

    assert not scope.everything
    assert scope.values == frozenset()


def test_by_user_an_actor_sees_their_own_rows() -> None:
    assert _scope(Role.ANALYST, "police", by="user").values == {"ann"}


def test_admins_see_every_row_and_a_dataset_without_row_access_is_not_filtered() -> None:
    plain = Source.model_validate(
        {"id": "x", "title": "X", "owner": "police", "columns": [{"name": "a", "type": "string"}]}
    )

    assert _scope(Role.ADMIN, None).everything
    assert row_scope(Actor("user", "u", Role.VIEWER, "works", 1), plain, DEPARTMENTS).everything


def test_departments_under_stops_at_a_cycle() -> None:
    looped = {
        "a": Department(id="a", title="A", parent="b"),
        "b": Department(id="b", title="B", parent="a"),
    }

    assert departments_under("a", looped) == {"a", "b"}
