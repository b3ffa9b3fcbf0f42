"""A spec file built to exhaust memory or the stack is one issue at its place, found
before anything expands it: alias bombs, deep nesting, huge or binary files, Python tags."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from civicstat.spec.yamlpos import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES, load_yaml, read_yaml


def billion_laughs(levels: int = 9) -> str:
    """The classic alias bomb: under 1 KB that expands to 9**levels values."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in range(1, levels + 1):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def merge_bomb(levels: int = 40) -> str:
    """Merge keys that double the pairs of the mapping before, level after level."""
    lines = ["m0: &m0 {k: 1}"]
    for level in range(1, levels + 1):
        lines.append(f"m{level}: &m{level} {{<<: [*m{level - 1}, *m{level - 1}], k{level}: 1}}")
    return "\n".join(lines) + "\n"


def alias_chain(levels: int = 2000) -> str:
    """Each anchor holds the one before: shallow as written, deep as expanded."""
    lines = ["l0: &l0 [x]"] + [f"l{n}: &l{n} [*l{n - 1}]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def refused(text: str) -> str:
    start = time.monotonic()
    doc, issues = load_yaml(text, "m.yaml")
    assert time.monotonic() - start < 5
    assert doc is None
    (issue,) = issues
    return str(issue)


def test_an_alias_bomb_is_refused_where_its_expansion_passes_the_bound() -> None:
    message = refused(billion_laughs())

    # 'f' is the first anchor whose expansion (9**6 values) passes the bound.
    assert message == (
        f"m.yaml:6:4: unsupported YAML: with its aliases expanded, "
        f"this value holds more than {MAX_VALUES:,} keys and values"
    )


def test_merge_keys_cannot_double_a_mapping_past_the_bound() -> None:
    assert "more than 100,000 keys and values" in refused(merge_bomb())


def test_aliases_cannot_nest_past_the_depth_bound() -> None:
    assert f"nested more than {MAX_DEPTH} levels deep" in refused(alias_chain())


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("[" * 50_000, "1:65"),
        ("{a: " * 2_000 + "1" + "}" * 2_000, "1:254"),
        ("".join(" " * n + "a:\n" for n in range(2_000)), "64:64"),
        ("x:\n" + "".join(" " * n + "- \n" for n in range(1, 500)), "65:65"),
    ],
    ids=["brackets", "flow-mappings", "block-mappings", "block-lists"],
)
def test_nesting_deeper_than_the_bound_is_refused_at_the_first_level_past_it(
    text: str, place: str
) -> None:
    assert refused(text) == (
        f"m.yaml:{place}: unsupported YAML: nested more than {MAX_DEPTH} levels deep"
    )


def test_a_file_larger_than_the_bound_is_refused_without_being_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("w") as handle:
        handle.write("id: " + "x" * (MAX_FILE_BYTES + 10) + "\n")

    doc, issues = read_yaml(big, "measures/big.yaml")

    assert doc is None
    assert [str(i) for i in issues] == [
        "measures/big.yaml:1:1: file is larger than 1 MiB, the most a spec file may be"
    ]


def test_bytes_that_are_not_utf8_are_placed_at_their_line_and_column(tmp_path: Path) -> None:
    file = tmp_path / "m.yaml"
    file.write_bytes(b"id: a\ntitle: caf\xe9\n")

    _, issues = read_yaml(file, "m.yaml")

    assert [str(i) for i in issues] == [
        "m.yaml:2:11: not UTF-8 text: invalid continuation byte at byte 16"
    ]


def test_control_characters_are_placed_at_their_line_and_column() -> None:
    doc, issues = load_yaml("id: a\ntitle: b\x00c\n", "m.yaml")

    assert doc is None
    assert [(i.line, i.column) for i in issues] == [(2, 9)]
    assert issues[0].message.startswith("not YAML text: special characters are not allowed")


def test_tags_that_build_python_objects_are_refused_at_the_top_level_too() -> None:
    message = refused("!!python/object/apply:os.system ['echo hi']\n")

    assert message.startswith("m.yaml:1:1: unsupported YAML: could not determine a constructor")
