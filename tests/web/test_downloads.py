"""Downloads open in a spreadsheet as data: a cell that would run as a formula is quoted."""

from __future__ import annotations

import csv
import io

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
