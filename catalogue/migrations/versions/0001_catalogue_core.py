"""catalogue core

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("qos_class", sa.String(length=64), nullable=True),
        sa.Column("deterministic", sa.Boolean(), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rse")),
        sa.UniqueConstraint("name", name=op.f("uq_rse_name")),
    )
    op.create_table(
        "scope",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scope")),
    )
    op.create_table(
        "did",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("did_type", sa.String(length=9), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("adler32", sa.String(length=8), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("guid", sa.String(length=36), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=True),
        sa.Column("length", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["scope"], ["scope.name"], name=op.f("fk_did_scope_scope")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_did")),
        sa.UniqueConstraint("scope", "name", name=op.f("uq_did_scope_name")),
    )
    with op.batch_alter_table("did", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_did_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_did_did_type_name"), ["did_type", "name"], unique=False
        )

    op.create_table(
        "attachment",
        sa.Column(
            "parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("child_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["did.id"], name=op.f("fk_attachment_child_id_did")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["did.id"], name=op.f("fk_attachment_parent_id_did")
        ),
        sa.PrimaryKeyConstraint("parent_id", "child_id", name=op.f("pk_attachment")),
    )
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_child_id"), ["child_id"], unique=False)

    op.create_table(
        "characterisation",
        sa.Column("did_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataproduct_type", sa.Text(), nullable=True),
        sa.Column("calib_level", sa.BigInteger(), nullable=True),
        sa.Column("obs_collection", sa.Text(), nullable=True),
        sa.Column("obs_id", sa.Text(), nullable=True),
        sa.Column("obs_publisher_did", sa.Text(), nullable=True),
        sa.Column("access_url", sa.Text(), nullable=True),
        sa.Column("access_format", sa.Text(), nullable=True),
        sa.Column("access_estsize", sa.BigInteger(), nullable=True),
        sa.Column("target_name", sa.Text(), nullable=True),
        sa.Column("s_ra", sa.Float(), nullable=True),
        sa.Column("s_dec", sa.Float(), nullable=True),
        sa.Column("s_fov", sa.Float(), nullable=True),
        sa.Column("s_region", sa.Text(), nullable=True),
        sa.Column("s_resolution", sa.Float(), nullable=True),
        sa.Column("s_xel1", sa.BigInteger(), nullable=True),
        sa.Column("s_xel2", sa.BigInteger(), nullable=True),
        sa.Column("t_min", sa.Float(), nullable=True),
        sa.Column("t_max", sa.Float(), nullable=True),
        sa.Column("t_exptime", sa.Float(), nullable=True),
        sa.Column("t_resolution", sa.Float(), nullable=True),
        sa.Column("t_xel", sa.BigInteger(), nullable=True),
        sa.Column("em_min", sa.Float(), nullable=True),
        sa.Column("em_max", sa.Float(), nullable=True),
        sa.Column("em_res_power", sa.Float(), nullable=True),
        sa.Column("em_xel", sa.BigInteger(), nullable=True),
        sa.Column("o_ucd", sa.Text(), nullable=True),
        sa.Column("pol_states", sa.Text(), nullable=True),
        sa.Column("pol_xel", sa.BigInteger(), nullable=True),
        sa.Column("facility_name", sa.Text(), nullable=True),
        sa.Column("instrument_name", sa.Text(), nullable=True),
        sa.Column("obs_title", sa.Text(), nullable=True),
        sa.Column("obs_release_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_rights", sa.Text(), nullable=True),
        sa.Column("dataproduct_subtype", sa.Text(), nullable=True),
        sa.Column("target_class", sa.Text(), nullable=True),
        sa.Column("publisher_id", sa.Text(), nullable=True),
        sa.Column("preview", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["did_id"], ["did.id"], name=op.f("fk_characterisation_did_id_did")
        ),
        sa.PrimaryKeyConstraint("did_id", name=op.f("pk_characterisation")),
    )
    with op.batch_alter_table("characterisation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_characterisation_calib_level"), ["calib_level"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_characterisation_dataproduct_type"), ["dataproduct_type"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_characterisation_facility_name"), ["facility_name"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_characterisation_instrument_name"), ["instrument_name"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_characterisation_obs_collection"), ["obs_collection"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_characterisation_obs_publisher_did"), ["obs_publisher_did"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_characterisation_target_name"), ["target_name"], unique=False
        )

    op.create_table(
        "collection_value",
        sa.Column("did_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("v_text", sa.Text(), nullable=False),
        sa.Column("v_num", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["did_id"], ["did.id"], name=op.f("fk_collection_value_did_id_did")
        ),
        sa.PrimaryKeyConstraint("did_id", "field", "v_text", name=op.f("pk_collection_value")),
    )
    with op.batch_alter_table("collection_value", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_collection_value_field_v_num"), ["field", "v_num"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_collection_value_field_v_text"), ["field", "v_text"], unique=False
        )

    op.create_table(
        "coverage",
        sa.Column("did_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("moc", sa.LargeBinary(), nullable=True),
        sa.Column("moc_order", sa.SmallInteger(), nullable=True),
        sa.Column("sky_fraction", sa.Float(), nullable=True),
        sa.Column("t_min", sa.Float(), nullable=True),
        sa.Column("t_max", sa.Float(), nullable=True),
        sa.Column("em_min", sa.Float(), nullable=True),
        sa.Column("em_max", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["did_id"], ["did.id"], name=op.f("fk_coverage_did_id_did")),
        sa.PrimaryKeyConstraint("did_id", name=op.f("pk_coverage")),
    )
    with op.batch_alter_table("coverage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coverage_em_min"), ["em_min"], unique=False)
        batch_op.create_index(batch_op.f("ix_coverage_t_min"), ["t_min"], unique=False)

    op.create_table(
        "coverage_cell",
        sa.Column("lo", sa.BigInteger(), nullable=False),
        sa.Column("hi", sa.BigInteger(), nullable=False),
        sa.Column("did_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["did_id"], ["did.id"], name=op.f("fk_coverage_cell_did_id_did")),
    )
    with op.batch_alter_table("coverage_cell", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coverage_cell_did_id"), ["did_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_coverage_cell_lo_hi_did_id"), ["lo", "hi", "did_id"], unique=False
        )

    op.create_table(
        "did_meta",
        sa.Column("did_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value_type", sa.String(length=16), nullable=False),
        sa.Column("v_text", sa.Text(), nullable=True),
        sa.Column("v_num", sa.Float(), nullable=True),
        sa.Column("v_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["did_id"], ["did.id"], name=op.f("fk_did_meta_did_id_did")),
        sa.PrimaryKeyConstraint("did_id", "key", "position", name=op.f("pk_did_meta")),
    )
    with op.batch_alter_table("did_meta", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_did_meta_key_v_num"), ["key", "v_num"], unique=False)
        batch_op.create_index(batch_op.f("ix_did_meta_key_v_text"), ["key", "v_text"], unique=False)
        batch_op.create_index(batch_op.f("ix_did_meta_key_v_time"), ["key", "v_time"], unique=False)

    op.create_table(
        "replica",
        sa.Column("did_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rse_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=11), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["did_id"], ["did.id"], name=op.f("fk_replica_did_id_did")),
        sa.ForeignKeyConstraint(["rse_id"], ["rse.id"], name=op.f("fk_replica_rse_id_rse")),
        sa.PrimaryKeyConstraint("did_id", "rse_id", name=op.f("pk_replica")),
    )
    with op.batch_alter_table("replica", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replica_rse_id"), ["rse_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("replica", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replica_rse_id"))

    op.drop_table("replica")
    with op.batch_alter_table("did_meta", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_did_meta_key_v_time"))
        batch_op.drop_index(batch_op.f("ix_did_meta_key_v_text"))
        batch_op.drop_index(batch_op.f("ix_did_meta_key_v_num"))

    op.drop_table("did_meta")
    with op.batch_alter_table("coverage_cell", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverage_cell_lo_hi_did_id"))
        batch_op.drop_index(batch_op.f("ix_coverage_cell_did_id"))

    op.drop_table("coverage_cell")
    with op.batch_alter_table("coverage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coverage_t_min"))
        batch_op.drop_index(batch_op.f("ix_coverage_em_min"))

    op.drop_table("coverage")
    with op.batch_alter_table("collection_value", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collection_value_field_v_text"))
        batch_op.drop_index(batch_op.f("ix_collection_value_field_v_num"))

    op.drop_table("collection_value")
    with op.batch_alter_table("characterisation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_characterisation_target_name"))
        batch_op.drop_index(batch_op.f("ix_characterisation_obs_publisher_did"))
        batch_op.drop_index(batch_op.f("ix_characterisation_obs_collection"))
        batch_op.drop_index(batch_op.f("ix_characterisation_instrument_name"))
        batch_op.drop_index(batch_op.f("ix_characterisation_facility_name"))
        batch_op.drop_index(batch_op.f("ix_characterisation_dataproduct_type"))
        batch_op.drop_index(batch_op.f("ix_characterisation_calib_level"))

    op.drop_table("characterisation")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_child_id"))

    op.drop_table("attachment")
    with op.batch_alter_table("did", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_did_did_type_name"))
        batch_op.drop_index(batch_op.f("ix_did_created_at"))

    op.drop_table("did")
    op.drop_table("scope")
    op.drop_table("rse")
