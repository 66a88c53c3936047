"""Engines and sessions for SQLite (embedded) and PostgreSQL, and schema migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers go on while an ingest writes; foreign keys are off by default in SQLite."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-131072")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``sqlite+aiosqlite://`` or ``postgresql+asyncpg://`` URLs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def create_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command  # noqa: PLC0415 - only migrations need alembic
    from alembic.config import Config  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` with alembic."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


_GROWING = (
    "did",
    "attachment",
    "characterisation",
    "coverage",
    "coverage_cell",
    "replica",
    "did_meta",
    "collection_value",
)


async def refresh_statistics(session: AsyncSession) -> None:
    """Let the planner know how large the tables have grown.

    PostgreSQL: a manifest is one transaction, so autovacuum cannot see its rows and the
    planner would keep believing the tables are as small as before; ANALYZE inside the
    transaction samples its own rows. SQLite keeps no statistics unless asked: without
    them it drove a 1,000,000-file metadata search from the wrong index (seconds instead of
    milliseconds). ``analysis_limit`` keeps its ANALYZE to about a second.
    """
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("PRAGMA analysis_limit=1000"))
        await session.execute(text("ANALYZE"))
        return
    for table in _GROWING:
        await session.execute(text(f"ANALYZE {table}"))  # fixed names, no user input
