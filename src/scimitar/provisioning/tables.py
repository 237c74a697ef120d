"""The engine's tables: apps, their sync state, links to target objects, logs.

``provisioning_links`` is the engine's memory of the target: which target object
each source object was created as or matched to (the engine never deletes or
disables a target object it has no link for), and the attribute values it last
wrote there, so an unchanged object costs no request on the next cycle.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from scimitar.db.metadata import Document, metadata

apps = Table(
    "apps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("gallery", String(50), nullable=False),
    Column("tenant_url", String(2048), nullable=False),
    Column("secret_token", Text, nullable=False),  # encrypted (Fernet), never printed
    Column("notification_email", String(320), nullable=True),
    Column("status", String(3), nullable=False),  # "on" or "off" (off when added, as in Entra)
    # Everything else an administrator configures (scope, interval, thresholds,
    # allowed actions, roles, mappings, scoping filters), validated by the engine.
    Column("settings", Document, nullable=False),
    # Bumped whenever mappings or scoping change: the next cycle is then an initial one.
    Column("config_version", Integer, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("modified", DateTime(timezone=True), nullable=False),
)

provisioning_state = Table(
    "provisioning_state",
    metadata,
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("watermark", BigInteger, nullable=False),  # directory change_seq fully processed
    Column("synced_config_version", Integer, nullable=True),  # None: next cycle is initial
    Column("next_run", DateTime(timezone=True), nullable=True),
    Column("quarantine_until", DateTime(timezone=True), nullable=True),
    Column("quarantine_reason", Text, nullable=True),
    Column("failed_cycles", Integer, nullable=False),  # consecutive, for quarantine backoff
    # One cycle per app at a time, across processes: a lease in the database.
    Column("lock_owner", String(64), nullable=True),
    Column("lock_expires", DateTime(timezone=True), nullable=True),
    Column("deletes_released", Boolean, nullable=False),  # `app allow-deletes` was run
    Column("progress", Document, nullable=True),  # the running cycle's counts, for progress bars
)

provisioning_cycles = Table(
    "provisioning_cycles",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(11), nullable=False),  # "initial" or "incremental"
    Column("dry_run", Boolean, nullable=False),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True), nullable=True),
    Column("summary", Document, nullable=True),
    Index(None, "app_id", "started"),
)

provisioning_links = Table(
    "provisioning_links",
    metadata,
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("object_type", String(5), primary_key=True),  # "user" or "group"
    Column("source_id", String(64), primary_key=True),
    Column("target_id", String(256), nullable=False),
    Column("origin", String(7), nullable=False),  # "created" or "matched"
    Column("state", String(8), nullable=False),  # "active" or "disabled"
    Column("written", Document, nullable=False),  # target attributes as last written
    Column("modified", DateTime(timezone=True), nullable=False),
    Index(None, "app_id", "object_type", "target_id"),
)

provisioning_memberships = Table(
    "provisioning_memberships",
    metadata,
    # A membership the engine wrote to the target: group and member by source id.
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", String(64), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Index(None, "app_id", "member_id"),
)

provisioning_escrows = Table(
    "provisioning_escrows",
    metadata,
    # Objects whose last attempt failed in a way worth retrying next cycle.
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("object_type", String(5), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt", DateTime(timezone=True), nullable=False),
    Column("error_code", String(64), nullable=True),
)

provisioning_staged = Table(
    "provisioning_staged",
    metadata,
    # Deletions held back by the accidental-deletion threshold until `app allow-deletes`.
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True),
    Column("object_type", String(5), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    Column("action", String(7), nullable=False),  # "delete" or "disable"
    Column("staged_at", DateTime(timezone=True), nullable=False),
)

provisioning_logs = Table(
    "provisioning_logs",
    metadata,
    # Field names follow Microsoft Graph's provisioningObjectSummary.
    Column("id", String(36), primary_key=True),
    Column("app_id", Integer, ForeignKey("apps.id", ondelete="CASCADE"), nullable=False),
    Column("cycle_id", String(36), nullable=False),
    Column("change_id", String(36), nullable=False),
    Column("job_id", String(100), nullable=False),
    Column("activity_date_time", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("object_type", String(5), nullable=False),
    Column("action", String(12), nullable=False),
    Column("status", String(7), nullable=False),
    Column("error_code", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    Column("source_identity", Document, nullable=False),
    Column("target_identity", Document, nullable=True),
    Column("steps", Document, nullable=False),
    Column("modified_properties", Document, nullable=False),
    Index(None, "app_id", "activity_date_time"),
    Index(None, "cycle_id"),
)
