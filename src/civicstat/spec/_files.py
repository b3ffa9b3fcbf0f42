"""One loaded workspace file, and reading its raw data by place, whatever its shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from civicstat.spec.yamlpos import Loc, YamlDocument


@dataclass(frozen=True)
class File:
    """One loaded file: its raw data and places, and its model when it validated."""

    doc: YamlDocument
    model: BaseModel | None

    @property
    def path(self) -> str:
        return self.doc.path

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data if isinstance(self.doc.data, dict) else {}


def model_of(file: File, model: type[Any]) -> Any:
    assert isinstance(file.model, model)
    return file.model


def items(file: File, loc: Loc | str) -> list[Loc]:
    """Places of the mappings in the list at ``loc``, skipping entries of the wrong shape."""
    loc = (loc,) if isinstance(loc, str) else loc
    found = get(file, loc)
    if not isinstance(found, list):
        return []
    return [(*loc, i) for i, item in enumerate(found) if isinstance(item, dict)]


def get(file: File, loc: Loc) -> Any:
    value: Any = file.data
    for part in loc:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return None
    return value


def columns_of(source: File) -> dict[str, str]:
    columns = source.data.get("columns")
    return {
        c["name"]: str(c.get("type"))
        for c in (columns if isinstance(columns, list) else [])
        if isinstance(c, dict) and isinstance(c.get("name"), str)
    }
