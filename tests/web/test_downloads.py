"""Downloads open in a spreadsheet as data: a cell that would run as a formula is quoted."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from civicstat.web.downloads import safe_cell, to_csv


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_text_a_spreadsheet_would_run_is_quoted(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["district=North", "Harbor", "", "a=b+c", "(blank)"])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert safe_cell(text) == text


def test_numbers_stay_numbers_even_when_negative() -> None:
    assert [safe_cell(v) for v in (-1.5, 0, 42, None, True)] == ["-1.5", "0", "42", "", "true"]


def test_a_csv_reads_back_with_each_dangerous_cell_quoted() -> None:
    text = to_csv(["slice", "value"], [["=cmd|' /C calc'!A0", -3.25], ["North", 90.0]])

    rows = list(csv.reader(io.StringIO(text)))

    assert rows == [["slice", "value"], ["'=cmd|' /C calc'!A0", "-3.25"], ["North", "90.0"]]


def test_every_module_writing_csv_writes_its_cells_through_csv_cell() -> None:
    """CSV injection is a class of defect: a module that writes CSV with its own cell
    formatting would reopen it. Every CSV writer in the package must pass each cell
    through ``governance.row_query.csv_cell`` (directly, or as ``safe_cell``)."""
    src = Path(__file__).resolve().parents[2] / "src" / "civicstat"
    writers = [
        p
        for p in sorted(src.rglob("*.py"))
        if re.search(r"\bcsv\.(writer|DictWriter)\(", p.read_text())
    ]
    assert writers, "no CSV writer found: the walk is broken"
    unsafe = [
        str(p.relative_to(src))
        for p in writers
        if not re.search(r"\b(csv_cell|safe_cell)\(", p.read_text())
    ]
    assert unsafe == []
