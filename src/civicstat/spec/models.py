"""The workspace spec: what each YAML file of a workspace may say.

A workspace is a folder (it can live in git):

    civicstat.yaml      WorkspaceFile   name, timezone, fiscal year, storage
    plan.yaml           PlanFile        plan period, goals → objectives (KPOs) with targets
    measures/*.yaml     Measure         how each KPI is computed from a dataset
    sources/*.yaml      Source          connector, schema, schedule, classification, PII
    governance.yaml     GovernanceFile  departments, suppression threshold, masking, agreements

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

from civicstat.domain.calendars import BusinessCalendar
from civicstat.domain.periods import Grain
from civicstat.domain.targets import Direction, PeriodTargets, TargetSchedule
from civicstat.domain.targets import Target as DomainTarget
from civicstat.domain.targets import Trajectory as DomainTrajectory
from civicstat.spec.boundary import EnvName, url_refusal

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

    @model_validator(mode="after")
    def _known(self) -> HolidayCalendar:
        BusinessCalendar(self.country, self.subdivision)  # ValueError names what is unknown
        return self


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


class PiiKind(StrEnum):
    """What kind of personal data a column holds; it decides the column's default masking."""

    NAME = "name"
    ADDRESS = "address"
    PHONE = "phone"
    EMAIL = "email"
    DATE_OF_BIRTH = "date_of_birth"
    IDENTIFIER = "identifier"  # a person's id: case, licence, account, plate, SSN
    FREE_TEXT = "free_text"  # narratives and notes, which may name anyone
    OTHER = "other"


class Masking(StrEnum):
    """How a PII column reads for someone who does not unmask it."""

    REDACT = "redact"  # a constant
    HASH = "hash"  # a keyed hash: equal values stay equal, the value cannot be looked up
    GENERALISE = "generalise"  # a date to its month, an address to its hundred block
    DROP = "drop"  # the column is left out


class Department(SpecModel):
    id: Slug
    title: str
    parent: Slug | None = Field(None, description="Id of the parent department, if any")


class Suppression(SpecModel):
    k: int = Field(11, ge=1, description="Smallest count published in a public cell")


class Party(SpecModel):
    """One side of a sharing agreement: a department of the city, or an outside body."""

    department: Slug | None = Field(
        None, description="A department id: its members (and sub-departments') get access"
    )
    external: str | None = Field(
        None,
        min_length=1,
        description="An organisation outside the city, by name: recorded, given no accounts",
    )

    @model_validator(mode="after")
    def _one_of(self) -> Party:
        if (self.department is None) == (self.external is None):
            raise ValueError("a party is either a 'department' or an 'external' body, not both")
        return self

    @property
    def label(self) -> str:
        return self.department or self.external or ""


class Agreement(SpecModel):
    """A data sharing agreement: which parties may read which datasets, why, on what legal
    basis, from when and until when, and who approved it. Access it gives ends after
    ``expires`` (in the workspace's time zone)."""

    id: Slug
    title: str
    parties: list[Party] = Field(min_length=1)
    datasets: list[Slug] = Field(min_length=1, description="Datasets the parties may read")
    purpose: str = Field(min_length=1, description="What the data may be used for")
    legal_basis: str = Field(min_length=1, description="Law, ordinance or contract allowing it")
    start: dt.date = Field(description="First day the agreement gives access")
    expires: dt.date = Field(description="Last day the agreement gives access")
    approver: str = Field(min_length=1, description="Who approved it (name and role)")

    @model_validator(mode="after")
    def _expires_after_start(self) -> Agreement:
        if self.expires < self.start:
            raise ValueError("an agreement cannot expire before it starts")
        return self

    def active_on(self, day: dt.date) -> bool:
        return self.start <= day <= self.expires


class GovernanceFile(SpecModel):
    departments: list[Department] = Field(min_length=1)
    suppression: Suppression = Suppression()
    agreements: list[Agreement] = Field(
        default_factory=list, description="Data sharing agreements in force or on record"
    )
    masking: dict[PiiKind, Masking] = Field(
        default_factory=dict,
        description="Masking of each PII kind, for columns that do not set their own",
    )


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


