"""Every measure's stored body and definition hashes stay exactly as they were.

Observations remember the definition hash that produced them, so a change of a measure's
dump or hash (say, by reshaping the ``Measure`` model) would mark every stored number as
computed from another definition. The golden file was written from the code before kinds
got their own parameter models; regenerate it only on purpose.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from civicstat.demo.riverton import write_workspace
from civicstat.spec import measure_kinds as kinds
from civicstat.spec.example import write_example
from civicstat.spec.models import Measure
from civicstat.spec.validate import load_workspace
from civicstat.spec.workspace import canonical_json, definition_hash

GOLDEN = Path(__file__).parent / "golden" / "measure_definitions.json"


def _full_hash(measures: dict[str, Measure], measure: Measure) -> str:
    parts = [definition_hash(measure)]
    parts += [
        _full_hash(measures, measures[d]) for d in kinds.get(measure.kind).depends_on(measure)
    ]
    if len(parts) == 1:
        return parts[0]
    return hashlib.sha256("+".join(parts).encode()).hexdigest()


def _pins(root: Path) -> dict[str, dict[str, object]]:
    measures = load_workspace(root).measures
    return {
        mid: {
            "body": canonical_json(m.model_dump(mode="json")),
            "python": repr(m.model_dump()),
            "definition_hash": definition_hash(m),
            "full_definition_hash": _full_hash(measures, m),
            "depends_on": kinds.get(m.kind).depends_on(m),
            "unit": kinds.get(m.kind).unit(m),
        }
        for mid, m in sorted(measures.items())
    }


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    example = tmp_path_factory.mktemp("example")
    write_example(example)
    riverton = tmp_path_factory.mktemp("riverton")
    write_workspace(riverton, end=dt.date(2026, 6, 30), calls=2_000)
    return {"example": _pins(example), "riverton": _pins(riverton)}


def test_every_measure_keeps_its_body_and_hashes(current: dict[str, object]) -> None:
    if not GOLDEN.exists():  # pragma: no cover - writing the golden file on purpose
        GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert current == json.loads(GOLDEN.read_text())
