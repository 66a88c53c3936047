"""The code under test is this repository's, and the migrations build exactly the tables."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import catalogue
import schema
from catalogue.store import tables

ROOT = Path(__file__).resolve().parents[2]


def test_catalogue_is_imported_from_this_repository():
    # PyPI has unrelated distributions named "catalogue" and "schema".
    assert Path(catalogue.__file__).resolve() == ROOT / "catalogue" / "__init__.py"


def test_schema_is_imported_from_this_repository():
    assert Path(schema.__file__).resolve() == ROOT / "schema" / "__init__.py"


def declared(name, *_):
    """The full-text index is engine-specific, made by migration 0003 only (docs/search.md)."""
    return name not in tables.ENGINE_SPECIFIC_OBJECTS


def schema_differences(connection):
    options = {"compare_type": True, "include_name": declared, "include_object": declared}
    context = MigrationContext.configure(connection, opts=options)
    return compare_metadata(context, tables.metadata)


async def test_the_migrations_build_exactly_the_declared_tables(engine):
    async with engine.connect() as connection:
        differences = await connection.run_sync(schema_differences)
    assert differences == []


async def test_the_migrations_create_only_the_declared_tables(engine):
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert names - tables.ENGINE_SPECIFIC_OBJECTS == {
        t.name for t in tables.metadata.sorted_tables
    } | {"alembic_version"}


async def test_the_database_is_at_the_head_revision(engine):
    config = Config()
    config.set_main_option("script_location", str(ROOT / "catalogue" / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    async with engine.connect() as connection:
        current = await connection.run_sync(
            lambda c: MigrationContext.configure(c).get_current_heads()
        )
    assert len(heads) == 1
    assert current == tuple(heads)
