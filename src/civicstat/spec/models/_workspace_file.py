"""civicstat.yaml: the workspace's name, time zone, fiscal year, storage and network."""

from __future__ import annotations

import zoneinfo

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from civicstat.domain.calendars import BusinessCalendar
from civicstat.spec.models._base import Slug, SpecModel


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
