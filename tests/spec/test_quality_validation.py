"""`civicstat validate` on quality checks: each mistake reported at its place, before any pull."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from civicstat.spec.example import write_example
from civicstat.spec.models import RegexCheck
from civicstat.spec.validate import load_workspace, validate_workspace

SOURCE = "sources/service_requests.yaml"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example workspace, with an integer column added to its source."""
    root = tmp_path / "millbrook"
    write_example(root)
    with (root / SOURCE).open("a", encoding="utf-8") as handle:
        handle.write("  - name: priority\n    type: integer\n")
    return root


def with_quality(root: Path, checks: str) -> None:
    """Append a ``quality:`` list to the example source (its columns list ends the file)."""
    block = textwrap.indent(textwrap.dedent(checks).strip(), "  ")
    with (root / SOURCE).open("a", encoding="utf-8") as handle:
        handle.write(f"quality:\n{block}\n")


def place_of(root: Path, text: str, after: str = "quality:") -> str:
    """``file:line:column`` where ``text`` first appears after the line holding ``after``."""
    lines = (root / SOURCE).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(after))
    for number, line in enumerate(lines[start:], start + 1):
        if text in line:
            return f"{SOURCE}:{number}:{line.index(text) + 1}"
    raise AssertionError(f"{text!r} not in {SOURCE}")


def problems(root: Path) -> list[str]:
    workspace, issues = validate_workspace(root)
    assert (workspace is None) == bool(issues)
    return [str(issue) for issue in issues]


def test_every_kind_of_check_over_declared_columns_validates(example: Path) -> None:
    with_quality(
        example,
        r"""
        - {check: not_null, columns: [request_id, created_at]}
        - {check: unique, columns: [request_id], severity: warn}
        - {check: accepted_values, column: district, values: [north, downtown, 7]}
        - {check: accepted_values, column: priority, values: [1, 2.5, "3"]}
        - {check: range, column: priority, min: 1, max: 5}
        - {check: range, column: priority, max: 5}
        - {check: regex, column: request_id, pattern: '^SR-\d{4}-\d{5}$'}
        - {check: regex, column: district, pattern: '\p{L}+(\pL| )*'}
        - {check: row_count_change, max_change_percent: 20}
        - {check: freshness, column: created_at, max_age_hours: 48}
        - {check: freshness, column: created_at, max_age_hours: 0.5, severity: warn}
        - {check: sql, condition: closed_at IS NULL OR closed_at >= created_at}
        """,
    )

    workspace = load_workspace(example)

    checks = workspace.sources["service_requests"].quality
    assert [c.check for c in checks][:3] == ["not_null", "unique", "accepted_values"]
    assert isinstance(checks[6], RegexCheck)


def test_a_misspelt_column_in_a_list_is_named_with_a_hint(example: Path) -> None:
    with_quality(example, "- {check: not_null, columns: [request_id, reqest_type]}")

    assert problems(example) == [
        f"{place_of(example, 'reqest_type')}: column 'reqest_type' not in dataset "
        "service_requests (did you mean 'request_type'?)"
    ]


@pytest.mark.parametrize("kind", ["accepted_values", "range", "regex", "freshness"])
def test_a_misspelt_column_of_any_single_column_check_is_found(example: Path, kind: str) -> None:
    options = {
        "accepted_values": "values: [1]",
        "range": "min: 0",
        "regex": "pattern: x",
        "freshness": "max_age_hours: 1",
    }[kind]
    with_quality(example, f"- {{check: {kind}, column: prioritty, {options}}}")

    assert problems(example) == [
        f"{place_of(example, 'prioritty')}: column 'prioritty' not in dataset service_requests"
        " (did you mean 'priority'?)"
    ]


def test_the_columns_of_a_unique_check_are_checked_too(example: Path) -> None:
    with_quality(example, "- check: unique\n  columns:\n    - district\n    - distrct")

    assert problems(example) == [
        f"{place_of(example, 'distrct')}: column 'distrct' not in dataset service_requests"
        " (did you mean 'district'?)"
    ]


def test_range_needs_a_number_column_and_a_bound_in_order(example: Path) -> None:
    with_quality(
        example,
        """
        - {check: range, column: district, min: 0}
        - {check: range, column: priority}
        - {check: range, column: priority, min: 5, max: 1}
        """,
    )

    assert problems(example) == [
        f"{place_of(example, 'district')}: range column 'district' is string;"
        " it must be an integer or float",
        f"{place_of(example, '{check: range, column: priority}')}:"
        " a range check needs a min, a max or both",
        f"{place_of(example, '1}')}: range max 1 is below its min 5",
    ]


def test_freshness_needs_a_date_or_timestamp(example: Path) -> None:
    with_quality(example, "- {check: freshness, column: priority, max_age_hours: 24}")

    assert problems(example) == [
        f"{place_of(example, 'priority')}: freshness column 'priority' is integer;"
        " it must be a date or timestamp"
    ]


def test_accepted_values_of_a_number_column_must_be_numbers(example: Path) -> None:
    with_quality(example, "- {check: accepted_values, column: priority, values: [1, high, true]}")

    assert problems(example) == [
        f"{place_of(example, 'high')}: accepted value 'high' is not a number,"
        " but 'priority' is integer",
        f"{place_of(example, 'true')}: accepted value True is not a number,"
        " but 'priority' is integer",
    ]


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("'SR-(\\d+'", "is not a regular expression: missing ), unterminated subpattern"),
        ("'(?=SR)SR-\\d+'", "uses look-around or a back-reference"),
        ("'(?<!x)SR'", "uses look-around or a back-reference"),
        ("'(a)\\1'", "uses look-around or a back-reference"),
    ],
)
def test_a_pattern_duckdb_cannot_run_is_reported(example: Path, pattern: str, problem: str) -> None:
    with_quality(example, f"- {{check: regex, column: request_id, pattern: {pattern}}}")

    (found,) = problems(example)

    assert found.startswith(f"{place_of(example, pattern)}: pattern ")
    assert problem in found


def test_an_escaped_parenthesis_is_not_mistaken_for_look_around(example: Path) -> None:
    with_quality(example, r"- {check: regex, column: request_id, pattern: '\(?=?\\\\(x)'}")

    assert problems(example) == []


def test_an_sql_condition_is_checked_like_a_measure_condition(example: Path) -> None:
    with_quality(
        example,
        """
        - {check: sql, condition: closed_at >= creatd_at}
        - {check: sql, condition: "1 = 1; DROP TABLE service_requests"}
        - {check: sql, condition: priority}
        """,
    )

    found = problems(example)
    statements = place_of(example, '"1 = 1')

    assert found[0] == (
        f"{place_of(example, 'closed_at >=')}: condition: unknown column 'creatd_at'"
        " (did you mean 'created_at'?)"
    )
    assert found[1] == (
        f"{statements}: condition: a condition is one expression:"
        " ';' and several statements are not allowed"
    )
    assert found[2].startswith(f"{place_of(example, 'priority}')}: condition: a condition must")
    assert len(found) == 3


def test_every_quality_problem_is_reported_in_one_run(example: Path) -> None:
    with_quality(
        example,
        """
        - {check: not_null, columns: [nope]}
        - {check: freshness, column: district, max_age_hours: 1}
        - {check: regex, column: district, pattern: '['}
        - {check: sql, condition: nope > 1}
        """,
    )

    found = problems(example)

    assert len(found) == 4
    assert found == sorted(found, key=lambda line: int(line.split(":")[1]))
