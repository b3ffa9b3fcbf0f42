"""`civicstat init`: the example workspace is written whole, works, and never overwrites."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from civicstat.spec.example import write_example
from civicstat.spec.validate import load_workspace

EXPECTED_FILES = {
    "civicstat.yaml",
    "plan.yaml",
    "governance.yaml",
    "policy.md",
    "stories/closing-requests-on-time.md",
    "measures/business-days-to-close.yaml",
    "measures/closed-on-time-rolling.yaml",
    "measures/median-days-to-close.yaml",
    "measures/open-requests.yaml",
    "measures/p90-hours-to-close.yaml",
    "measures/pothole-share-of-requests.yaml",
    "measures/potholes-repaired-on-time.yaml",
    "measures/potholes-reported.yaml",
    "measures/request-types.yaml",
    "measures/requests-closed-on-time.yaml",
    "measures/requests-fiscal-ytd.yaml",
    "measures/requests-not-closed-on-time.yaml",
    "measures/requests-per-1000-residents.yaml",
    "measures/requests-received.yaml",
    "sources/service_requests.yaml",
    "data/service_requests.csv",
}


def test_init_writes_the_whole_example_and_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "new" / "town"

    write_example(target)

    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert written == EXPECTED_FILES


def test_init_into_an_empty_existing_folder_is_fine(tmp_path: Path) -> None:
    write_example(tmp_path)

    assert load_workspace(tmp_path).settings.name == "millbrook"


def test_init_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")

    with pytest.raises(FileExistsError, match="not empty"):
        write_example(tmp_path)

    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_init_refuses_a_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "town"
    target.write_text("", encoding="utf-8")

    with pytest.raises(FileExistsError, match="is a file"):
        write_example(target)


def test_example_yaml_files_explain_themselves(tmp_path: Path) -> None:
    write_example(tmp_path)
    # The story explains itself in its front matter's comments; the policy is prose.
    story = (tmp_path / "stories/closing-requests-on-time.md").read_text(encoding="utf-8")
    assert story.startswith("---\n# stories/*.md")

    for name in EXPECTED_FILES:
        if not name.endswith(".yaml"):
            continue
        assert (tmp_path / name).read_text(encoding="utf-8").lstrip().startswith("#"), name


def test_example_data_matches_its_declared_schema(tmp_path: Path) -> None:
    write_example(tmp_path)
    workspace = load_workspace(tmp_path)
    source = workspace.sources["service_requests"]
    path = tmp_path / str(source.options["path"])
    stamp = source.options["csv"]["timestamp_format"]

    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert 250 <= len(rows) <= 400
    assert list(rows[0]) == [c.name for c in source.columns]
    assert len({r["request_id"] for r in rows}) == len(rows)
    open_requests = 0
    for row in rows:
        created = dt.datetime.strptime(row["created_at"], stamp)
        assert dt.datetime.strptime(row["due_at"], stamp) > created
        if row["closed_at"]:
            assert dt.datetime.strptime(row["closed_at"], stamp) >= created
        else:
            open_requests += 1
        assert row["department"] in {d.id for d in workspace.governance.departments}
    assert 0 < open_requests < len(rows) / 4
    assert any(r["request_type"] == "pothole" for r in rows)
