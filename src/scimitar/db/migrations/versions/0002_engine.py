"""engine: directory, apps, provisioning state, links, logs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:17:29.132278
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_role_assignments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("principal_type", sa.String(length=5), nullable=False),
        sa.Column("principal_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=200), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_role_assignments")),
        sa.UniqueConstraint(
            "app_id",
            "principal_type",
            "principal_id",
            "role",
            name=op.f("uq_app_role_assignments_app_id_principal_type_principal_id_role"),
        ),
    )
    with op.batch_alter_table("app_role_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_app_role_assignments_change_seq"), ["change_seq"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_app_role_assignments_principal_id"), ["principal_id"], unique=False
        )

    op.create_table(
        "apps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("gallery", sa.String(length=50), nullable=False),
        sa.Column("tenant_url", sa.String(length=2048), nullable=False),
        sa.Column("secret_token", sa.Text(), nullable=False),
        sa.Column("notification_email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=3), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps")),
        sa.UniqueConstraint("name", name=op.f("uq_apps_name")),
    )
    op.create_table(
        "directory_groups",
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=512), nullable=False),
        sa.Column("name_key", sa.String(length=512), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("object_id", name=op.f("pk_directory_groups")),
        sa.UniqueConstraint("name_key", name=op.f("uq_directory_groups_name_key")),
    )
    with op.batch_alter_table("directory_groups", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_groups_change_seq"), ["change_seq"], unique=False
        )

    op.create_table(
        "directory_members",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("member_type", sa.String(length=5), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "member_id", name=op.f("pk_directory_members")),
    )
    with op.batch_alter_table("directory_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_members_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "directory_sequence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_sequence")),
    )
    op.create_table(
        "directory_tombstones",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("object_type", sa.String(length=5), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_tombstones")),
    )
    with op.batch_alter_table("directory_tombstones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_tombstones_change_seq"), ["change_seq"], unique=False
        )

    op.create_table(
        "directory_users",
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("user_principal_name", sa.String(length=512), nullable=False),
        sa.Column("upn_key", sa.String(length=512), nullable=False),
        sa.Column("account_enabled", sa.Boolean(), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("object_id", name=op.f("pk_directory_users")),
        sa.UniqueConstraint("upn_key", name=op.f("uq_directory_users_upn_key")),
    )
    with op.batch_alter_table("directory_users", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_users_change_seq"), ["change_seq"], unique=False
        )

    op.create_table(
        "provisioning_cycles",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=11), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "summary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_provisioning_cycles_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_cycles")),
    )
    with op.batch_alter_table("provisioning_cycles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provisioning_cycles_app_id_started"), ["app_id", "started"], unique=False
        )

    op.create_table(
        "provisioning_escrows",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=5), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_provisioning_escrows_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "object_type", "source_id", name=op.f("pk_provisioning_escrows")
        ),
    )
    op.create_table(
        "provisioning_links",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=5), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=256), nullable=False),
        sa.Column("origin", sa.String(length=7), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column(
            "written",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_provisioning_links_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "object_type", "source_id", name=op.f("pk_provisioning_links")
        ),
    )
    with op.batch_alter_table("provisioning_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provisioning_links_app_id_object_type_target_id"),
            ["app_id", "object_type", "target_id"],
            unique=False,
        )

    op.create_table(
        "provisioning_logs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.String(length=36), nullable=False),
        sa.Column("change_id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=100), nullable=False),
        sa.Column("activity_date_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=5), nullable=False),
        sa.Column("action", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=7), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "source_identity",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "target_identity",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "steps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "modified_properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_provisioning_logs_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_logs")),
    )
    with op.batch_alter_table("provisioning_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provisioning_logs_app_id_activity_date_time"),
            ["app_id", "activity_date_time"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_provisioning_logs_cycle_id"), ["cycle_id"], unique=False
        )

    op.create_table(
        "provisioning_memberships",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_provisioning_memberships_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "group_id", "member_id", name=op.f("pk_provisioning_memberships")
        ),
    )
    with op.batch_alter_table("provisioning_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_provisioning_memberships_app_id_member_id"),
            ["app_id", "member_id"],
            unique=False,
        )

    op.create_table(
        "provisioning_staged",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("object_type", sa.String(length=5), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=7), nullable=False),
        sa.Column("staged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_provisioning_staged_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "app_id", "object_type", "source_id", name=op.f("pk_provisioning_staged")
        ),
    )
    op.create_table(
        "provisioning_state",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("synced_config_version", sa.Integer(), nullable=True),
        sa.Column("next_run", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quarantine_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quarantine_reason", sa.Text(), nullable=True),
        sa.Column("failed_cycles", sa.Integer(), nullable=False),
        sa.Column("lock_owner", sa.String(length=64), nullable=True),
        sa.Column("lock_expires", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deletes_released", sa.Boolean(), nullable=False),
        sa.Column(
            "progress",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["app_id"],
            ["apps.id"],
            name=op.f("fk_provisioning_state_app_id_apps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_provisioning_state")),
    )


def downgrade() -> None:
    op.drop_table("provisioning_state")
    op.drop_table("provisioning_staged")
    with op.batch_alter_table("provisioning_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provisioning_memberships_app_id_member_id"))

    op.drop_table("provisioning_memberships")
    with op.batch_alter_table("provisioning_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provisioning_logs_cycle_id"))
        batch_op.drop_index(batch_op.f("ix_provisioning_logs_app_id_activity_date_time"))

    op.drop_table("provisioning_logs")
    with op.batch_alter_table("provisioning_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provisioning_links_app_id_object_type_target_id"))

    op.drop_table("provisioning_links")
    op.drop_table("provisioning_escrows")
    with op.batch_alter_table("provisioning_cycles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provisioning_cycles_app_id_started"))

    op.drop_table("provisioning_cycles")
    with op.batch_alter_table("directory_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_users_change_seq"))

    op.drop_table("directory_users")
    with op.batch_alter_table("directory_tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_tombstones_change_seq"))

    op.drop_table("directory_tombstones")
    op.drop_table("directory_sequence")
    with op.batch_alter_table("directory_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_members_member_id"))

    op.drop_table("directory_members")
    with op.batch_alter_table("directory_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_groups_change_seq"))

    op.drop_table("directory_groups")
    op.drop_table("apps")
    with op.batch_alter_table("app_role_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_role_assignments_principal_id"))
        batch_op.drop_index(batch_op.f("ix_app_role_assignments_change_seq"))

    op.drop_table("app_role_assignments")
