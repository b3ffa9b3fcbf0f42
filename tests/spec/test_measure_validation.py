"""`civicstat validate` on measures: every kind's fields, references between measures,
targets, and hostile SQL, each reported at its place with the reason."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from civicstat.spec import measure_kinds
from civicstat.spec.example import write_example
from civicstat.spec.validate import validate_workspace


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_example(tmp_path)
    return tmp_path


def issues_of(root: Path, name: str, body: str) -> list[str]:
    (root / "measures" / f"{name}.yaml").write_text(textwrap.dedent(body))
    _, issues = validate_workspace(root)
    return [str(i) for i in issues if i.path == f"measures/{name}.yaml"]


HEAD = """\
id: probe
title: Probe
dataset: service_requests
time: created_at
"""

ATTACKS = [
    ("condition", "closed_at <= (SELECT max(due_at) FROM service_requests)", "subquery"),
    ("condition", "closed_at IS NULL; DROP TABLE observations", "';'"),
    ("condition", "read_csv('/etc/passwd') IS NOT NULL", "READ_CSV"),
    ("condition", "closed_at IS NULL -- AND district = 'north'", "comments"),
    ("filter", "district = 'north' /* and more */", "comments"),
    ("filter", "EXISTS (SELECT 1)", "not allowed"),
    ("filter", "t.district = 'north'", "qualified column"),
    ("condition", "CAST(district AS INT) > 1", "type cast"),
    ("condition", "now() > due_at", "not allowed"),
]


@pytest.mark.parametrize(("field", "sql", "reason"), ATTACKS)
def test_hostile_sql_is_rejected_at_its_place(
    root: Path, field: str, sql: str, reason: str
) -> None:
    body = HEAD + "kind: share\ncondition: closed_at IS NULL\n"
    if field == "condition":
        body = HEAD + f'kind: share\ncondition: "{sql}"\n'
    else:
        body += f'filter: "{sql}"\n'
    found = issues_of(root, "probe", body)
    line = 6 if field == "condition" else 7
    assert any(
        f"measures/probe.yaml:{line}:" in issue and f"{field}: " in issue and reason in issue
        for issue in found
    ), found


def test_value_expressions_are_checked_too(root: Path) -> None:
    found = issues_of(root, "probe", HEAD + "kind: sum\nvalue: \"read_parquet('x')\"\n")
    assert any(":6:8: value: function 'READ_PARQUET' is not allowed" in i for i in found), found
    found = issues_of(root, "probe", HEAD + "kind: sum\nvalue: closed_at > due_at\n")
    assert any("value: a value must be a number or a column" in i for i in found), found


def test_a_kind_names_the_fields_it_needs_and_those_it_ignores(root: Path) -> None:
    found = issues_of(
        root, "probe", HEAD + "kind: percentile\nvalue: created_at\ncondition: 'TRUE'\n"
    )
    assert "measures/probe.yaml:1:1: a percentile measure needs 'percentile'" in found
    assert "measures/probe.yaml:7:12: 'condition' is not used by a percentile measure" in found


def test_an_unknown_kind_suggests_the_nearest(root: Path) -> None:
    found = issues_of(root, "probe", HEAD + "kind: medain\nvalue: created_at\n")
    assert found == [
        "measures/probe.yaml:5:7: unknown measure kind 'medain' (did you mean 'median'?)"
    ]


def test_durations_need_time_columns_and_a_duration_unit(root: Path) -> None:
    found = issues_of(
        root,
        "probe",
        """\
        id: probe
        title: Probe
        dataset: service_requests
        kind: duration
        start: district
        end: closed_at
        unit: percent
        """,
    )
    assert (
        "measures/probe.yaml:5:8: start column 'district' is string; it must be a date or timestamp"
        in found
    )
    assert any(":7:7: a duration's unit is one of seconds" in i for i in found), found


def test_measures_built_from_others_must_exist_share_a_grain_and_not_loop(root: Path) -> None:
    found = issues_of(
        root,
        "probe",
        """\
        id: probe
        title: Probe
        kind: ratio
        numerator: requests-recieved
        denominator: p90-hours-to-close
        """,
    )
    assert (
        "measures/probe.yaml:4:12: measure 'requests-recieved' not in measures/"
        " (did you mean 'requests-received'?)" in found
    )
    assert (
        "measures/probe.yaml:5:14: measure 'p90-hours-to-close' is by quarter, this one by month"
        in found
    )
    issues_of(
        root, "loop-a", "id: loop-a\ntitle: A\nkind: derived\ninputs: {b: loop-b}\nexpression: b\n"
    )
    found = issues_of(
        root,
        "loop-b",
        "id: loop-b\ntitle: B\nkind: derived\ninputs: {a: loop-a}\nexpression: a + c\n",
    )
    assert any("'c' is not one of the inputs (a)" in i for i in found), found
    _, issues = validate_workspace(root)
    assert any("in a circle: loop-a -> loop-b -> loop-a" in str(i) for i in issues)


def test_only_row_measures_accumulate(root: Path) -> None:
    found = issues_of(root, "probe", "id: probe\ntitle: P\nkind: cumulative\nof: open-requests\n")
    assert found == [
        "measures/probe.yaml:4:5: measure 'open-requests' is a backlog;"
        " only row measures accumulate"
    ]


def test_a_target_is_exactly_one_of_value_by_period_or_trajectory(root: Path) -> None:
    plan = root / "plan.yaml"
    text = plan.read_text()
    plan.write_text(
        text.replace(
            "target: {value: 85, direction: higher_is_better, warning_band: 5}",
            "target: {value: 85, by_period: {2025-Q1: 80}, direction: higher_is_better}",
        )
    )
    _, issues = validate_workspace(root)
    assert any(
        "exactly one of 'value', 'by_period' or 'trajectory' (got value, by_period)" in str(i)
        for i in issues
    ), issues
    plan.write_text(
        text.replace("goal: {date: 2025-12-31, value: 2}", "goal: {date: 2024-12-31, value: 2}")
    )
    _, issues = validate_workspace(root)
    assert any("the goal's date must be after the baseline's" in str(i) for i in issues), issues


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[None]:
    """A third-party package that adds a measure kind through its entry points: a
    declaration the validator reads, naming the class that computes it."""
    site = tmp_path.parent / f"{tmp_path.name}-site"
    (site / "civicstat_minmax").mkdir(parents=True)
    (site / "civicstat_minmax" / "__init__.py").write_text(
        textwrap.dedent("""\
        from civicstat.spec.measure_kinds import RowMeasureKind, ValueParams

        class Maximum(RowMeasureKind):
            name = "maximum"
            Params = ValueParams
            computation = "civicstat_minmax.computed:Maximum"
        """)
    )
    info = site / "civicstat_minmax-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: civicstat-minmax\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[civicstat.measure_kinds]\nmaximum = civicstat_minmax:Maximum\n"
    )
    sys.path.insert(0, str(site))
    measure_kinds.available.cache_clear()
    yield
    sys.path.remove(str(site))
    sys.modules.pop("civicstat_minmax", None)
    measure_kinds.available.cache_clear()


@pytest.mark.usefixtures("plugin")
def test_a_plugin_adds_a_kind_exactly_as_the_built_in_ones(root: Path) -> None:
    assert "maximum" in measure_kinds.available()
    found = issues_of(root, "probe", HEAD + "kind: maximum\nvalue: created_at\n")
    assert found == []
