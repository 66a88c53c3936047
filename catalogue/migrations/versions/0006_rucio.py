"""rucio: sync runs, Rucio's RSE protocols and attributes, the DIDs a Rucio server owns

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)
_COUNTS = (
    "added",
    "updated",
    "unchanged",
    "deleted",
    "attached",
    "detached",
    "conflicts",
    "failed",
)


def upgrade() -> None:
    op.create_table(
        "rucio_sync_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("since", _TIME, nullable=True),
        sa.Column("server_time", _TIME, nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("checkpoint", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rucio_sync_run")),
    )
    op.create_index(
        op.f("ix_rucio_sync_run_url_started_at"), "rucio_sync_run", ["url", "started_at"]
    )
    op.create_table(
        "rucio_rse",
        sa.Column("rse_id", sa.Integer(), nullable=False),
        sa.Column("rucio_id", sa.String(length=32), nullable=False),
        sa.Column("rse_type", sa.String(length=16), nullable=True),
        sa.Column("protocols", sa.Text(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("synced_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["rse_id"], ["rse.id"], name=op.f("fk_rucio_rse_rse_id_rse")),
        sa.PrimaryKeyConstraint("rse_id", name=op.f("pk_rucio_rse")),
    )
    op.create_table(
        "rucio_did",
        sa.Column("did_id", _ID, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("meta_keys", sa.Text(), nullable=False),
        sa.Column("first_run_id", sa.Integer(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=False),
        sa.Column("synced_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["did_id"], ["did.id"], name=op.f("fk_rucio_did_did_id_did")),
        sa.PrimaryKeyConstraint("did_id", name=op.f("pk_rucio_did")),
    )


def downgrade() -> None:
    op.drop_table("rucio_did")
    op.drop_table("rucio_rse")
    op.drop_index(op.f("ix_rucio_sync_run_url_started_at"), table_name="rucio_sync_run")
    op.drop_table("rucio_sync_run")
