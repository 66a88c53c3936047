"""Fixtures: the GraphQL API over HTTP, on each engine's test database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from catalogue.config import Settings
from schema.app import create_app


@pytest.fixture
async def client(engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app whose database is the engine's test database, emptied.

    The database is already migrated (tests/conftest.py), so the lifespan skips migrations;
    tests that also take ``catalogue`` write to the same database the app reads.
    """
    url = engine.url.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=url), run_migrations=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
