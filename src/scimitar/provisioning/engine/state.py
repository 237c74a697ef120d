"""What the engine remembers between cycles: locks, watermarks, links, escrows.

One cycle per app runs at a time, across processes: the lease is a row update in
the database (STYLE.md: "held by a database lock, not by a flag in memory"), with
an expiry so that a crashed process does not block its app forever.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scimitar.db.engine import write_transaction
from scimitar.provisioning.tables import (
    provisioning_escrows,
    provisioning_links,
    provisioning_memberships,
    provisioning_staged,
    provisioning_state,
)

LEASE = timedelta(minutes=30)
# Quarantine backoff: Entra retries a quarantined job after hours, not minutes,
# doubling the wait each time, up to once a day.
QUARANTINE_FIRST = timedelta(hours=1)
QUARANTINE_MAX = timedelta(hours=24)


class CycleBusy(Exception):
    """Another process is running a cycle for this app."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes for timezone-aware columns: they are UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _upsert(conn: Connection, table: Any) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


@dataclass(slots=True)
class AppState:
    watermark: int
    synced_config_version: int | None
    next_run: datetime | None
    quarantine_until: datetime | None
    quarantine_reason: str | None
    failed_cycles: int
    deletes_released: bool


def load_state(conn: Connection, app_id: int) -> AppState:
    row = conn.execute(
        select(provisioning_state).where(provisioning_state.c.app_id == app_id)
    ).first()
    if row is None:
        conn.execute(
            provisioning_state.insert().values(
                app_id=app_id, watermark=0, failed_cycles=0, deletes_released=False
            )
        )
        return AppState(0, None, None, None, None, 0, False)
    return AppState(
        watermark=row.watermark,
        synced_config_version=row.synced_config_version,
        next_run=_aware(row.next_run),
        quarantine_until=_aware(row.quarantine_until),
        quarantine_reason=row.quarantine_reason,
        failed_cycles=row.failed_cycles,
        deletes_released=row.deletes_released,
    )


def save_state(conn: Connection, app_id: int, **values: Any) -> None:
    conn.execute(
        update(provisioning_state).where(provisioning_state.c.app_id == app_id).values(**values)
    )


def quarantine(conn: Connection, app_id: int, state: AppState, reason: str) -> datetime:
    """Put the app in quarantine; return when it may run again."""
    wait: timedelta = min(QUARANTINE_MAX, QUARANTINE_FIRST * 2 ** min(state.failed_cycles, 10))
    until: datetime = utcnow() + wait
    save_state(
        conn,
        app_id,
        quarantine_until=until,
        quarantine_reason=reason,
        failed_cycles=state.failed_cycles + 1,
    )
    return until


