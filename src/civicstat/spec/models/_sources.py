"""sources/*.yaml: a connector, the declared schema, loading, quality checks, access."""

from __future__ import annotations

import zoneinfo
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from civicstat.spec.models._base import ColumnName, Contact, Slug, SpecModel
from civicstat.spec.models._governance_file import Classification, Masking, PiiKind

ColumnType = Literal["string", "integer", "float", "boolean", "date", "timestamp"]


class Column(SpecModel):
    name: ColumnName
    type: ColumnType
    source_column: str | list[str] | None = Field(
        None,
        description="Name of the column in the source when it differs from name; a list names "
        "the alternatives exports have used (the first one a payload has is read)",
    )
    description: str | None = None
    classification: Classification | None = Field(
        None, description="Overrides the source's classification for this column"
    )
    pii: PiiKind | None = Field(None, description="The kind of personal data the column holds")
    masking: Masking | None = Field(
        None,
        description="How the column reads unless unmasked; default: governance.yaml's "
        "masking for its pii kind",
    )
    timezone: str | None = Field(
        None,
        description="timestamp: IANA time zone the source writes the values in, e.g. UTC; "
        "they are stored as the workspace's local time",
    )

    @model_validator(mode="after")
    def _masking_of_pii(self) -> Column:
        if self.masking is not None and self.pii is None:
            raise ValueError("masking applies to PII columns: say which kind with pii")
        if self.masking is Masking.GENERALISE and not self.can_generalise:
            raise ValueError(
                "masking 'generalise' needs a date or timestamp column (to its month) or a "
                "string column with pii: address (to its block)"
            )
        return self

    @property
    def can_generalise(self) -> bool:
        return self.type in ("date", "timestamp") or (
            self.type == "string" and self.pii is PiiKind.ADDRESS
        )

    @model_validator(mode="after")
    def _timezone_of_a_timestamp(self) -> Column:
        if self.timezone is not None:
            if self.type != "timestamp":
                raise ValueError(f"timezone applies to timestamp columns, not {self.type}")
            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        return self

    def source_names(self) -> list[str]:
        """The names this column may have in a payload, in order of preference."""
        if self.source_column is None:
            return [self.name]
        return (
            [self.source_column]
            if isinstance(self.source_column, str)
            else list(self.source_column)
        )


LoadMode = Literal["replace", "append", "merge", "incremental"]


