"""Sharing agreements in governance.yaml: each problem reported at its place, and a valid
agreement is an object of the plan revision with its own definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicstat.spec.example import write_example
from civicstat.spec.validate import validate_workspace

GOOD = """
agreements:
  - id: works-311
    title: 311 requests for street repair planning
    parties:
      - department: public-works
      - external: County Roads Authority
    datasets: [service_requests]
    purpose: Plan pothole repairs
    legal_basis: Interlocal agreement 2025-14
    start: 2026-01-01
    expires: 2026-12-31
    approver: Dana Ruiz, Chief Data Officer
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_example(tmp_path)
    return tmp_path


def _with(root: Path, text: str) -> list[str]:
    governance = root / "governance.yaml"
    governance.write_text(governance.read_text(encoding="utf-8") + text, encoding="utf-8")
    _, issues = validate_workspace(root)
    return [str(i) for i in issues]


def test_a_valid_agreement_is_an_object_of_the_workspace(root: Path) -> None:
    assert _with(root, GOOD) == []
    workspace, _ = validate_workspace(root)
    assert workspace is not None

    [agreement] = [o for o in workspace.spec_objects() if o.kind == "agreement"]

    assert agreement.key == "works-311"
    assert agreement.body["parties"][1] == {
        "department": None,
        "external": "County Roads Authority",
    }


def test_unknown_departments_and_datasets_are_reported_where_they_are_named(root: Path) -> None:
    text = GOOD.replace("department: public-works", "department: public-werks").replace(
        "[service_requests]", "[service_requests, permits]"
    )

    issues = _with(root, text)

    lines = (root / "governance.yaml").read_text(encoding="utf-8").splitlines()
    line = 1 + next(n for n, t in enumerate(lines) if "public-werks" in t)
    assert f"governance.yaml:{line}:21: department 'public-werks' not in governance.yaml" in (
        i.split(" (did you mean")[0] for i in issues
    ), issues
    assert any("dataset 'permits' not loaded by any source" in i for i in issues), issues


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("expires: 2026-12-31", "expires: 2025-12-31"), "cannot expire before it starts"),
        (("- external: County Roads Authority", "- {}"), "either a 'department' or an 'external'"),
        (("    purpose: Plan pothole repairs\n", ""), "purpose"),
    ],
)
def test_an_incomplete_agreement_is_reported(
    root: Path, change: tuple[str, str], message: str
) -> None:
    issues = _with(root, GOOD.replace(*change))

    assert any(message in i and i.startswith("governance.yaml:") for i in issues), issues


def test_agreement_ids_are_unique(root: Path) -> None:
    second = GOOD.split("\n", 2)[2]  # the list item again, without the key

    issues = _with(root, GOOD + second)

    assert any("duplicate agreement id 'works-311'" in i for i in issues), issues
