"""The workspace spec: what each YAML file of a workspace may say.

A workspace is a folder (it can live in git):

    civicstat.yaml      WorkspaceFile   name, timezone, fiscal year, storage
    plan.yaml           PlanFile        plan period, goals → objectives (KPOs) with targets
    measures/*.yaml     Measure         how each KPI is computed from a dataset
    sources/*.yaml      Source          connector, schema, schedule, classification
    governance.yaml     GovernanceFile  departments, suppression threshold

Every model forbids unknown keys, so a typo is an error with a "did you mean".
Cross-file references (objective → measure, measure → dataset and columns,
owner → department) are checked by :mod:`civicstat.spec.validate`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from civicstat.domain.periods import Grain
from civicstat.domain.targets import Direction
from civicstat.domain.targets import Target as DomainTarget

Slug = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,62}$"),
    Field(description="Lower-case id: letters, digits, '-' and '_', starting with a letter."),
]
ColumnName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"),
    Field(description="A warehouse column name: letters, digits and '_'."),
]


class SpecModel(BaseModel):
    """Base of every spec model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- civicstat.yaml ---------------------------------------------------------------------


class Storage(SpecModel):
    """Where the workspace keeps its data. Each URL may be overridden by an environment
    variable (``CIVICSTAT_DATABASE_URL``, ``CIVICSTAT_WAREHOUSE_URL``, ``CIVICSTAT_LAKE_URL``);
    credentials belong there, never in the spec."""

    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the metadata store; default: SQLite file in .civicstat/",
    )
    warehouse_url: str | None = Field(
        None, description="Ibis connection URL of the warehouse engine; default: in-process DuckDB"
    )
    lake_url: str | None = Field(
        None,
        description="Folder of the lake, relative to the workspace or absolute; default: lake/",
    )


class HolidayCalendar(SpecModel):
    country: str = Field(description="ISO 3166 country code understood by the holidays package")
    subdivision: str | None = Field(None, description="State or province code, e.g. VA")


class Network(SpecModel):
    """Outbound fetches refuse private, loopback and link-local addresses (SSRF guard)
    unless listed here: a city's own internal systems, named one by one."""

    allow: list[str] = Field(
        default_factory=list,
        description="Hosts or CIDR ranges connectors may reach despite the guard",
    )


class WorkspaceFile(SpecModel):
    name: Slug
    title: str
    timezone: str = Field("UTC", description="IANA time zone of the city, e.g. America/New_York")
    fiscal_year_start_month: int = Field(1, ge=1, le=12)
    holidays: HolidayCalendar | None = None
    storage: Storage = Storage()
    network: Network = Network()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


# --- governance.yaml --------------------------------------------------------------------


class Classification(StrEnum):
    """How sensitive data is, least first. Anything unclassified is treated as restricted."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class Department(SpecModel):
    id: Slug
    title: str
    parent: Slug | None = Field(None, description="Id of the parent department, if any")


class Suppression(SpecModel):
    k: int = Field(11, ge=1, description="Smallest count published in a public cell")


class GovernanceFile(SpecModel):
    departments: list[Department] = Field(min_length=1)
    suppression: Suppression = Suppression()


# --- sources/*.yaml ---------------------------------------------------------------------


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

    def source_names(self) -> list[str]:
        """The names this column may have in a payload, in order of preference."""
        if self.source_column is None:
            return [self.name]
        return (
            [self.source_column]
            if isinstance(self.source_column, str)
            else list(self.source_column)
        )


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


class FileOptions(SpecModel):
    """Options of the ``file`` connector. Secrets never go here: ``storage_env`` names the
    environment variables that hold them."""

    path: str = Field(
        description="File, or glob of files, relative to the workspace folder or absolute, "
        "or an fsspec URL such as s3://bucket/prefix/*.csv"
    )
    format: Literal["csv", "tsv", "parquet", "json", "ndjson", "xlsx"] | None = Field(
        None, description="Default: from the file name (.csv, .tsv, .json, .ndjson, .xlsx, ...)"
    )
    csv: CsvOptions = CsvOptions()
    records: str | None = Field(
        None, description="json: dot path to the records array, e.g. data.rows; default: the top"
    )
    sheet: str | Annotated[int, Field(ge=0)] | None = Field(
        None, description="xlsx: sheet name, or 0-based index; default: the first sheet"
    )
    header_row: int = Field(1, ge=1, description="xlsx: row number (from 1) of the column names")
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec options for URLs, e.g. endpoint_url; never credentials",
    )
    storage_env: dict[
        str, Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    ] = Field(
        default_factory=dict,
        description="fsspec option -> name of the environment variable holding its value",
    )

    @field_validator("storage_options")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        secret = ("key", "secret", "token", "password", "passwd", "credential", "connection")
        for name, item in value.items():
            if any(word in name.lower() for word in secret):
                raise ValueError(
                    f"storage_options.{name} looks like a secret: put the name of an "
                    f"environment variable holding it under storage_env.{name} instead"
                )
            if isinstance(item, dict):
                cls._no_secrets(item)
        return value


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


class Retention(SpecModel):
    raw_days: int = Field(
        ge=1, description="Raw payloads older than this are deleted by 'civicstat lake prune'"
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

    @property
    def dataset_id(self) -> str:
        return self.dataset or self.id

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


# --- measures/*.yaml --------------------------------------------------------------------


class Measure(SpecModel):
    id: Slug
    title: str
    description: str | None = None
    dataset: Slug
    kind: Literal["share"] = Field(description="How the value is computed")
    condition: str = Field(description="SQL condition a row must meet to count in the numerator")
    filter: str | None = Field(None, description="SQL condition selecting the rows counted at all")
    time: ColumnName = Field(description="Timestamp or date column that places a row in a period")
    grain: Grain = Grain.MONTH
    breakdowns: list[ColumnName] = Field(default_factory=list, max_length=4)
    unit: Literal["percent"] = "percent"


# --- plan.yaml --------------------------------------------------------------------------


class Target(SpecModel):
    value: float = Field(allow_inf_nan=False)
    direction: Direction
    warning_band: float = Field(0.0, ge=0, allow_inf_nan=False)

    def to_domain(self) -> DomainTarget:
        return DomainTarget(self.value, self.direction, self.warning_band)


class Objective(SpecModel):
    """A key performance objective (KPO): a department's commitment, measured by a KPI."""

    id: Slug
    title: str
    description: str | None = None
    department: Slug
    measure: Slug
    target: Target


class Goal(SpecModel):
    id: Slug
    title: str
    description: str | None = None
    objectives: list[Objective] = Field(default_factory=list)


class PlanPeriod(SpecModel):
    start: dt.date
    end: dt.date


class PlanFile(SpecModel):
    title: str
    period: PlanPeriod
    goals: list[Goal] = Field(min_length=1)
