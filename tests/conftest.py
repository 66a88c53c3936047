"""Fixtures: every store test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``LAKECAT_TEST_DATABASE_URL`` (``make test`` starts a throwaway cluster
and sets it). Without it the PostgreSQL half fails with a message naming the variable, never
skips: a green run always means both engines were tested.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from catalogue.service import Catalogue
from catalogue.store import tables
from catalogue.store.engine import create_engine, create_sessions, migrate

DATA = Path(__file__).parent / "data"


def pg_admin_url() -> str:
    """The PostgreSQL server the tests use; a missing one is a failure."""
    url = os.environ.get("LAKECAT_TEST_DATABASE_URL")
    if not url:
        pytest.fail(
            "LAKECAT_TEST_DATABASE_URL is not set: run the suite with `bash scripts/test`, "
            "which starts a throwaway PostgreSQL cluster, or point it at a server you started "
            "(scripts/pg-cluster start DIR)"
        )
    return url


async def _fresh_pg_database() -> str:
    admin_url = pg_admin_url()
    name = f"lakecat_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(url: str) -> None:
    admin = create_async_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = make_url(url).database
    async with admin.connect() as connection:
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


ENGINES = ["sqlite", "postgresql"]


@asynccontextmanager
async def migrated_engine(kind: str, directory: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database of ``kind`` (SQLite files go in ``directory``)."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{directory / 'lakecat.sqlite'}"
    else:
        url = await _fresh_pg_database()
    engine = create_engine(url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()
        if kind == "postgresql":
            await _drop_pg_database(url)


def make_catalogue(engine: AsyncEngine) -> Catalogue:
    """A catalogue over the engine, with small batches so batching paths run."""
    return Catalogue(create_sessions(engine), moc_order=10, index_cells=24, batch_size=50)


async def empty(engine: AsyncEngine) -> None:
    """Delete every row, and restart ids at 1."""
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in tables.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables.metadata.sorted_tables):
                await connection.execute(table.delete())


@pytest.fixture(scope="session", params=ENGINES)
async def session_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    """One migrated database per engine for the whole run."""
    async with migrated_engine(request.param, tmp_path_factory.mktemp(request.param)) as engine:
        yield engine


@pytest.fixture
async def engine(session_engine: AsyncEngine) -> AsyncEngine:
    """The run's database on each engine, emptied for this test."""
    await empty(session_engine)
    return session_engine


@pytest.fixture
async def catalogue(engine: AsyncEngine) -> Catalogue:
    """A catalogue over the engine, with small batches so batching paths run."""
    return make_catalogue(engine)
