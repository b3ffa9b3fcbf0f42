"""`civicstat schema`: one JSON Schema document for every workspace file and connector."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from civicstat.spec.example import write_example
from civicstat.spec.validate import json_schema


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_schema_is_json_with_a_definition_per_file_and_connector() -> None:
    schema = json.loads(json.dumps(json_schema()))

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for name in ("WorkspaceFile", "PlanFile", "GovernanceFile", "Measure", "Source", "FileOptions"):
        assert schema["$defs"][name]["type"] == "object", name
    assert schema["x-civicstat-files"]["measures/*.yaml"] == {"$ref": "#/$defs/Measure"}
    assert schema["x-civicstat-connectors"]["file"] == {"$ref": "#/$defs/FileOptions"}


def test_every_reference_in_the_schema_resolves() -> None:
    schema = json_schema()

    refs = set(_refs(schema))

    assert "#/$defs/Objective" in refs
    for ref in refs:
        assert ref.startswith("#/$defs/")
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref


def test_schema_forbids_unknown_keys_like_the_validator() -> None:
    defs = json_schema()["$defs"]

    assert defs["Measure"]["additionalProperties"] is False
    assert defs["Objective"]["additionalProperties"] is False
    assert "department" in defs["Objective"]["required"]


def test_example_files_use_only_keys_the_schema_knows(tmp_path: Path) -> None:
    write_example(tmp_path)
    defs = json_schema()["$defs"]
    files = {
        "civicstat.yaml": "WorkspaceFile",
        "plan.yaml": "PlanFile",
        "governance.yaml": "GovernanceFile",
        "measures/requests-closed-on-time.yaml": "Measure",
        "sources/service_requests.yaml": "Source",
    }

    for name, definition in files.items():
        data = yaml.safe_load((tmp_path / name).read_text(encoding="utf-8"))
        schema = defs[definition]
        assert set(data) <= set(schema["properties"]), name
        assert set(schema.get("required", [])) <= set(data), name
