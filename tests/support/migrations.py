"""Taking a test database back to an older revision, to check what a migration does to data."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parents[2] / "catalogue" / "migrations"


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Run the migrations down to ``revision``; ``catalogue.store.engine.migrate`` goes back up."""

    def run(connection: object) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
