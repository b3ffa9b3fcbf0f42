"""Turn pydantic validation errors into issues a person can act on, at their place."""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from civicstat.spec.models import (
    GovernanceFile,
    Measure,
    PlanFile,
    Source,
    StoryMeta,
    WorkspaceFile,
)
from civicstat.spec.workspace import Issue
from civicstat.spec.yamlpos import Loc, YamlDocument

_QUOTED = re.compile(r"'([^']*)'")
_FRIENDLY_PATTERNS = {
    r"^[a-z][a-z0-9_-]{0,62}$": "a lower-case id (letters, digits, '-' and '_', first a letter)",
    r"^[A-Za-z_][A-Za-z0-9_]{0,62}$": "a column name (letters, digits and '_', at most 63)",
}


def model_issues(
    error: ValidationError, model: type[BaseModel], doc: YamlDocument, prefix: Loc = ()
) -> list[Issue]:
    """Each pydantic error as an issue at the place of the key or value it is about."""
    issues = []
    for err in error.errors():
        inner: Loc = tuple(err["loc"])
        loc = (*prefix, *inner)
        kind, value = err["type"], err.get("input")
        if kind == "extra_forbidden" and inner:
            parent = _model_at(model, inner[:-1])
            fields = list(parent.model_fields) if parent else []
            place = doc.positions.key(loc)
            message = f"unknown key {loc[-1]!r}{hint(str(loc[-1]), fields)}"
        elif kind == "missing" and inner:
            place = doc.positions.value(loc[:-1])
            # Name the whole path when the enclosing mapping is itself absent from the file.
            name = loc[-1] if loc[:-1] in doc.positions.values else where(loc)
            message = f"missing required field {name!r}"
        else:
            place = doc.positions.value(loc)
            message = _value_message(err["msg"], kind, value, err.get("ctx") or {})
            if not inner and not prefix:
                message = f"expected {what(model)}, got {show(value)}"
            elif loc:
                message = f"{where(loc)}: {message}"
        issues.append(Issue(doc.path, place[0], place[1], message))
    return issues


def _value_message(msg: str, kind: str, value: Any, ctx: dict[str, Any]) -> str:
    pattern = ctx.get("pattern")
    if kind == "string_pattern_mismatch" and pattern in _FRIENDLY_PATTERNS:
        return f"{show(value)} is not {_FRIENDLY_PATTERNS[pattern]}"
    msg = msg.removeprefix("Value error, ")
    if kind in ("model_type", "dict_type"):
        return f"expected a mapping (key: value pairs), got {show(value)}"
    if msg.startswith("Input should be "):
        msg = f"{show(value)} should be {msg.removeprefix('Input should be ')}"
    if kind in ("enum", "literal_error") and isinstance(value, str):
        msg += hint(value, _QUOTED.findall(str(ctx.get("expected", ""))))
    return lower_first(msg)


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc``, to know its field names."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, str) and isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif isinstance(part, str) and get_origin(current) is dict:
            current = get_args(current)[1]
        elif isinstance(part, int) and get_origin(current) in (list, tuple, set, frozenset):
            current = get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` → ``X`` and ``Annotated[X, ...]`` → ``X``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def hint(value: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(value, list(known), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def where(loc: Loc) -> str:
    """The tail of ``loc`` after its last list item, e.g. ``target.value`` or ``breakdowns[1]``."""
    start = max((i + 1 for i, p in enumerate(loc[:-1]) if isinstance(p, int)), default=0)
    text = ""
    for part in loc[start:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def show(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def what(model: type[BaseModel]) -> str:
    names = {
        WorkspaceFile: "the workspace settings (name, title, timezone...)",
        PlanFile: "a plan (title, period, goals)",
        GovernanceFile: "governance (departments...)",
        Measure: "one measure (id, title, dataset, kind...)",
        Source: "one source (id, title, owner, connector, columns...)",
        StoryMeta: "a story's front matter (title, summary, published, author)",
    }
    return names.get(model, f"a {model.__name__} mapping")


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
