"""civicstat.yaml: the workspace's name, time zone, fiscal year, storage and network."""

from __future__ import annotations

import re
import zoneinfo

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from civicstat.domain.calendars import BusinessCalendar
from civicstat.spec.models._base import Contact, Slug, SpecModel


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


class RateLimit(SpecModel):
    """How many requests one client may make to the public side each minute: by address,
    or by app token (Socrata's ``X-App-Token``), which lifts the limit."""

    per_minute: int = Field(600, ge=1, le=1_000_000, description="Per client address")
    per_minute_with_token: int = Field(
        6000, ge=1, le=1_000_000, description="Per app token (tokens with the portal:app scope)"
    )


class Portal(SpecModel):
    """The public side: the transparency portal and the open data API (``docs/portal.md``).
    Only public datasets and publishable measures ever appear on it."""

    enabled: bool = Field(True, description="Serve the portal and the open data API at all")
    title: str | None = Field(None, description="The portal's name; default: '<title> Open Data'")
    publisher: str | None = Field(
        None, description="Who publishes the data (DCAT publisher); default: the workspace title"
    )
    url: str | None = Field(
        None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="The portal's public address, for absolute links in data.json, oEmbed "
        "and downloads; default: the address each request came to",
    )
    contact: Contact | None = Field(None, description="Default contact for every dataset")
    license: str | None = Field(
        None, description="Default licence (a URL) of every public dataset; none if unset"
    )
    data_policy: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]*\.md$",
        description="Markdown file in the workspace shown as the portal's data policy page",
    )
    embed_origins: list[str] = Field(
        default_factory=list,
        description="Origins (https://www.example.gov) whose pages may frame the embeddable "
        "measure cards (CSP frame-ancestors); none: no site may",
    )
    rate_limit: RateLimit = RateLimit()

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
                raise ValueError(
                    f"embed origin {origin!r} must be a scheme and host, such as "
                    "https://www.example.gov (no path, no wildcard)"
                )
        return value

    @field_validator("data_policy")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        if value is not None and ".." in value.split("/"):
            raise ValueError("data_policy must name a file inside the workspace")
        return value


class WorkspaceFile(SpecModel):
    name: Slug
    title: str
    timezone: str = Field("UTC", description="IANA time zone of the city, e.g. America/New_York")
    fiscal_year_start_month: int = Field(1, ge=1, le=12)
    holidays: HolidayCalendar | None = None
    storage: Storage = Storage()
    network: Network = Network()
    portal: Portal = Portal()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value
