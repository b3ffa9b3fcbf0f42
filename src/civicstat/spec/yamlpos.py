"""Load YAML into plain data and remember where every key and value was written.

Validation reports each problem as ``file:line:column``; pydantic only knows a path such
as ``("goals", 0, "target")``, so we keep a map from those paths to places in the text.
Only safe YAML is accepted: tags that would build Python objects are errors.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from civicstat.spec.workspace import Issue

Loc = tuple[str | int, ...]
"""A path into loaded data: mapping keys and list indexes, as pydantic reports them."""

Place = tuple[int, int]
"""A 1-based (line, column)."""

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


class _Loader(yaml.SafeLoader):
    """A safe loader that also notes keys written twice in one mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[Node, Any, Node]] = []

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


def load_yaml(text: str, path: str) -> tuple[YamlDocument | None, list[Issue]]:
    """Parse ``text`` (from ``path``, used in messages); ``None`` when it is not valid YAML.

    An empty document loads as ``data=None``; keys written twice are issues but the
    document still loads (the last value wins), so later checks can go on.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        return None, [_syntax_issue(path, error)]
    except yaml.YAMLError as error:  # unmarked errors are rare (e.g. bad encodings)
        return None, [Issue(path, 1, 1, f"YAML syntax error: {error}")]
    finally:
        loader.dispose()
    positions = Positions()
    if node is not None:
        _walk(loader, node, (), positions, set())
    issues = [
        Issue(
            path,
            *_place(key_node),
            f"duplicate key {key!r} (first written at line {first.start_mark.line + 1})",
        )
        for key_node, key, first in loader.duplicates
    ]
    return YamlDocument(path, data, positions), issues


def _walk(loader: _Loader, node: Node, loc: Loc, positions: Positions, active: set[int]) -> None:
    positions.values[loc] = _place(node)
    if id(node) in active:  # a recursive alias; its places are already known
        return
    active = active | {id(node)}
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int):
                key = str(key)
            positions.keys[(*loc, key)] = _place(key_node)
            _walk(loader, value_node, (*loc, key), positions, active)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            _walk(loader, item, (*loc, index), positions, active)


def _place(node: Node) -> Place:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _syntax_issue(path: str, error: yaml.MarkedYAMLError) -> Issue:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = error.problem or "invalid YAML"
    if error.context and problem.startswith("but "):
        problem = f"{error.context} {problem}"
    elif error.context and error.context_mark is not None:
        problem = f"{problem} ({error.context} at line {error.context_mark.line + 1})"
    constructing = isinstance(error, yaml.constructor.ConstructorError)
    kind = "unsupported YAML" if constructing else "YAML syntax error"
    return Issue(path, line, column, f"{kind}: {problem}")
