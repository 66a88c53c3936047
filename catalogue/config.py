"""Settings, read from ``LAKECAT_*`` environment variables once, by the entry point."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/lakecat``, or ``~/.local/share/lakecat``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "lakecat"


class Settings(BaseSettings):
    """The service's configuration; see docs/operations.md for each setting."""

    model_config = SettingsConfigDict(env_prefix="LAKECAT_")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    moc_order: int = Field(default=10, ge=3, le=16)
    index_cells: int = Field(default=24, ge=12, le=256)
    log_level: str = "INFO"
    # The URL clients reach the service at (behind a proxy); else taken from each request.
    public_url: str | None = None
    # The IVOA authority of the lake's identifiers (ivo://AUTHORITY/lake?scope:name).
    ivoa_authority: str = "lakecat.invalid"
    tap_default_rec: int = Field(default=10_000, ge=1)
    tap_max_rec: int = Field(default=1_000_000, ge=1)
    tap_sync_timeout: int = Field(default=60, ge=1)  # seconds
    tap_async_timeout: int = Field(default=600, ge=1)  # default executionDuration, seconds
    tap_async_max_timeout: int = Field(default=3600, ge=1)
    tap_workers: int = Field(default=2, ge=1)
    tap_destruction_days: int = Field(default=7, ge=1)
    tap_max_jobs_per_owner: int = Field(default=100, ge=1)  # async jobs not yet ended
    # False when several service processes share the database (`lakecat serve --workers`).
    tap_sole_runner: bool = True
    # Elasticsearch (indexer/, docs/search.md): unset means the relational store answers search.
    elasticsearch_url: str | None = None
    elasticsearch_index: str = "lakecat-dids"  # the alias; indices are <alias>-<timestamp>
    elasticsearch_api_key: str | None = None
    elasticsearch_username: str | None = None
    elasticsearch_password: str | None = None
    elasticsearch_ca_certs: Path | None = None
    elasticsearch_verify_certs: bool = True
    elasticsearch_timeout: float = Field(default=30.0, gt=0)  # seconds per request
    elasticsearch_shards: int = Field(default=1, ge=1)
    elasticsearch_replicas: int = Field(default=1, ge=0)
    elasticsearch_moc_ranges: int = Field(default=64, ge=1, le=4096)  # long_range cells per DID
    elasticsearch_batch_size: int = Field(default=1000, ge=1, le=10_000)  # outbox rows per bulk
    # Tests only: plain application/json instead of the client's compatibility media type.
    elasticsearch_plain_json: bool = False
    # Following a Rucio server (bridges/rucio/, docs/rucio.md); the command's options win.
    rucio_url: str | None = None
    rucio_account: str | None = None
    rucio_username: str | None = None  # userpass identity ...
    rucio_password: str | None = None
    rucio_token: str | None = None  # ... or an OIDC access token, or a file holding one
    rucio_token_file: Path | None = None
    rucio_mapping: Path | None = None  # JSON: Rucio metadata key -> ObsCore field
    rucio_timeout: float = Field(default=600.0, gt=0)  # seconds per request

    # Security (docs/security.md): bearer tokens from these issuers, for these audiences.
    auth_issuers: list[str] = Field(default_factory=list)
    auth_audiences: list[str] = Field(default_factory=lambda: ["lakecat"])
    auth_jwks_urls: dict[str, str] = Field(default_factory=dict)  # issuer -> JWKS URL
    auth_jwks_ttl: float = Field(default=3600.0, gt=0)  # seconds
    auth_leeway: int = Field(default=30, ge=0, le=300)  # seconds of clock skew
    # group -> {"read": [scopes], "write": [scopes], "admin": bool} (catalogue/authorization.py)
    auth_groups: dict[str, Any] = Field(default_factory=dict)
    # Development only: accept tokens minted by `lakecat token` with a key in data_dir.
    auth_local_issuer: bool = False
    # Request bodies above this many bytes are refused (413); TAP uploads are 16 MiB at most.
    max_request_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the embedded SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'lakecat.sqlite'}"
