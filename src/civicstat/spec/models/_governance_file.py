"""governance.yaml: departments, classification, masking, suppression and agreements."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import (
    Field,
    model_validator,
)

from civicstat.spec.models._base import Slug, SpecModel


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
