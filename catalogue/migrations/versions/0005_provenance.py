"""provenance: IVOA ProvDM entities, activities, agents, parameters and their relations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    name = op.f(f"fk_{table}_{column}_{target}")
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=name)


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def upgrade() -> None:
    op.create_table(
        "prov_entity",
        sa.Column("id", _ID, nullable=False),
        sa.Column("did_id", _ID, nullable=True),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.CheckConstraint(
            "(did_id IS NULL) <> (uri IS NULL)", name=op.f("ck_prov_entity_did_or_uri")
        ),
        _fk("prov_entity", "did_id", "did"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prov_entity")),
        sa.UniqueConstraint("did_id", name=op.f("uq_prov_entity_did_id")),
        sa.UniqueConstraint("uri", name=op.f("uq_prov_entity_uri")),
    )
    op.create_table(
        "prov_activity",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("activity_type", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_time", _TIME, nullable=True),
        sa.Column("end_time", _TIME, nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("recorded_at", _TIME, nullable=False),
        sa.Column("recorded_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prov_activity")),
    )
    _index("prov_activity", "name", "start_time")
    _index("prov_activity", "start_time")
    op.create_table(
        "prov_agent",
        sa.Column("id", _ID, nullable=False),
        sa.Column("agent_type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("affiliation", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prov_agent")),
        sa.UniqueConstraint(
            "agent_type", "name", "version", name=op.f("uq_prov_agent_agent_type_name_version")
        ),
    )
    op.create_table(
        "prov_parameter",
        sa.Column("activity_id", _ID, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_type", sa.String(length=16), nullable=False),
        sa.Column("v_text", sa.Text(), nullable=True),
        sa.Column("v_num", sa.Float(), nullable=True),
        sa.Column("v_time", _TIME, nullable=True),
        sa.Column("unit", sa.String(length=64), nullable=True),
        sa.Column("ucd", sa.String(length=128), nullable=True),
        _fk("prov_parameter", "activity_id", "prov_activity"),
        sa.PrimaryKeyConstraint("activity_id", "name", name=op.f("pk_prov_parameter")),
    )
    _index("prov_parameter", "name", "v_num")
    _index("prov_parameter", "name", "v_text")
    op.create_table(
        "prov_usage",
        sa.Column("activity_id", _ID, nullable=False),
        sa.Column("entity_id", _ID, nullable=False),
        sa.Column("role", sa.String(length=128), nullable=True),
        sa.Column("time", _TIME, nullable=True),
        _fk("prov_usage", "activity_id", "prov_activity"),
        _fk("prov_usage", "entity_id", "prov_entity"),
        sa.PrimaryKeyConstraint("activity_id", "entity_id", name=op.f("pk_prov_usage")),
    )
    _index("prov_usage", "entity_id", "activity_id")
    op.create_table(
        "prov_generation",
        sa.Column("entity_id", _ID, nullable=False),
        sa.Column("activity_id", _ID, nullable=False),
        sa.Column("role", sa.String(length=128), nullable=True),
        sa.Column("time", _TIME, nullable=True),
        _fk("prov_generation", "entity_id", "prov_entity"),
        _fk("prov_generation", "activity_id", "prov_activity"),
        sa.PrimaryKeyConstraint("entity_id", name=op.f("pk_prov_generation")),
    )
    _index("prov_generation", "activity_id", "entity_id")
    op.create_table(
        "prov_derivation",
        sa.Column("generated_id", _ID, nullable=False),
        sa.Column("used_id", _ID, nullable=False),
        sa.Column("activity_id", _ID, nullable=True),
        _fk("prov_derivation", "generated_id", "prov_entity"),
        _fk("prov_derivation", "used_id", "prov_entity"),
        _fk("prov_derivation", "activity_id", "prov_activity"),
        sa.PrimaryKeyConstraint("generated_id", "used_id", name=op.f("pk_prov_derivation")),
    )
    _index("prov_derivation", "used_id", "generated_id")
    op.create_table(
        "prov_association",
        sa.Column("activity_id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("role", sa.String(length=128), nullable=True),
        _fk("prov_association", "activity_id", "prov_activity"),
        _fk("prov_association", "agent_id", "prov_agent"),
        sa.PrimaryKeyConstraint("activity_id", "agent_id", name=op.f("pk_prov_association")),
    )
    _index("prov_association", "agent_id")
    op.create_table(
        "prov_attribution",
        sa.Column("entity_id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("role", sa.String(length=128), nullable=True),
        _fk("prov_attribution", "entity_id", "prov_entity"),
        _fk("prov_attribution", "agent_id", "prov_agent"),
        sa.PrimaryKeyConstraint("entity_id", "agent_id", name=op.f("pk_prov_attribution")),
    )
    _index("prov_attribution", "agent_id")
    op.create_table(
        "prov_communication",
        sa.Column("informed_id", _ID, nullable=False),
        sa.Column("informant_id", _ID, nullable=False),
        _fk("prov_communication", "informed_id", "prov_activity"),
        _fk("prov_communication", "informant_id", "prov_activity"),
        sa.PrimaryKeyConstraint("informed_id", "informant_id", name=op.f("pk_prov_communication")),
    )
    _index("prov_communication", "informant_id")


def downgrade() -> None:
    for table in (
        "prov_communication",
        "prov_attribution",
        "prov_association",
        "prov_derivation",
        "prov_generation",
        "prov_usage",
        "prov_parameter",
        "prov_agent",
        "prov_activity",
        "prov_entity",
    ):
        op.drop_table(table)  # their indexes go with them
