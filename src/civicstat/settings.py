"""Runtime settings: one object, built at a program's entry point and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from civicstat.spec.boundary import OWN_PREFIX, STATE_DIR

__all__ = ["STATE_DIR", "Settings"]


class Settings(BaseSettings):
    """Read from ``CIVICSTAT_*`` environment variables; the workspace spec supplies the rest.

    Nothing here holds a secret by default: URLs with credentials come from the
    environment only.
    """

    model_config = SettingsConfigDict(env_prefix=OWN_PREFIX, extra="ignore")

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
        5, ge=1, description="Failed sign-ins within the window that lock an account"
    )
    lockout_minutes: float = Field(10.0, gt=0, description="How long a locked account stays locked")
    lockout_window_minutes: float = Field(
        15.0, gt=0, description="Failed sign-ins older than this no longer count"
    )
    throttle_attempts: int = Field(
        20, ge=1, description="Failed sign-ins from one client within the window, any user names"
    )
    public_max_age: int = Field(
        300,
        ge=0,
        le=86_400,
        description="Seconds browsers and caches may keep a public answer (portal, open data)",
    )
    public_cache_seconds: float = Field(
        300.0,
        ge=0,
        le=3600,
        description="How long the server keeps a copy of a public answer while the data "
        "stays the same (0: none)",
    )
    sweep_grace_minutes: float = Field(
        60.0,
        ge=0,
        description="Lake files no record refers to are swept only once this old",
    )
    env: Literal["development", "production"] = Field(
        "development", description="production: refuse to start without a strong secret key"
    )
    secret_key: SecretStr | None = Field(
        None, description="Key that encrypts stored second-factor secrets (from the environment)"
    )
    audit_heads_file: Path | None = Field(
        None, description="File the audit chain's exported heads are appended to"
    )
    data_roots: Annotated[tuple[Path, ...], NoDecode] = Field(
        (),
        description="Folders besides the workspace whose files sources may read "
        "(separated by ':'); relative ones are relative to the workspace",
    )

    @field_validator("data_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(Path(p) for p in value.split(os.pathsep) if p.strip())
        return value

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

    def resolved_audit_heads(self) -> Path:
        return self.audit_heads_file or self.state_dir / "audit-heads.jsonl"

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
