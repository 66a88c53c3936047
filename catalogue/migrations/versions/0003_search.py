"""search: the search outbox, documents and their full-text index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

The full-text index is engine-specific and lives here only (tables.ENGINE_SPECIFIC_OBJECTS):
SQLite gets an FTS5 table over ``search_document`` kept in step by triggers, PostgreSQL a
stored generated column ``to_tsvector('simple', text)`` with a GIN index (ranking reads the
stored vector: ten times faster than an expression index, which parses every hit's text).
Existing DIDs get their documents and one outbox row each, so a search index built
afterwards (or the relational backend) sees them.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from catalogue.store.search_docs import document_texts_sync

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BACKFILL_CHUNK = 10_000
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_FTS_INSERT = "INSERT INTO search_fts(rowid, text) VALUES (new.did_id, new.text);"
_FTS_DELETE = (
    "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.did_id, old.text);"
)
_SQLITE_UP = (
    (
        "CREATE VIRTUAL TABLE search_fts USING fts5(text, content='search_document', "
        "content_rowid='did_id', tokenize='unicode61 remove_diacritics 0')"
    ),
    f"CREATE TRIGGER search_document_ai AFTER INSERT ON search_document BEGIN {_FTS_INSERT} END",
    f"CREATE TRIGGER search_document_ad AFTER DELETE ON search_document BEGIN {_FTS_DELETE} END",
    (
        "CREATE TRIGGER search_document_au AFTER UPDATE ON search_document "
        f"BEGIN {_FTS_DELETE} {_FTS_INSERT} END"
    ),
)
_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS search_document_au",
    "DROP TRIGGER IF EXISTS search_document_ad",
    "DROP TRIGGER IF EXISTS search_document_ai",
    "DROP TABLE IF EXISTS search_fts",
)
_POSTGRESQL_UP = (
    (
        "ALTER TABLE search_document ADD COLUMN text_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED"
    ),
    "CREATE INDEX ix_search_document_text_tsv ON search_document USING gin (text_tsv)",
)
_POSTGRESQL_DOWN = (
    "DROP INDEX IF EXISTS ix_search_document_text_tsv",
    "ALTER TABLE search_document DROP COLUMN IF EXISTS text_tsv",
)


def _backfill() -> None:
    """Documents and outbox rows for the DIDs stored before this revision, in chunks."""
    bind = op.get_bind()
    did = sa.table("did", sa.column("id", _ID))
    document = sa.table("search_document", sa.column("did_id", _ID), sa.column("text", sa.Text()))
    outbox = sa.table(
        "search_outbox",
        sa.column("did_id", _ID),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as tables.UTCDateTime stores it
    last = 0
    while True:
        ids = list(
            bind.scalars(
                sa.select(did.c.id).where(did.c.id > last).order_by(did.c.id).limit(_BACKFILL_CHUNK)
            )
        )
        if not ids:
            return
        texts = document_texts_sync(bind, ids, embargoes=False)  # their column: 0008
        if texts:
            bind.execute(document.insert(), [{"did_id": i, "text": s} for i, s in texts.items()])
        bind.execute(outbox.insert(), [{"did_id": i, "created_at": now} for i in ids])
        last = ids[-1]


def upgrade() -> None:
    op.create_table(
        "search_outbox",
        sa.Column("seq", _ID, autoincrement=True, nullable=False),
        sa.Column("did_id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_search_outbox")),
    )
    with op.batch_alter_table("search_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_outbox_did_id"), ["did_id"], unique=False)
    op.create_table(
        "search_document",
        sa.Column("did_id", _ID, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["did_id"], ["did.id"], name=op.f("fk_search_document_did_id_did")),
        sa.PrimaryKeyConstraint("did_id", name=op.f("pk_search_document")),
    )
    statements = _SQLITE_UP if op.get_bind().dialect.name == "sqlite" else _POSTGRESQL_UP
    for statement in statements:
        op.execute(statement)
    _backfill()


def downgrade() -> None:
    statements = _SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else _POSTGRESQL_DOWN
    for statement in statements:
        op.execute(statement)
    op.drop_table("search_document")
    with op.batch_alter_table("search_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_outbox_did_id"))
    op.drop_table("search_outbox")