def acquire_lease(engine: Engine, app_id: int) -> str:
    """Take the app's cycle lease or raise ``CycleBusy``; return the owner token."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    now = utcnow()
    with write_transaction(engine) as conn:
        load_state(conn, app_id)  # creates the row for apps added before it existed
        taken = conn.execute(
            update(provisioning_state)
            .where(
                provisioning_state.c.app_id == app_id,
                or_(
                    provisioning_state.c.lock_owner.is_(None),
                    provisioning_state.c.lock_expires < now,
                ),
            )
            .values(lock_owner=owner, lock_expires=now + LEASE)
        ).rowcount
    if not taken:
        raise CycleBusy("another provisioning cycle for this app is running; try again later")
    return owner


def release_lease(engine: Engine, app_id: int, owner: str) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            update(provisioning_state)
            .where(provisioning_state.c.app_id == app_id, provisioning_state.c.lock_owner == owner)
            .values(lock_owner=None, lock_expires=None, progress=None)
        )


# -- links: which target object each source object is -------------------------------


@dataclass(slots=True)
class Link:
    object_type: str
    source_id: str
    target_id: str
    origin: str  # "created" or "matched"
    state: str  # "active" or "disabled"
    written: dict[str, Any] = field(default_factory=dict)


def load_links(
    conn: Connection, app_id: int, object_type: str, source_ids: Iterable[str] | None = None
) -> dict[str, Link]:
    query = select(provisioning_links).where(
        provisioning_links.c.app_id == app_id, provisioning_links.c.object_type == object_type
    )
    links: dict[str, Link] = {}
    if source_ids is None:
        rows: Iterable[Any] = conn.execute(query)
    else:
        ids = list(source_ids)
        rows = [
            row
            for start in range(0, len(ids), 500)
            for row in conn.execute(
                query.where(provisioning_links.c.source_id.in_(ids[start : start + 500]))
            )
        ]
    for row in rows:
        links[row.source_id] = Link(
            row.object_type, row.source_id, row.target_id, row.origin, row.state, row.written
        )
    return links


def save_links(conn: Connection, app_id: int, links: Iterable[Link]) -> None:
    rows = [
        {
            "app_id": app_id,
            "object_type": link.object_type,
            "source_id": link.source_id,
            "target_id": link.target_id,
            "origin": link.origin,
            "state": link.state,
            "written": link.written,
            "modified": utcnow(),
        }
        for link in links
    ]
    if not rows:
        return
    insert = _upsert(conn, provisioning_links)
    statement = insert.on_conflict_do_update(
        index_elements=["app_id", "object_type", "source_id"],
        set_={
            name: insert.excluded[name]
            for name in ("target_id", "origin", "state", "written", "modified")
        },
    )
    for start in range(0, len(rows), 500):
        conn.execute(statement, rows[start : start + 500])


def drop_links(conn: Connection, app_id: int, object_type: str, source_ids: Iterable[str]) -> None:
    ids = list(source_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        conn.execute(
            delete(provisioning_links).where(
                provisioning_links.c.app_id == app_id,
                provisioning_links.c.object_type == object_type,
                provisioning_links.c.source_id.in_(chunk),
            )
        )
        column = (
            provisioning_memberships.c.member_id
            if object_type == "user"
            else provisioning_memberships.c.group_id
        )
        conn.execute(
            delete(provisioning_memberships).where(
                provisioning_memberships.c.app_id == app_id, column.in_(chunk)
            )
        )


# -- memberships written to the target ------------------------------------------------


def load_memberships(
    conn: Connection,
    app_id: int,
    group_ids: Iterable[str] | None = None,
) -> dict[str, set[str]]:
    query = select(provisioning_memberships.c.group_id, provisioning_memberships.c.member_id).where(
        provisioning_memberships.c.app_id == app_id
    )
    found: dict[str, set[str]] = {}
    if group_ids is None:
        rows: Iterable[Any] = conn.execute(query)
    else:
        ids = list(group_ids)
        rows = [
            row
            for start in range(0, len(ids), 500)
            for row in conn.execute(
                query.where(provisioning_memberships.c.group_id.in_(ids[start : start + 500]))
            )
        ]
    for group_id, member_id in rows:
        found.setdefault(group_id, set()).add(member_id)
    return found


def record_memberships(
    conn: Connection, app_id: int, group_id: str, added: Iterable[str], removed: Iterable[str]
) -> None:
    added_rows = [{"app_id": app_id, "group_id": group_id, "member_id": m} for m in added]
    if added_rows:
        statement = _upsert(conn, provisioning_memberships).on_conflict_do_nothing()
        for start in range(0, len(added_rows), 500):
            conn.execute(statement, added_rows[start : start + 500])
    gone = list(removed)
    for start in range(0, len(gone), 500):
        conn.execute(
            delete(provisioning_memberships).where(
                provisioning_memberships.c.app_id == app_id,
                provisioning_memberships.c.group_id == group_id,
                provisioning_memberships.c.member_id.in_(gone[start : start + 500]),
            )
        )


# -- escrows: objects to retry next cycle ---------------------------------------------


def load_escrows(conn: Connection, app_id: int) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"user": set(), "group": set()}
    rows = conn.execute(
        select(provisioning_escrows.c.object_type, provisioning_escrows.c.source_id).where(
            provisioning_escrows.c.app_id == app_id
        )
    )
    for object_type, source_id in rows:
        found.setdefault(object_type, set()).add(source_id)
    return found


def escrow(
    conn: Connection, app_id: int, object_type: str, source_id: str, error_code: str | None
) -> None:
    insert = _upsert(conn, provisioning_escrows)
    conn.execute(
        insert.values(
            app_id=app_id,
            object_type=object_type,
            source_id=source_id,
            attempts=1,
            next_attempt=utcnow(),
            error_code=error_code,
        ).on_conflict_do_update(
            index_elements=["app_id", "object_type", "source_id"],
            set_={
                "attempts": provisioning_escrows.c.attempts + 1,
                "error_code": insert.excluded.error_code,
            },
        )
    )


def clear_escrows(conn: Connection, app_id: int, keys: Iterable[tuple[str, str]]) -> None:
    pairs = list(keys)
    for start in range(0, len(pairs), 200):
        chunk = pairs[start : start + 200]
        conn.execute(
            delete(provisioning_escrows).where(
                provisioning_escrows.c.app_id == app_id,
                or_(
                    *(
                        and_(
                            provisioning_escrows.c.object_type == t,
                            provisioning_escrows.c.source_id == s,
                        )
                        for t, s in chunk
                    )
                ),
            )
        )


# -- staged deletions (accidental-deletion threshold) ---------------------------------


def stage(conn: Connection, app_id: int, items: Iterable[tuple[str, str, str]]) -> None:
    """Hold (object_type, source_id, action) deletions until `app allow-deletes`."""
    rows = [
        {"app_id": app_id, "object_type": t, "source_id": s, "action": a, "staged_at": utcnow()}
        for t, s, a in items
    ]
    if rows:
        conn.execute(_upsert(conn, provisioning_staged).on_conflict_do_nothing(), rows)


def load_staged(conn: Connection, app_id: int) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        select(
            provisioning_staged.c.object_type,
            provisioning_staged.c.source_id,
            provisioning_staged.c.action,
        ).where(provisioning_staged.c.app_id == app_id)
    )
    return [(t, s, a) for t, s, a in rows]


def clear_staged(conn: Connection, app_id: int) -> None:
    conn.execute(delete(provisioning_staged).where(provisioning_staged.c.app_id == app_id))
