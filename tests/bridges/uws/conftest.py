"""Fixtures: the UWS routes in a small Starlette app over each engine's test database.

``execute`` is a test double of the TAP query runner (another component): it answers a
tiny VOTable naming the QUERY, or fails, blocks or sleeps as the QUERY asks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bridges.tap.uws import JobRunner
from catalogue.store.engine import create_sessions
from tests.bridges.uws.jobclient import FakeQueries, make_client


@pytest.fixture
def queries() -> FakeQueries:
    return FakeQueries()


@pytest.fixture
async def runner(engine: AsyncEngine, queries: FakeQueries) -> AsyncIterator[JobRunner]:
    runner = JobRunner(create_sessions(engine), queries, workers=2, max_duration=120)
    await runner.start()
    yield runner
    queries.gate.set()
    await runner.stop()


@pytest.fixture
async def client(runner: JobRunner) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(runner) as http:
        yield http
