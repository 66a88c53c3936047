"""Fixtures: the GraphQL API over HTTP, on each engine's test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from schema.app import create_app
from tests.support.auth import bearer, local_settings


@pytest.fixture
async def client(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app whose database is the engine's test database, emptied.

    The database is already migrated (tests/conftest.py), so the lifespan skips migrations;
    tests that also take ``catalogue`` write to the same database the app reads.
    """
    url = engine.url.render_as_string(hide_password=False)
    settings = local_settings(tmp_path, database_url=url)
    app = create_app(settings, run_migrations=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=bearer(settings)
        ) as http:
            yield http
