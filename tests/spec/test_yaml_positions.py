"""YAML is loaded as plain data, and every key and value keeps its line and column."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from civicstat.spec.yamlpos import Loc, load_yaml

PLAN = """\
title: Plan
goals:
  - id: safety
    objectives:
      - id: answer-fast
        target: {value: 90, direction: higher_is_better}
"""


def test_positions_of_keys_and_values_are_one_based() -> None:
    doc, issues = load_yaml(PLAN, "plan.yaml")

    assert issues == []
    assert doc is not None
    assert doc.data["goals"][0]["objectives"][0]["target"]["value"] == 90
    positions = doc.positions
    assert positions.key(("title",)) == (1, 1)
    assert positions.value(("title",)) == (1, 8)
    assert positions.value(("goals", 0)) == (3, 5)
    assert positions.key(("goals", 0, "objectives", 0, "id")) == (5, 9)
    assert positions.value(("goals", 0, "objectives", 0, "id")) == (5, 13)
    assert positions.key(("goals", 0, "objectives", 0, "target", "value")) == (6, 18)
    assert positions.value(("goals", 0, "objectives", 0, "target", "value")) == (6, 25)


def test_a_path_that_is_not_in_the_file_falls_back_to_its_nearest_parent() -> None:
    doc, _ = load_yaml(PLAN, "plan.yaml")

    assert doc is not None
    assert doc.positions.value(("goals", 0, "objectives", 0, "department")) == (5, 9)
    assert doc.positions.key(("goals", 0, "title")) == (3, 5)


def test_syntax_error_is_reported_at_its_mark() -> None:
    text = "title: Plan\ngoals:\n  - id: a\n    title: Safety: first\n"

    doc, issues = load_yaml(text, "plan.yaml")

    assert doc is None
    assert [str(i) for i in issues] == [
        "plan.yaml:4:18: YAML syntax error: mapping values are not allowed here"
    ]


def test_unclosed_bracket_names_what_was_being_parsed() -> None:
    doc, issues = load_yaml("breakdowns: [district\ngrain: month\n", "m.yaml")

    assert doc is None
    (issue,) = issues
    assert issue.message.startswith("YAML syntax error: ")
    assert "flow sequence" in issue.message


def test_two_documents_in_one_file_are_refused() -> None:
    doc, issues = load_yaml("id: a\n---\nid: b\n", "m.yaml")

    assert doc is None
    assert [(i.line, i.column) for i in issues] == [(2, 1)]
    assert "single document" in issues[0].message


def test_duplicate_keys_are_issues_but_the_document_still_loads() -> None:
    doc, issues = load_yaml("id: a\ntitle: One\nid: b\n", "m.yaml")

    assert doc is not None
    assert doc.data == {"id": "b", "title": "One"}
    assert [str(i) for i in issues] == ["m.yaml:3:1: duplicate key 'id' (first written at line 1)"]


def test_merge_keys_may_be_overridden_without_a_duplicate_issue() -> None:
    text = "base: &b {k: 1, j: 2}\nderived:\n  <<: *b\n  k: 3\n"

    doc, issues = load_yaml(text, "x.yaml")

    assert issues == []
    assert doc is not None
    assert doc.data["derived"] == {"k": 3, "j": 2}
    assert doc.positions.value(("derived", "k")) == (4, 6)


def test_tags_that_build_python_objects_are_refused() -> None:
    doc, issues = load_yaml("x: !!python/object/apply:os.system [echo hi]\n", "x.yaml")

    assert doc is None
    assert issues[0].message.startswith("unsupported YAML: ")
    assert (issues[0].line, issues[0].column) == (1, 4)


def test_empty_and_comment_only_files_load_as_nothing() -> None:
    for text in ("", "# just a comment\n"):
        doc, issues = load_yaml(text, "x.yaml")
        assert issues == []
        assert doc is not None
        assert doc.data is None


def test_an_alias_inside_its_own_anchor_is_refused_as_a_cycle() -> None:
    doc, issues = load_yaml("a: &x [1, *x]\n", "x.yaml")

    assert doc is None
    assert [str(i) for i in issues] == [
        "x.yaml:1:4: unsupported YAML: an alias refers to a value that holds it: "
        "aliases may not form a cycle"
    ]


def test_shared_anchors_and_merges_within_the_bounds_still_load() -> None:
    text = "cols: &c [a, b]\nfirst: *c\nsecond: *c\nbase: &b {k: 1}\nmore: {<<: *b, j: 2}\n"

    doc, issues = load_yaml(text, "x.yaml")

    assert issues == []
    assert doc is not None
    assert doc.data["second"] == ["a", "b"]
    assert doc.data["more"] == {"k": 1, "j": 2}


# --- any data, dumped and loaded again -------------------------------------------------

_keys = st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True)
_scalars = st.integers(-1000, 1000) | st.from_regex(r"[A-Za-z][A-Za-z ]{0,10}[a-z]", fullmatch=True)
_data = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=4)
        | st.dictionaries(_keys, inner, min_size=1, max_size=4)
    ),
    max_leaves=20,
)


def _paths(value: Any, loc: Loc = ()) -> dict[Loc, Any]:
    found = {loc: value}
    if isinstance(value, dict):
        for key, item in value.items():
            found |= _paths(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found |= _paths(item, (*loc, index))
    return found


def _text_at(text: str, place: tuple[int, int]) -> str:
    line, column = place
    return text.splitlines()[line - 1][column - 1 :]


@given(st.dictionaries(_keys, _data, min_size=1, max_size=5), st.booleans())
def test_every_key_and_scalar_is_found_where_it_was_written(
    data: dict[str, Any], flow: bool
) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, sort_keys=False, width=1000)

    doc, issues = load_yaml(text, "x.yaml")

    assert issues == []
    assert doc is not None
    assert doc.data == data
    paths = _paths(data)
    assert set(doc.positions.values) == set(paths)
    for loc, value in paths.items():
        if loc and isinstance(loc[-1], str):
            assert _text_at(text, doc.positions.key(loc)).lstrip("'").startswith(loc[-1])
        if not isinstance(value, dict | list):
            written = _text_at(text, doc.positions.value(loc)).lstrip("'")
            assert written.startswith(str(value))
