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

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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


class WorkspaceFile(SpecModel):
    name: Slug
    title: str
    timezone: str = Field("UTC", description="IANA time zone of the city, e.g. America/New_York")
    fiscal_year_start_month: int = Field(1, ge=1, le=12)
    holidays: HolidayCalendar | None = None
    storage: Storage = Storage()

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
    source_column: str | None = Field(
        None, description="Name of the column in the source when it differs from name"
    )
    description: str | None = None
    classification: Classification | None = Field(
        None, description="Overrides the source's classification for this column"
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


class FileOptions(SpecModel):
    """Options of the ``file`` connector."""

    path: str = Field(
        description="File, or glob of files, relative to the workspace folder or absolute"
    )
    format: Literal["csv", "parquet"] | None = Field(
        None, description="Default: from the file name (.csv, .csv.gz, .parquet)"
    )
    csv: CsvOptions = CsvOptions()


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
    load: Literal["replace"] = "replace"
    schedule: str | None = Field(None, description="Cron expression (5 fields) for pulls")
    classification: Classification = Classification.INTERNAL
    columns: list[Column] = Field(min_length=1, description="Declared schema")

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
