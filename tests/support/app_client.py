"""The whole service in-process: the app with its lifespan, over httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager

from catalogue.config import Settings
from schema.app import create_app


@asynccontextmanager
async def app_client(
    settings: Settings,
    *,
    headers: Mapping[str, str] | None = None,
    run_migrations: bool = False,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``create_app(settings)`` at http://testserver, sending ``headers``."""
    app = create_app(settings, run_migrations=run_migrations)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as http:
            yield http
