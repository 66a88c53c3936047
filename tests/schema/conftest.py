"""Fixtures: the GraphQL API over HTTP, on each engine's test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.app_client import app_client
from tests.support.auth import bearer, local_settings


@pytest.fixture
async def client(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app whose database is the engine's test database, emptied.

    The database is already migrated (tests/conftest.py), so the lifespan skips migrations;
    tests that also take ``catalogue`` write to the same database the app reads.
    """
    url = engine.url.render_as_string(hide_password=False)
    settings = local_settings(tmp_path, database_url=url)
    async with app_client(settings, headers=bearer(settings)) as http:
        yield http
