"""How a CSV (or TSV) payload is read: the ``csv`` options of the file and http connectors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from civicstat.spec.models import SpecModel


class CsvOptions(SpecModel):
    delimiter: str = Field(",", min_length=1, max_length=1)
    header: bool = True
    null_values: list[str] = Field(default_factory=lambda: [""])
    timestamp_format: str | None = Field(
        None, description="strptime format of timestamp columns, e.g. %Y-%m-%d %H:%M:%S.%f"
    )
    date_format: str | None = None
    encoding: Literal["utf-8", "latin-1"] = "utf-8"
    strict: bool = Field(
        True,
        description="false: tolerate unescaped quotes inside quoted fields, as some exports "
        "have (the Austin KPI filtered CSV); true: such a file is an error",
    )
