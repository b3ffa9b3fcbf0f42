"""Runtime settings: one object, built at a program's entry point and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR = ".civicstat"


class Settings(BaseSettings):
    """Read from ``CIVICSTAT_*`` environment variables; the workspace spec supplies the rest.

    Nothing here holds a secret by default: URLs with credentials come from the
    environment only.
    """

    model_config = SettingsConfigDict(env_prefix="CIVICSTAT_", extra="ignore")

    workspace: Path = Field(Path("."), description="The workspace folder")
    database_url: str | None = Field(None, description="Metadata store URL (SQLAlchemy)")
    warehouse_url: str | None = Field(None, description="Warehouse engine URL (Ibis)")
    lake_url: str | None = Field(
        None, description="Lake folder, relative to the workspace or absolute"
    )
    session_hours: float = Field(
        8.0, gt=0, description="How long a sign-in lasts at most, however active"
    )
    session_idle_minutes: float = Field(
        30.0, gt=0, description="A sign-in ends after this long without a request"
    )
    cookie_secure: bool = Field(False, description="Send cookies over HTTPS only")
    lockout_attempts: int = Field(
        5, ge=1, description="Failed sign-ins in a row that lock an account"
    )
    lockout_minutes: float = Field(10.0, gt=0, description="How long a locked account stays locked")
    env: Literal["development", "production"] = Field(
        "development", description="production: refuse to start without a strong secret key"
    )
    secret_key: SecretStr | None = Field(
        None, description="Key that encrypts stored second-factor secrets (from the environment)"
    )
    max_line_bytes: int = Field(
        8 << 20,
        ge=1024,
        description="Longest line of a CSV, TSV or NDJSON payload; a longer one is quarantined",
    )
    max_decompressed_bytes: int = Field(
        8 << 30,
        ge=1 << 20,
        description="Most bytes a compressed payload (gzip, xlsx) may expand to, or the run fails",
    )

    @property
    def state_dir(self) -> Path:
        return self.workspace / STATE_DIR

    def resolved_database_url(self, spec_url: str | None = None) -> str:
        if self.database_url:
            return self.database_url
        if spec_url:
            return spec_url
        return f"sqlite:///{(self.state_dir / 'metadata.db').resolve()}"

    def resolved_lake(self, spec_url: str | None = None) -> Path:
        raw = self.lake_url or spec_url or "lake"
        path = Path(raw)
        return path if path.is_absolute() else (self.workspace / path).resolve()
