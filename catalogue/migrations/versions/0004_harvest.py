"""harvest: VO harvest sources, runs and records; withdrawn DIDs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("did", sa.Column("withdrawn_at", _TIME, nullable=True))
    op.create_table(
        "harvest_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["name"], ["scope.name"], name=op.f("fk_harvest_source_name_scope")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_source")),
        sa.UniqueConstraint("name", name=op.f("uq_harvest_source_name")),
    )
    op.create_table(
        "harvest_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("resume_after", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["harvest_source.id"],
            name=op.f("fk_harvest_run_source_id_harvest_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_run")),
    )
    op.create_index(
        op.f("ix_harvest_run_source_id_started_at"),
        "harvest_run",
        ["source_id", "started_at"],
        unique=False,
    )
    op.create_table(
        "harvest_record",
        sa.Column("did_id", _ID, nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("remote_id", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("first_run_id", sa.Integer(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=False),
        sa.Column("first_harvested", _TIME, nullable=False),
        sa.Column("last_harvested", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["did_id"], ["did.id"], name=op.f("fk_harvest_record_did_id_did")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["harvest_source.id"],
            name=op.f("fk_harvest_record_source_id_harvest_source"),
        ),
        sa.ForeignKeyConstraint(
            ["first_run_id"],
            ["harvest_run.id"],
            name=op.f("fk_harvest_record_first_run_id_harvest_run"),
        ),
        sa.ForeignKeyConstraint(
            ["last_run_id"],
            ["harvest_run.id"],
            name=op.f("fk_harvest_record_last_run_id_harvest_run"),
        ),
        sa.PrimaryKeyConstraint("did_id", name=op.f("pk_harvest_record")),
        sa.UniqueConstraint(
            "source_id", "remote_id", name=op.f("uq_harvest_record_source_id_remote_id")
        ),
    )
    op.create_index(
        op.f("ix_harvest_record_source_id_last_run_id"),
        "harvest_record",
        ["source_id", "last_run_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_harvest_record_source_id_last_run_id"), table_name="harvest_record")
    op.drop_table("harvest_record")
    op.drop_index(op.f("ix_harvest_run_source_id_started_at"), table_name="harvest_run")
    op.drop_table("harvest_run")
    op.drop_table("harvest_source")
    # Not a batch operation: on SQLite that copies ``did``, which the foreign keys of every
    # other table refuse; both engines drop a column in place (SQLite since 3.35).
    op.execute("ALTER TABLE did DROP COLUMN withdrawn_at")
