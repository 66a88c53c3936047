"""Alembic environment: runs on the connection the catalogue hands over (SQLite or PostgreSQL)."""

from alembic import context

from catalogue.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `lakecat migrate` (catalogue.store.engine.migrate)")

# render_as_batch: SQLite cannot ALTER most things, so alembic rebuilds the table.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
