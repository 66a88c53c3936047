"""Callers for tests of the HTTP interfaces: tokens of the local development issuer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from catalogue.config import Settings
from schema.local_issuer import mint

ADMIN_SCOPES = ("lake.admin",)


def local_settings(data_dir: Path, **values: Any) -> Settings:
    """Settings whose service trusts the local issuer keeping its key in ``data_dir``."""
    return Settings(data_dir=data_dir, auth_local_issuer=True, **values)


def bearer(
    settings: Settings,
    subject: str = "test-admin",
    *,
    groups: Sequence[str] = (),
    scopes: Sequence[str] = ADMIN_SCOPES,
    lifetime: int = 3600,
) -> dict[str, str]:
    """An ``Authorization`` header of a local-issuer caller (an administrator by default)."""
    token = mint(settings, subject, groups=groups, scopes=scopes, lifetime=lifetime)
    return {"Authorization": f"Bearer {token}"}