# What an s3:// source may tell s3fs, with the type of each value. Anything else (a
# profile of the server's own credentials, a proxy, a local file) is refused.
_NUMBER = (int, float)
S3_OPTIONS: dict[str, Any] = {
    "anon": bool,
    "endpoint_url": str,
    "requester_pays": bool,
    "use_ssl": bool,
    "version_aware": bool,
    "default_block_size": int,
    "client_kwargs": {"endpoint_url": str, "region_name": str, "verify": bool, "use_ssl": bool},
    "config_kwargs": {
        "signature_version": str,
        "s3": dict,
        "connect_timeout": _NUMBER,
        "read_timeout": _NUMBER,
        "retries": dict,
        "region_name": str,
    },
}
S3_SECRET_OPTIONS = frozenset({"key", "secret", "token"})  # from storage_env only


class FileOptions(SpecModel):
    """Options of the ``file`` connector. Secrets never go here: ``storage_env`` names the
    environment variables that hold them."""

    path: str = Field(
        description="File, or glob of files, relative to the workspace folder or absolute "
        "(inside the workspace or a data root), or an s3:// URL such as s3://bucket/prefix/*.csv"
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
        description="s3fs options for an s3:// path, e.g. endpoint_url; never credentials",
    )
    storage_env: dict[str, EnvName] = Field(
        default_factory=dict,
        description="s3fs option (key, secret, token) -> name of the environment variable "
        "holding its value",
    )

    @field_validator("path")
    @classmethod
    def _readable_url(cls, value: str) -> str:
        if "://" in value and (refusal := url_refusal(value)) is not None:
            raise ValueError(f"{value!r} {refusal}")
        return value

    @field_validator("storage_options")
    @classmethod
    def _no_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        _no_secret_options(value)
        _known_options(value, S3_OPTIONS)
        return value

    @field_validator("storage_env")
    @classmethod
    def _secret_options(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - S3_SECRET_OPTIONS)
        if unknown:
            raise ValueError(
                f"storage_env.{unknown[0]}: only {', '.join(sorted(S3_SECRET_OPTIONS))} "
                "come from the environment"
            )
        return value


def _no_secret_options(options: dict[str, Any]) -> None:
    secret = ("key", "secret", "token", "password", "passwd", "credential", "connection")
    for name, item in options.items():
        if any(word in name.lower() for word in secret):
            raise ValueError(
                f"storage_options.{name} looks like a secret: put the name of an "
                f"environment variable holding it under storage_env.{name} instead"
            )
        if isinstance(item, dict):
            _no_secret_options(item)


def _known_options(options: dict[str, Any], known: dict[str, Any], where: str = "") -> None:
    """Refuse s3fs options outside the short list a city needs, or of the wrong type."""
    for name, item in options.items():
        place = f"storage_options.{where}{name}"
        if name not in known:
            raise ValueError(f"{place} is not supported (known: {', '.join(sorted(known))})")
        wanted = known[name]
        if isinstance(wanted, dict):
            if not isinstance(item, dict):
                raise ValueError(f"{place} must be a mapping")
            _known_options(item, wanted, f"{where}{name}.")
        elif not isinstance(item, wanted) or (wanted is not bool and isinstance(item, bool)):
            kinds = wanted if isinstance(wanted, tuple) else (wanted,)
            names = {bool: "true or false", str: "text", int: "a number", float: "a number"}
            shown = " or ".join(dict.fromkeys(names.get(k, "a mapping") for k in kinds))
            raise ValueError(f"{place} must be {shown}")


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


# --- measures/*.yaml --------------------------------------------------------------------


MeasureUnit = Literal[
    "percent", "count", "number", "currency", "rate",
    "seconds", "minutes", "hours", "days", "business_days",
]  # fmt: skip
DURATION_UNITS = ("seconds", "minutes", "hours", "days", "business_days")


class Population(SpecModel):
    """A rate's denominator read from a dataset: for each period, the row whose ``time`` is
    the latest at or before the period's start (the earliest row when none is)."""

    dataset: Slug
    value: ColumnName = Field(description="Column holding the population (or other base)")
    time: ColumnName | None = Field(
        None, description="Date, timestamp or year column saying when the value applies"
    )
    match: list[ColumnName] = Field(
        default_factory=list,
        description="Breakdown columns the population table also has, matched by name",
    )


class Window(SpecModel):
    """Aggregate over more than one period: a trailing window or a period to date."""

    trailing: int | None = Field(
        None, ge=1, le=120, description="Number of periods, ending with each period (rolling)"
    )
    to_date: Literal["month", "quarter", "year", "fiscal_quarter", "fiscal_year"] | None = Field(
        None, description="From the start of the enclosing month, quarter or (fiscal) year"
    )

    @model_validator(mode="after")
    def _one_of(self) -> Window:
        if (self.trailing is None) == (self.to_date is None):
            raise ValueError("a window is either 'trailing' or 'to_date', exactly one of them")
        return self


