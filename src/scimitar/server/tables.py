"""The SCIM target's tables: tenants, their API keys, users, groups and memberships.

A resource's attributes live in one JSON document, exactly as SCIM writes them
(extension attributes under their URN), minus ``id``, ``meta`` and ``schemas``.
The attributes that clients filter and sort on most (``userName``, ``externalId``,
``displayName``, ``active``) are copied into indexed columns. Group members are
not in the document: they are rows of ``group_members``, so adding or removing one
member is one indexed write whatever the group's size.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from scimitar.db.metadata import Document, metadata

tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role_policy", String(50), nullable=True),
    Column("created", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    # The public half of a key, printed by `token list`; the secret half is only hashed.
    Column("id", String(32), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column(
        "permissions", Text, nullable=False
    ),  # comma-separated, e.g. "integration-user,lite-admin"
    Column("created", DateTime(timezone=True), nullable=False),
    Column("revoked", DateTime(timezone=True), nullable=True),
)

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_name", String(512), nullable=False),
    # userName is caseExact=false (RFC 7643 §4.1.1): uniqueness and `eq` use the casefold.
    Column("user_name_key", String(512), nullable=False),
    Column("external_id", String(512), nullable=True),
    Column("display_name", String(512), nullable=True),
    Column("active", Boolean, nullable=True),
    Column("doc", Document, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("last_modified", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "user_name_key"),
    Index(None, "tenant_id", "external_id"),
    Index(None, "tenant_id", "display_name"),
)

groups = Table(
    "groups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", Integer, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("display_name", String(512), nullable=False),
    Column("display_name_key", String(512), nullable=False),
    Column("external_id", String(512), nullable=True),
    Column("doc", Document, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("last_modified", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "display_name_key"),
    Index(None, "tenant_id", "external_id"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", String(36), ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    # A user's or a group's id; which one is in member_type ("User" or "Group").
    Column("member_id", String(36), primary_key=True),
    Column("member_type", String(5), nullable=False),
    Column("tenant_id", Integer, nullable=False),
    # "Deleting a user removes it from every group" needs the reverse lookup.
    Index(None, "member_id"),
)
