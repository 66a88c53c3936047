"""TAP service: point cells for ADQL point predicates, UWS jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from catalogue.coverage import point_cells

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_BACKFILL_CHUNK = 50_000
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _backfill_point_cells() -> None:
    """Compute ``s_hpx`` for the characterisations registered before this revision."""
    bind = op.get_bind()
    char = sa.table(
        "characterisation",
        sa.column("did_id", _ID),
        sa.column("s_ra", sa.Float()),
        sa.column("s_dec", sa.Float()),
        sa.column("s_hpx", sa.BigInteger()),
    )
    last = -1
    while True:
        rows = bind.execute(
            sa.select(char.c.did_id, char.c.s_ra, char.c.s_dec)
            .where(char.c.did_id > last, char.c.s_ra.is_not(None), char.c.s_dec.is_not(None))
            .order_by(char.c.did_id)
            .limit(_BACKFILL_CHUNK)
        ).all()
        if not rows:
            return
        cells = point_cells([r.s_ra for r in rows], [r.s_dec for r in rows]).tolist()
        bind.execute(
            char.update().where(char.c.did_id == sa.bindparam("b_id")),
            [{"b_id": r.did_id, "s_hpx": c} for r, c in zip(rows, cells, strict=True)],
        )
        last = rows[-1].did_id


def upgrade() -> None:
    with op.batch_alter_table("characterisation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("s_hpx", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_characterisation_s_hpx"), ["s_hpx"], unique=False)
        batch_op.create_index(batch_op.f("ix_characterisation_s_dec"), ["s_dec"], unique=False)
    _backfill_point_cells()

    op.create_table(
        "uws_job",
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("phase", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("destruction_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("execution_duration", sa.Integer(), nullable=False),
        sa.Column("quote", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("service_url", sa.Text(), nullable=False),
        sa.Column("error_type", sa.String(length=9), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_uws_job")),
    )
    with op.batch_alter_table("uws_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_uws_job_phase"), ["phase"], unique=False)
        batch_op.create_index(batch_op.f("ix_uws_job_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_uws_job_destruction_at"), ["destruction_at"], unique=False
        )
    for name, extra in (
        ("uws_result", [sa.Column("mime_type", sa.String(length=128), nullable=False)]),
        ("uws_upload", []),
    ):
        op.create_table(
            name,
            sa.Column("job_id", sa.String(length=36), nullable=False),
            sa.Column("name", sa.String(length=64), nullable=False),
            *extra,
            sa.Column("content", sa.LargeBinary(), nullable=False),
            sa.ForeignKeyConstraint(
                ["job_id"],
                ["uws_job.job_id"],
                name=op.f(f"fk_{name}_job_id_uws_job"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("job_id", "name", name=op.f(f"pk_{name}")),
        )


def downgrade() -> None:
    op.drop_table("uws_upload")
    op.drop_table("uws_result")
    with op.batch_alter_table("uws_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uws_job_destruction_at"))
        batch_op.drop_index(batch_op.f("ix_uws_job_created_at"))
        batch_op.drop_index(batch_op.f("ix_uws_job_phase"))
    op.drop_table("uws_job")
    with op.batch_alter_table("characterisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_characterisation_s_dec"))
        batch_op.drop_index(batch_op.f("ix_characterisation_s_hpx"))
        batch_op.drop_column("s_hpx")