class Measure(SpecModel):
    """How one KPI is computed. Which fields apply depends on ``kind``; ``civicstat
    validate`` names any field a kind needs but lacks, or does not use."""

    id: Slug
    title: str
    description: str | None = None
    kind: str = Field(
        description="count, distinct_count, sum, mean, median, percentile, share, ratio, "
        "rate, duration, backlog, cumulative, derived, latest, or a plugin's kind"
    )
    dataset: Slug | None = Field(None, description="Dataset the rows come from")
    time: ColumnName | None = Field(
        None, description="Timestamp or date column that places a row in a period"
    )
    grain: Grain = Grain.MONTH
    filter: str | None = Field(None, description="SQL condition selecting the rows counted at all")
    condition: str | None = Field(
        None, description="share: SQL condition a row must meet to count in the numerator"
    )
    value: str | None = Field(
        None,
        description="SQL expression aggregated by sum, mean, median, percentile, "
        "distinct_count and latest",
    )
    percentile: float | None = Field(
        None, gt=0, lt=100, description="percentile (and duration with statistic percentile): p"
    )
    start: ColumnName | None = Field(
        None, description="duration: the starting timestamp; backlog: when an item was opened"
    )
    end: ColumnName | None = Field(
        None, description="duration: the ending timestamp; backlog: when it was closed"
    )
    statistic: Literal["median", "mean", "percentile"] | None = Field(
        None, description="duration: how durations are summarised (default median)"
    )
    aging: list[int] = Field(
        default_factory=list,
        max_length=12,
        description="backlog: upper bounds in days of the aging buckets, ascending",
    )
    per: float | None = Field(None, gt=0, description="rate: per how many, e.g. 100000")
    population: float | Population | None = Field(
        None, description="rate: the denominator, a number or a dataset by period"
    )
    numerator: Slug | None = Field(None, description="ratio: measure divided")
    denominator: Slug | None = Field(None, description="ratio: measure dividing")
    inputs: dict[str, Slug] = Field(
        default_factory=dict, description="derived: names for the measures the expression uses"
    )
    expression: str | None = Field(
        None, description="derived: arithmetic over the inputs' names, e.g. (a - b) / a * 100"
    )
    of: Slug | None = Field(None, description="cumulative: the measure accumulated")
    reset: Literal["year", "fiscal_year"] | None = Field(
        None, description="cumulative: start again each calendar or fiscal year (default year)"
    )
    window: Window | None = Field(
        None, description="Aggregate each period over a trailing window or period to date"
    )
    breakdowns: list[ColumnName] = Field(default_factory=list, max_length=4)
    unit: MeasureUnit | None = Field(
        None, description="Unit of the value; default from the kind (share: percent)"
    )


# --- plan.yaml --------------------------------------------------------------------------


class TrajectoryPoint(SpecModel):
    date: dt.date
    value: float = Field(allow_inf_nan=False)


class Trajectory(SpecModel):
    """A target moving in a straight line from a baseline to a goal by a date."""

    baseline: TrajectoryPoint
    goal: TrajectoryPoint

    @model_validator(mode="after")
    def _goal_after_baseline(self) -> Trajectory:
        if self.goal.date <= self.baseline.date:
            raise ValueError("the goal's date must be after the baseline's")
        return self


class Target(SpecModel):
    """What counts as on target: exactly one of a fixed ``value``, ``by_period`` values or
    a ``trajectory``; which way is better; and a warning band in the measure's unit."""

    value: float | None = Field(None, allow_inf_nan=False)
    by_period: dict[str, Annotated[float, Field(allow_inf_nan=False)]] | None = Field(
        None, description="Target per period label, e.g. {2025-Q1: 85, 2025-Q2: 88}"
    )
    trajectory: Trajectory | None = None
    direction: Direction
    warning_band: float = Field(0.0, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        given = [f for f in ("value", "by_period", "trajectory") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(
                "a target has exactly one of 'value', 'by_period' or 'trajectory'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def to_domain(self) -> TargetSchedule:
        if self.value is not None:
            return DomainTarget(self.value, self.direction, self.warning_band)
        if self.by_period is not None:
            return PeriodTargets(self.by_period, self.direction, self.warning_band)
        assert self.trajectory is not None
        line = self.trajectory
        return DomainTrajectory(
            line.baseline.date,
            line.baseline.value,
            line.goal.date,
            line.goal.value,
            self.direction,
            self.warning_band,
        )


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