class Load(SpecModel):
    """How a pull's rows become the dataset's next version."""

    mode: LoadMode = Field(
        "replace",
        description="replace: the pull is the whole dataset; append: add its rows; "
        "merge: upsert on key; incremental: only rows past the stored high-water mark of cursor",
    )
    key: list[ColumnName] = Field(default_factory=list, description="Row key for merge")
    cursor: ColumnName | None = Field(
        None, description="Column whose largest loaded value is the high-water mark (incremental)"
    )
    max_bad_rows: float = Field(
        0.05, ge=0, le=1, description="Share of rows that may be quarantined before the run fails"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"mode": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs(self) -> Load:
        if self.mode == "merge" and not self.key:
            raise ValueError("load mode 'merge' needs a key: the columns that identify a row")
        if self.mode == "incremental" and self.cursor is None:
            raise ValueError("load mode 'incremental' needs a cursor column")
        return self


Severity = Literal["warn", "error"]


class _Check(SpecModel):
    severity: Severity = Field(
        "error", description="error: a failing check keeps the last good version; warn: report only"
    )


class NotNullCheck(_Check):
    check: Literal["not_null"]
    columns: list[ColumnName] = Field(min_length=1)


class UniqueCheck(_Check):
    check: Literal["unique"]
    columns: list[ColumnName] = Field(min_length=1, description="Together, unique in every row")


class AcceptedValuesCheck(_Check):
    check: Literal["accepted_values"]
    column: ColumnName
    values: list[str | int | float | bool] = Field(min_length=1)


class RangeCheck(_Check):
    check: Literal["range"]
    column: ColumnName
    min: float | None = None
    max: float | None = None


class RegexCheck(_Check):
    check: Literal["regex"]
    column: ColumnName
    pattern: str = Field(description="Regular expression every non-empty value must match")


class RowCountChangeCheck(_Check):
    check: Literal["row_count_change"]
    max_change_percent: float = Field(gt=0, description="Largest change from the previous version")


class FreshnessCheck(_Check):
    check: Literal["freshness"]
    column: ColumnName = Field(description="Date or timestamp column")
    max_age_hours: float = Field(gt=0, description="Oldest the newest value may be")


class SqlCheck(_Check):
    check: Literal["sql"]
    condition: str = Field(description="Condition (measure SQL subset) every row must meet")


QualityCheck = Annotated[
    NotNullCheck
    | UniqueCheck
    | AcceptedValuesCheck
    | RangeCheck
    | RegexCheck
    | RowCountChangeCheck
    | FreshnessCheck
    | SqlCheck,
    Field(discriminator="check"),
]


class RowAccess(SpecModel):
    """Which rows of a dataset a reader sees: those whose ``column`` names their department
    (or one under it), or, with ``by: user``, their own user name."""

    column: ColumnName = Field(description="Declared column naming the row's department or user")
    by: Literal["department", "user"] = Field(
        "department",
        description="department: the reader's department and those under it; "
        "user: the reader's user name",
    )


class Retention(SpecModel):
    raw_days: int = Field(
        ge=1, description="Raw payloads older than this are deleted by 'civicstat lake prune'"
    )


class Frequency(StrEnum):
    """How often a dataset is updated, as a catalog says it."""

    CONTINUOUS = "continuous"
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"
    IRREGULAR = "irregular"


class Catalog(SpecModel):
    """How a dataset is described in the catalog and the open data feeds (DCAT-US,
    CKAN, Data Package). Only public datasets are published; the others are listed in
    ``data.json`` as non-public, with no download."""

    keywords: list[str] = Field(
        default_factory=list, description="Tags residents search by, e.g. '311', 'potholes'"
    )
    themes: list[str] = Field(
        default_factory=list, description="Topics the catalog groups by, e.g. 'Public Safety'"
    )
    license: str | None = Field(
        None, description="Licence (a URL); default: the portal's licence in civicstat.yaml"
    )
    contact: Contact | None = Field(None, description="Default: the portal's contact")
    frequency: Frequency | None = Field(
        None, description="How often it is updated; default: worked out from the schedule"
    )


class Source(SpecModel):
    id: Slug
    title: str
    description: str | None = None
    dataset: Slug | None = Field(
        None, description="Dataset this source loads; default: the source id"
    )
    owner: Slug = Field(description="Department that owns the data")
    connector: str = Field("file", description="Connector name (entry point civicstat.connectors)")
    options: dict[str, Any] = Field(
        default_factory=dict, description="Connector options, checked by the connector's own model"
    )
    load: Load = Field(default_factory=lambda: Load(), description="How a pull updates the dataset")
    schedule: str | None = Field(None, description="Cron expression (5 fields) for pulls")
    missed_runs: Literal["skip", "run_once"] = Field(
        "run_once",
        description="After downtime: run once to catch up (run_once) or wait (skip)",
    )
    classification: Classification = Classification.INTERNAL
    columns: list[Column] = Field(min_length=1, description="Declared schema")
    quality: list[QualityCheck] = Field(
        default_factory=list, description="Checks a new version must pass before it is published"
    )
    retention: Retention | None = Field(None, description="How long raw payloads are kept")
    row_access: RowAccess | None = Field(
        None, description="Rows readers see by their department or user; default: every row"
    )
    catalog: Catalog = Field(
        default_factory=lambda: Catalog(), description="How the catalog describes the dataset"
    )
    stale_after_hours: float | None = Field(
        None,
        gt=0,
        description="Hours after the last successful pull when the data counts as stale: "
        "measures over it then show the status 'stale', never on target",
    )

    @property
    def dataset_id(self) -> str:
        return self.dataset or self.id

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def frequency_of(source: Source) -> Frequency:
    """How often the catalog says a dataset is updated: as declared, else read off the
    schedule (``0 * * * *`` hourly, ``m h * * *`` daily, ``m h * * d`` weekly,
    ``m h d * *`` monthly); data pushed to CivicStat counts as continuous."""
    if source.catalog.frequency is not None:
        return source.catalog.frequency
    if source.schedule is None:
        return Frequency.CONTINUOUS if source.connector == "push" else Frequency.IRREGULAR
    fields = source.schedule.split()
    if len(fields) != 5:
        return Frequency.IRREGULAR
    _minute, hour, day, month, weekday = fields
    if day == month == weekday == "*":
        if hour == "*" or hour.startswith("*/"):
            return Frequency.HOURLY
        return Frequency.DAILY
    if day == month == "*":
        return Frequency.WEEKLY
    if month == weekday == "*":
        return Frequency.MONTHLY
    return Frequency.IRREGULAR
