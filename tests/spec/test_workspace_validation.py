"""`civicstat validate`: every problem in a workspace, each at its file, line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from civicstat.spec.example import write_example
from civicstat.spec.validate import load_workspace, summary, validate_workspace
from civicstat.spec.workspace import Issue, SpecError

BROKEN = {
    "civicstat.yaml": """\
        name: riverton
        titel: City of Riverton
        timezone: Mars/Olympus
        """,
    "governance.yaml": """\
        departments:
          - id: police
            title: Police
          - id: public-works
            title: Public Works
            parent: polise
          - id: police
            title: Police again
        """,
    "plan.yaml": """\
        title: Riverton plan
        period:
          start: 2025-01-01
          end: 2024-12-31
        goals:
          - id: safety
            title: Safety
            objectives:
              - id: answer-fast
                title: Answer fast
                department: polise
                measure: pct-answerd
                target: {value: abc, direction: higher_is_better}
              - id: answer-fast
                title: Answer fast, again
                measure: pct-answered
                target: {value: 90, direction: up}
        """,
    "measures/answered.yaml": """\
        id: pct-answered
        title: Calls answered within 10 seconds
        dataset: cad_calls
        kind: share
        condition: answered_at - recieved_at <= interval '10 seconds'
        filter: 1; DROP TABLE cad_calls
        time: recieved_at
        grain: monthly
        breakdowns: [district, priority]
        """,
    "measures/copy.yaml": """\
        id: pct-answered
        title: A second definition with the same id
        dataset: cad_call
        kind: share
        condition: answered_at IS NOT NULL
        time: received_at
        """,
    "measures/syntax.yml": """\
        id: syntax
        title: Broken: a colon in a plain value
        """,
    "measures/empty.yaml": "# nothing here yet\n",
    "sources/cad_calls.yaml": """\
        id: cad_calls
        title: Computer-aided dispatch calls
        owner: police
        connector: file
        options:
          path: data/cad.csv
          csv:
            delimeter: ";"
        schedule: "0 25 * * *"
        columns:
          - {name: received_at, type: timestamp}
          - {name: answered_at, type: timestamp}
          - {name: district, type: string}
        """,
    "sources/cad_copy.yaml": """\
        id: cad_copy
        title: The same calls again
        dataset: cad_calls
        owner: polic
        connector: fiel
        columns:
          - {name: district, type: strin}
        """,
}


def write_workspace(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture
def broken(tmp_path: Path) -> list[Issue]:
    with pytest.raises(SpecError) as raised:
        load_workspace(write_workspace(tmp_path, BROKEN))
    return raised.value.issues


@pytest.fixture
def example(tmp_path: Path) -> Path:
    root = tmp_path / "millbrook"
    write_example(root)
    return root


def edit(root: Path, name: str, old: str, new: str) -> None:
    """Change one piece of text in a workspace file, failing loudly if it is not there."""
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def place_of(root: Path, name: str, text: str) -> tuple[int, int]:
    """1-based line and column where ``text`` first appears in a workspace file."""
    for number, line in enumerate((root / name).read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number, line.index(text) + 1
    raise AssertionError(f"{text!r} not in {name}")


def problems(root: Path) -> list[str]:
    workspace, issues = validate_workspace(root)
    assert (workspace is None) == bool(issues)
    return [str(issue) for issue in issues]


# --- the example workspace ------------------------------------------------------------


def test_example_workspace_loads_with_objects_keyed_by_id(example: Path) -> None:
    workspace = load_workspace(example)

    assert workspace.root == example
    assert {"pct-potholes-repaired-on-time", "pct-requests-closed-on-time"} <= set(
        workspace.measures
    )
    assert all(key == m.id for key, m in workspace.measures.items())
    assert list(workspace.sources) == ["service_requests"]
    for _, objective in workspace.objectives():
        assert objective.measure in workspace.measures
    assert summary(workspace) == (
        "millbrook: valid — 2 goals, 3 objectives, 14 measures, 1 source, 4 departments"
    )


# --- a workspace with many problems ---------------------------------------------------


def test_every_planted_problem_is_reported_at_its_place(broken: list[Issue]) -> None:
    places = {(i.path, i.line, i.column) for i in broken}

    assert places == {
        ("civicstat.yaml", 1, 1),
        ("civicstat.yaml", 2, 1),
        ("civicstat.yaml", 3, 11),
        ("governance.yaml", 6, 13),
        ("governance.yaml", 7, 9),
        ("measures/answered.yaml", 5, 12),
        ("measures/answered.yaml", 6, 9),
        ("measures/answered.yaml", 7, 7),
        ("measures/answered.yaml", 8, 8),
        ("measures/answered.yaml", 9, 24),
        ("measures/copy.yaml", 1, 5),
        ("measures/copy.yaml", 3, 10),
        ("measures/empty.yaml", 1, 1),
        ("measures/syntax.yml", 2, 14),
        ("plan.yaml", 4, 8),
        ("plan.yaml", 11, 21),
        ("plan.yaml", 12, 18),
        ("plan.yaml", 13, 25),
        ("plan.yaml", 14, 9),
        ("plan.yaml", 14, 13),
        ("plan.yaml", 17, 40),
        ("sources/cad_calls.yaml", 8, 5),
        ("sources/cad_calls.yaml", 9, 11),
        ("sources/cad_copy.yaml", 3, 10),
        ("sources/cad_copy.yaml", 4, 8),
        ("sources/cad_copy.yaml", 5, 12),
        ("sources/cad_copy.yaml", 7, 28),
    }
    assert len(broken) == len(places)
    assert broken == sorted(broken), "issues come in file order"


@pytest.mark.parametrize(
    "line",
    [
        "civicstat.yaml:1:1: missing required field 'title'",
        "civicstat.yaml:2:1: unknown key 'titel' (did you mean 'title'?)",
        "civicstat.yaml:3:11: timezone: unknown time zone 'Mars/Olympus'",
        "governance.yaml:6:13: department 'polise' not in governance.yaml (did you mean 'police'?)",
        "governance.yaml:7:9: duplicate department id 'police'"
        " (first defined at governance.yaml:2:9)",
        "measures/answered.yaml:7:7: column 'recieved_at' not in dataset cad_calls"
        " (did you mean 'received_at'?)",
        "measures/answered.yaml:8:8: grain: 'monthly' should be 'day', 'week', 'month',"
        " 'quarter', 'year', 'fiscal_quarter' or 'fiscal_year' (did you mean 'month'?)",
        "measures/answered.yaml:9:24: column 'priority' not in dataset cad_calls",
        "measures/copy.yaml:1:5: duplicate measure id 'pct-answered'"
        " (first defined at measures/answered.yaml:1:5)",
        "measures/copy.yaml:3:10: dataset 'cad_call' not loaded by any source"
        " (did you mean 'cad_calls'?)",
        "measures/syntax.yml:2:14: YAML syntax error: mapping values are not allowed here",
        "plan.yaml:4:8: plan period must end after it starts (2025-01-01 to 2024-12-31)",
        "plan.yaml:11:21: department 'polise' not in governance.yaml (did you mean 'police'?)",
        "plan.yaml:12:18: measure 'pct-answerd' not in measures/ (did you mean 'pct-answered'?)",
        "plan.yaml:13:25: target.value: 'abc' should be a valid number,"
        " unable to parse string as a number",
        "plan.yaml:14:9: missing required field 'department'",
        "plan.yaml:14:13: duplicate objective id 'answer-fast' (first defined at plan.yaml:9:13)",
        "plan.yaml:17:40: target.direction: 'up' should be 'higher_is_better' or 'lower_is_better'",
        "sources/cad_calls.yaml:8:5: unknown key 'delimeter' (did you mean 'delimiter'?)",
        "sources/cad_copy.yaml:3:10: dataset 'cad_calls' is already loaded by"
        " sources/cad_calls.yaml; give this source its own dataset",
        "sources/cad_copy.yaml:4:8: department 'polic' not in governance.yaml"
        " (did you mean 'police'?)",
        "sources/cad_copy.yaml:5:12: unknown connector 'fiel' (did you mean 'file'?)"
        " (installed: arcgis, file, http, push, socrata, sql)",
        "sources/cad_copy.yaml:7:28: type: 'strin' should be 'string', 'integer', 'float',"
        " 'boolean', 'date' or 'timestamp' (did you mean 'string'?)",
    ],
)
def test_broken_workspace_reports(broken: list[Issue], line: str) -> None:
    assert line in [str(issue) for issue in broken]


def test_bad_cron_schedule_says_why(broken: list[Issue]) -> None:
    (issue,) = [i for i in broken if (i.path, i.line) == ("sources/cad_calls.yaml", 9)]
    assert issue.message.startswith("invalid cron expression '0 25 * * *': ")
    assert "25" in issue.message.removeprefix("invalid cron expression '0 25 * * *': ")


def test_condition_with_a_misspelt_column_names_it(broken: list[Issue]) -> None:
    (issue,) = [i for i in broken if (i.path, i.line) == ("measures/answered.yaml", 5)]
    assert issue.message.startswith("condition: ")
    assert "recieved_at" in issue.message
    assert "received_at" in issue.message


def test_filter_with_a_second_statement_is_refused(broken: list[Issue]) -> None:
    (issue,) = [i for i in broken if (i.path, i.line) == ("measures/answered.yaml", 6)]
    assert issue.message.startswith("filter: ")


# --- smaller cases ---------------------------------------------------------------------


def test_empty_folder_reports_each_missing_required_file(tmp_path: Path) -> None:
    issues = validate_workspace(tmp_path)[1]

    assert [(i.path, i.line, i.column) for i in issues] == [
        ("civicstat.yaml", 1, 1),
        ("governance.yaml", 1, 1),
        ("plan.yaml", 1, 1),
    ]
    assert all("missing" in i.message for i in issues)


def test_a_folder_that_does_not_exist_is_one_issue(tmp_path: Path) -> None:
    workspace, issues = validate_workspace(tmp_path / "nowhere")

    assert workspace is None
    assert len(issues) == 1
    assert "not found" in issues[0].message


def test_condition_over_declared_columns_is_accepted(example: Path) -> None:
    edit(
        example,
        "sources/service_requests.yaml",
        "  - name: department\n",
        ("  - name: answer_seconds\n    type: integer\n  - name: department\n"),
    )
    edit(
        example,
        "measures/requests-closed-on-time.yaml",
        "condition: closed_at IS NOT NULL AND closed_at <= due_at",
        "condition: answer_seconds <= 10",
    )

    assert problems(example) == []


def test_time_column_must_be_a_date_or_timestamp(example: Path) -> None:
    name = "measures/requests-closed-on-time.yaml"
    edit(example, name, "time: created_at", "time: district")
    line, column = place_of(example, name, "district  ")

    assert problems(example) == [
        f"{name}:{line}:{column}: time column 'district' is string; it must be a date or timestamp"
    ]


def test_unknown_connector_option_suggests_the_right_one(example: Path) -> None:
    name = "sources/service_requests.yaml"
    edit(example, name, "  path: data/", "  pth: data/")
    line, column = place_of(example, name, "pth:")

    # The options mapping starts at its first key, so the missing field points there too.
    assert problems(example) == [
        f"{name}:{line}:{column}: missing required field 'path'",
        f"{name}:{line}:{column}: unknown key 'pth' (did you mean 'path'?)",
    ]


def test_missing_connector_options_name_the_whole_path(example: Path) -> None:
    name = "sources/service_requests.yaml"
    edit(example, name, "options:\n  path: data/service_requests.csv\n", "")
    edit(example, name, "  csv:\n    timestamp_format:", "csv_format:")
    line, column = place_of(example, name, "id: service_requests")
    stray, _ = place_of(example, name, "csv_format:")

    assert problems(example) == [
        f"{name}:{line}:{column}: missing required field 'options.path'",
        f"{name}:{stray}:1: unknown key 'csv_format'",
    ]


def test_department_parents_may_not_form_a_cycle(example: Path) -> None:
    edit(
        example,
        "governance.yaml",
        "title: Office of the Town Manager",
        ("title: Office of the Town Manager\n    parent: public-works"),
    )

    found = problems(example)

    assert found
    assert all("departments form a cycle" in p for p in found)
    assert any("city-manager → public-works → city-manager" in p for p in found)


def test_ids_must_be_lower_case_slugs(example: Path) -> None:
    name = "measures/potholes-repaired-on-time.yaml"
    edit(example, name, "id: pct-potholes-repaired-on-time", "id: Potholes Fixed")
    line, column = place_of(example, name, "Potholes Fixed")

    found = problems(example)

    assert f"{name}:{line}:{column}: id: 'Potholes Fixed' is not a lower-case id" in found[0]


def test_a_file_that_is_a_list_is_refused_as_a_whole(example: Path) -> None:
    name = "measures/requests-closed-on-time.yaml"
    (example / name).write_text("- id: one\n- id: two\n", encoding="utf-8")

    found = problems(example)

    assert f"{name}:1:1: expected one measure (id, title, dataset, kind...), got a list" in found


def test_python_tags_are_not_loaded(example: Path) -> None:
    name = "measures/requests-closed-on-time.yaml"
    (example / name).write_text("id: !!python/object/apply:os.system [ls]\n", encoding="utf-8")

    found = problems(example)

    assert found[0].startswith(f"{name}:1:5: unsupported YAML: ")


def test_a_key_written_twice_is_reported(example: Path) -> None:
    name = "measures/requests-closed-on-time.yaml"
    edit(example, name, "kind: share", "kind: share\nkind: share")
    line, _ = place_of(example, name, "kind: share")

    assert problems(example) == [
        f"{name}:{line + 1}:1: duplicate key 'kind' (first written at line {line})"
    ]
