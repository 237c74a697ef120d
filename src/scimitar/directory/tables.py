"""The source directory's tables: users, groups, memberships, app-role assignments.

Every row carries ``change_seq``, a number drawn from ``directory_sequence`` in the
same transaction that changed it. Drawing it locks the sequence row until commit,
so numbers are handed out in commit order: an incremental cycle that has seen
everything up to N can never later meet a commit numbered below N.

Deletions leave rows behind: a soft-deleted user keeps its row with
``deleted_at`` (purged 30 days later), and a hard delete or a purge leaves a
tombstone in ``directory_tombstones`` so incremental cycles learn of it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from scimitar.db.metadata import Document, metadata

directory_sequence = Table(
    "directory_sequence",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: a single counter row
    Column("value", BigInteger, nullable=False),
)

directory_users = Table(
    "directory_users",
    metadata,
    Column("object_id", String(64), primary_key=True),
    Column("user_principal_name", String(512), nullable=False),
    Column("upn_key", String(512), nullable=False, unique=True),  # casefolded UPN
    Column("account_enabled", Boolean, nullable=False),
    # Another user's object_id; indexed: deleting a manager looks up its reports.
    Column("manager_id", String(64), nullable=True, index=True),
    # Every attribute, Entra's names (mail, givenName, …) plus any extra a file brings.
    Column("attributes", Document, nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("change_seq", BigInteger, nullable=False, index=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("modified", DateTime(timezone=True), nullable=False),
)

directory_groups = Table(
    "directory_groups",
    metadata,
    Column("object_id", String(64), primary_key=True),
    Column("display_name", String(512), nullable=False),
    Column("name_key", String(512), nullable=False, unique=True),  # casefolded displayName
    Column("attributes", Document, nullable=False),  # mailNickname, description, extras
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("change_seq", BigInteger, nullable=False, index=True),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("modified", DateTime(timezone=True), nullable=False),
)

directory_members = Table(
    "directory_members",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("member_type", String(5), nullable=False),  # "user" or "group"
    Index(None, "member_id"),
)

app_role_assignments = Table(
    "app_role_assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("app_id", Integer, nullable=False),
    Column("principal_type", String(5), nullable=False),  # "user" or "group"
    Column("principal_id", String(64), nullable=False),
    Column("role", String(200), nullable=False),
    # Unassigning keeps the row (deleted_at set) so incremental cycles see it.
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("change_seq", BigInteger, nullable=False, index=True),
    Column("created", DateTime(timezone=True), nullable=False),
    UniqueConstraint("app_id", "principal_type", "principal_id", "role"),
    Index(None, "principal_id"),
)

directory_tombstones = Table(
    "directory_tombstones",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("object_type", String(5), nullable=False),  # "user" or "group"
    Column("object_id", String(64), nullable=False),
    Column("change_seq", BigInteger, nullable=False, index=True),
    Column("deleted_at", DateTime(timezone=True), nullable=False),
)
