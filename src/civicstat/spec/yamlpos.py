"""Load YAML into plain data and remember where every key and value was written.

Validation reports each problem as ``file:line:column``; pydantic only knows a path such
as ``("goals", 0, "target")``, so we keep a map from those paths to places in the text.
Only safe YAML is accepted: tags that would build Python objects are errors. A spec file
is small, so its size, its nesting and what its aliases expand to are bounded: a file
built to exhaust memory or the stack (an alias "billion laughs", thousands of nested
brackets) is one clear issue, found before anything expands it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from civicstat.spec.workspace import Issue

Loc = tuple[str | int, ...]
"""A path into loaded data: mapping keys and list indexes, as pydantic reports them."""

Place = tuple[int, int]
"""A 1-based (line, column)."""

MAX_FILE_BYTES = 1 << 20
"""Largest spec file read: the largest real one is a few kilobytes."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings, aliases expanded (the spec's own is under 10)."""
MAX_VALUES = 100_000
"""Most keys and values in one file once its aliases are expanded."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class Positions:
    """Where each key and each value of a document starts in its text."""

    keys: dict[Loc, Place] = field(default_factory=dict)
    values: dict[Loc, Place] = field(default_factory=dict)

    def value(self, loc: Loc) -> Place:
        """Place of the value at ``loc``, or of its nearest enclosing value that exists."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return (1, 1)

    def key(self, loc: Loc) -> Place:
        """Place of the key at ``loc`` (for list items, the item itself)."""
        return self.keys.get(loc) or self.value(loc)


@dataclass(frozen=True)
class YamlDocument:
    """One YAML file as plain Python data with the places of its parts."""

    path: str
    data: Any
    positions: Positions


class _Refused(yaml.MarkedYAMLError):
    """Well-formed YAML this loader will not expand (too deep, too large, a cycle)."""


class _Loader(yaml.SafeLoader):
    """A safe loader that notes keys written twice in one mapping and refuses to compose
    nesting deeper than :data:`MAX_DEPTH` (PyYAML's composer recurses once per level)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[Node, Any, Node]] = []
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.depth >= MAX_DEPTH and not self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _Refused(problem=f"nested more than {MAX_DEPTH} levels deep", problem_mark=mark)
        self.depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        assert node is not None  # PyYAML returns None only at the end of the stream
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            if isinstance(key, Hashable) and key in seen:
                self.duplicates.append((key_node, key, seen[key]))
            elif isinstance(key, Hashable):
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def read_yaml(file: Path, path: str) -> tuple[YamlDocument | None, list[Issue]]:
    """Read and load one spec file (``path`` names it in messages): at most
    :data:`MAX_FILE_BYTES` of UTF-8, then :func:`load_yaml`."""
    text, issues = read_text(file, path)
    if text is None:
        return None, issues
    return load_yaml(text, path)


def read_text(file: Path, path: str) -> tuple[str | None, list[Issue]]:
    """The text of one spec file (YAML or Markdown): at most :data:`MAX_FILE_BYTES` of
    UTF-8; ``None`` and the issue otherwise."""
    with file.open("rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        limit = f"{MAX_FILE_BYTES // (1 << 20)} MiB"
        return None, [
            Issue(path, 1, 1, f"file is larger than {limit}, the most a spec file may be")
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        return None, [
            Issue(path, line, column, f"not UTF-8 text: {error.reason} at byte {error.start}")
        ]
    return text, []


def load_yaml(text: str, path: str) -> tuple[YamlDocument | None, list[Issue]]:
    """Parse ``text`` (from ``path``, used in messages); ``None`` when it is not valid YAML
    or is beyond the bounds above.

    An empty document loads as ``data=None``; keys written twice are issues but the
    document still loads (the last value wins), so later checks can go on.
    """
    try:
        loader = _Loader(text)  # reads the text once: a control character stops it here
    except yaml.reader.ReaderError as error:
        line, column = _text_place(text, error.position)
        return None, [Issue(path, line, column, f"not YAML text: {error.reason}")]
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        return None, [_syntax_issue(path, error)]
    except yaml.YAMLError as error:  # unmarked errors are rare
        return None, [Issue(path, 1, 1, f"YAML syntax error: {error}")]
    finally:
        loader.dispose()
    positions = Positions()
    if node is not None:
        _walk(loader, node, (), positions)
    issues = [
        Issue(
            path,
            *_place(key_node),
            f"duplicate key {key!r} (first written at line {first.start_mark.line + 1})",
        )
        for key_node, key, first in loader.duplicates
    ]
    return YamlDocument(path, data, positions), issues


def _check_expansion(root: Node) -> None:
    """Refuse a document whose aliases form a cycle or expand it beyond :data:`MAX_VALUES`
    values or :data:`MAX_DEPTH` levels, counted on the composed graph without expanding it
    (each shared node once, iteratively: the expanded depth may be far beyond the stack's)."""
    done: dict[int, tuple[int, int]] = {}  # id → (values, depth) once expanded
    open_: set[int] = set()
    shared = False
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = _children(node)
        if finished:
            values = 1 + sum(done[id(c)][0] for c in children)
            depth = 1 + max((done[id(c)][1] for c in children), default=0)
            open_.discard(id(node))
            done[id(node)] = (values, depth)
            if values > MAX_VALUES or depth > MAX_DEPTH:
                raise _Refused(
                    problem=_too_big(values, depth, shared), problem_mark=node.start_mark
                )
            continue
        if id(node) in done:
            shared = True
            continue
        open_.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in open_:
                cycle = "an alias refers to a value that holds it: aliases may not form a cycle"
                raise _Refused(problem=cycle, problem_mark=child.start_mark)
            stack.append((child, False))


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _too_big(values: int, depth: int, shared: bool) -> str:
    how = "with its aliases expanded, " if shared else ""
    if depth > MAX_DEPTH:
        return f"{how}this value is nested more than {MAX_DEPTH} levels deep"
    return f"{how}this value holds more than {MAX_VALUES:,} keys and values"


def _walk(loader: _Loader, node: Node, loc: Loc, positions: Positions) -> None:
    positions.values[loc] = _place(node)
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int):
                key = str(key)
            positions.keys[(*loc, key)] = _place(key_node)
            _walk(loader, value_node, (*loc, key), positions)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _walk(loader, item, (*loc, index), positions)


def _place(node: Node) -> Place:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _text_place(text: str, position: int) -> Place:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _syntax_issue(path: str, error: yaml.MarkedYAMLError) -> Issue:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = error.problem or "invalid YAML"
    if error.context and problem.startswith("but "):
        problem = f"{error.context} {problem}"
    elif error.context and error.context_mark is not None:
        problem = f"{problem} ({error.context} at line {error.context_mark.line + 1})"
    refused = isinstance(error, _Refused | yaml.constructor.ConstructorError)
    kind = "unsupported YAML" if refused else "YAML syntax error"
    return Issue(path, line, column, f"{kind}: {problem}")
