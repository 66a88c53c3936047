"""embargo: each DID's embargo (catalogue/embargo.py) and each TAP job's view

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from catalogue import embargo
from catalogue.store import search_docs
from catalogue.store.tables import Timestamp

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_did = sa.table(
    "did",
    sa.column("id", sa.BigInteger()),
    sa.column("scope", sa.String()),
    sa.column("did_type", sa.String()),
    sa.column("embargo_until", Timestamp),
    sa.column("embargo_scope", sa.String()),
)
_char = sa.table(
    "characterisation",
    sa.column("did_id", sa.BigInteger()),
    sa.column("data_rights", sa.String()),
    sa.column("obs_release_date", Timestamp),
)
_document = sa.table("search_document", sa.column("did_id", sa.BigInteger()), sa.column("text"))
_outbox = sa.table(
    "search_outbox", sa.column("did_id", sa.BigInteger()), sa.column("created_at", Timestamp)
)
_attachment = sa.table(
    "attachment", sa.column("parent_id", sa.BigInteger()), sa.column("child_id", sa.BigInteger())
)


def upgrade() -> None:
    op.add_column("did", sa.Column("embargo_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("did", sa.Column("embargo_scope", sa.String(length=64), nullable=True))
    op.add_column("uws_job", sa.Column("viewer", sa.Text(), nullable=True))
    _backfill(op.get_bind())


def _backfill(bind: sa.Connection) -> None:
    """Files from their characterisation, then collections from their members, bottom up."""
    found: dict[int, embargo.Embargo | None] = {}
    rows = bind.execute(
        sa.select(_did.c.id, _did.c.scope, _char.c.data_rights, _char.c.obs_release_date)
        .select_from(_did.join(_char, _char.c.did_id == _did.c.id))
        .where(_char.c.data_rights.in_(sorted(embargo.EMBARGOED_RIGHTS)))
    )
    for row in rows.mappings():
        found[row["id"]] = embargo.of_file(dict(row), row["scope"])
    members: dict[int, list[int]] = {}
    for parent, child in bind.execute(sa.select(_attachment.c.parent_id, _attachment.c.child_id)):
        members.setdefault(parent, []).append(child)
    now = datetime.now(UTC)

    def of(did_id: int, trail: frozenset[int]) -> embargo.Embargo | None:
        if did_id in found or did_id not in members or did_id in trail:
            return found.get(did_id)
        found[did_id] = embargo.combined(
            (of(child, trail | {did_id}) for child in members[did_id]), now
        )
        return found[did_id]

    for collection in list(members):
        of(collection, frozenset())
    updates = [
        {"b_id": did_id, "b_until": e.until, "b_scope": e.scope}
        for did_id, e in found.items()
        if e is not None
    ]
    if updates:
        bind.execute(
            sa.update(_did)
            .where(_did.c.id == sa.bindparam("b_id"))
            .values(embargo_until=sa.bindparam("b_until"), embargo_scope=sa.bindparam("b_scope")),
            updates,
        )
    hidden = [i for i, e in found.items() if e is not None and i in members]
    _rewrite_texts(bind, _below(hidden, members))


def _below(collections: list[int], members: dict[int, list[int]]) -> list[int]:
    found: set[int] = set()
    pending = list(collections)
    while pending:
        for child in members.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return sorted(found)


def _rewrite_texts(bind: sa.Connection, ids: list[int]) -> None:
    """Members' search text must stop naming their embargoed collections (search_docs.py)."""
    now = datetime.now(UTC)
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        texts = search_docs.document_texts_sync(bind, chunk)
        bind.execute(_document.delete().where(_document.c.did_id.in_(chunk)))
        if texts:
            bind.execute(_document.insert(), [{"did_id": i, "text": s} for i, s in texts.items()])
        bind.execute(_outbox.insert(), [{"did_id": i, "created_at": now} for i in chunk])


def downgrade() -> None:
    op.execute("ALTER TABLE uws_job DROP COLUMN viewer")
    op.execute("ALTER TABLE did DROP COLUMN embargo_scope")
    op.execute("ALTER TABLE did DROP COLUMN embargo_until")
