"""Read and write the source directory: users, groups, memberships, assignments, the change feed.

Every function takes an open ``Connection`` and leaves the transaction to the
caller (``write_transaction`` for writes), so several changes commit together.
Each write stamps the rows it touches with a number drawn by ``next_seq``; an
incremental cycle asks ``changes_since`` for everything stamped after its watermark.
This module is the directory's API: it re-exports the reads (``rows``) and the
membership functions (``members``) so callers import from one place.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from scimitar.directory.members import (
    CycleHandler,
    add_group_member,
    flatten_groups,
    flatten_members,
    remove_group_member,
    set_group_members,
    write_membership_changes,
)
from scimitar.directory.model import (
    GROUP,
    MAX_ROLE,
    PRINCIPAL_TYPES,
    USER,
    Assignment,
    AttributeProblem,
    DirectoryError,
    DirectoryGroup,
    DirectoryUser,
    Tombstone,
    UnknownObject,
    group_document,
    normalise_group,
    normalise_user,
    user_document,
)
from scimitar.directory.rows import (
    ASSIGNMENT_COLUMNS,
    CHUNK,
    Member,
    assignment_from_row,
    assignments_for_app,
    chunks,
    current_seq,
    find_group,
    find_user,
    get_group_by_id,
    get_user,
    groups_by_ids,
    groups_containing,
    iter_groups,
    iter_users,
    members_of,
    next_seq,
    require_group,
    require_user,
    stamp,
    stamp_members,
    users_by_ids,
    utcnow,
)
from scimitar.directory.tables import (
    app_role_assignments,
    directory_groups,
    directory_members,
    directory_tombstones,
    directory_users,
)

__all__ = [
    "CHUNK",
    "RETENTION_DAYS",
    "Assignment",
    "ChangeSet",
    "CycleHandler",
    "DirectoryError",
    "DirectoryGroup",
    "DirectoryUser",
    "Member",
    "Tombstone",
    "UnknownObject",
    "add_group_member",
    "assign",
    "assignments_for_app",
    "changes_since",
    "chunks",
    "current_seq",
    "delete_group",
    "find_group",
    "find_user",
    "flatten_groups",
    "flatten_members",
    "get_group_by_id",
    "get_user",
    "groups_by_ids",
    "groups_containing",
    "hard_delete_groups",
    "hard_delete_user",
    "iter_groups",
    "iter_users",
    "members_of",
    "next_seq",
    "purge_deleted",
    "remove_group_member",
    "restore_user",
    "set_group_members",
    "soft_delete_user",
    "stamp",
    "unassign",
    "unassign_principals",
    "upsert_group",
    "upsert_user",
    "users_by_ids",
    "utcnow",
    "write_membership_changes",
]

RETENTION_DAYS = 30  # Entra keeps a deleted user restorable for 30 days

_u = directory_users.c
_g = directory_groups.c
_m = directory_members.c
_a = app_role_assignments.c
_t = directory_tombstones.c


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """What changed after a watermark, up to and including ``high_water``."""

    user_ids: set[str]
    group_ids: set[str]
    assignment_principals: set[tuple[str, str]]  # (principal_type, principal_id), this app
    tombstones: list[Tombstone]
    high_water: int

    @property
    def empty(self) -> bool:
        return not (
            self.user_ids or self.group_ids or self.assignment_principals or self.tombstones
        )


def upsert_user(conn: Connection, attributes: Mapping[str, object]) -> DirectoryUser:
    """Create or update a user, matched by objectId, else userPrincipalName (any case).

    Attributes left out keep their value; ``None`` clears one. ``manager`` is the
    manager's objectId or userPrincipalName. A soft-deleted user stays deleted
    (``restore_user`` brings it back). An unchanged user keeps its change_seq.
    """
    changes = normalise_user(attributes)
    given_id = changes.get("objectId")
    upn = changes.get("userPrincipalName")
    current = get_user(conn, given_id) if isinstance(given_id, str) else None
    if current is None and isinstance(upn, str):
        holder = find_user(conn, upn)
        if holder is not None and given_id is not None and holder.object_id != given_id:
            raise DirectoryError(
                f"userPrincipalName {upn!r} already belongs to user {holder.object_id}"
            )
        current = holder
    if current is None and upn is None:
        raise AttributeProblem("userPrincipalName", "required for a new user")
    object_id = current.object_id if current else (given_id or str(uuid.uuid4()))
    assert isinstance(object_id, str)
    manager = changes.get("manager")
    if isinstance(manager, str):
        found = find_user(conn, manager)
        if found is None:
            raise DirectoryError(f"manager {manager!r} is not a user in the directory")
        changes["manager"] = found.object_id
    document = user_document(current.attributes if current else None, changes, object_id)
    if current is not None and document == current.attributes:
        return current
    upn_key = document["userPrincipalName"].casefold()
    if current is None or upn_key != current.user_principal_name.casefold():
        holder = conn.execute(select(_u.object_id).where(_u.upn_key == upn_key)).scalar()
        if holder is not None and holder != object_id:
            raise DirectoryError(
                f"userPrincipalName {document['userPrincipalName']!r} already belongs to "
                f"user {holder}"
            )
    seq, moment = next_seq(conn), utcnow()
    values = {
        "user_principal_name": document["userPrincipalName"],
        "upn_key": upn_key,
        "account_enabled": document["accountEnabled"],
        "manager_id": document.get("manager"),
        "attributes": document,
        "change_seq": seq,
        "modified": moment,
    }
    if current is None:
        conn.execute(
            insert(directory_users).values(
                object_id=object_id, deleted_at=None, created=moment, **values
            )
        )
    else:
        conn.execute(update(directory_users).where(_u.object_id == object_id).values(**values))
    user = get_user(conn, object_id)
    assert user is not None
    return user


def _utc(moment: datetime | None) -> datetime:
    # SQLite stores moments without their offset: every one written must be UTC.
    return moment.astimezone(UTC) if moment is not None else utcnow()


def soft_delete_user(conn: Connection, upn: str, now: datetime | None = None) -> DirectoryUser:
    """Soft-delete a user: out of scope everywhere, restorable until purged."""
    user = require_user(conn, upn)
    if user.deleted_at is not None:
        return user
    conn.execute(
        update(directory_users)
        .where(_u.object_id == user.object_id)
        .values(deleted_at=_utc(now), change_seq=next_seq(conn), modified=utcnow())
    )
    return require_user(conn, user.object_id)


def restore_user(conn: Connection, upn: str) -> DirectoryUser:
    """Bring a soft-deleted user back, with its attributes, memberships and assignments."""
    user = require_user(conn, upn)
    if user.deleted_at is None:
        return user
    conn.execute(
        update(directory_users)
        .where(_u.object_id == user.object_id)
        .values(deleted_at=None, change_seq=next_seq(conn), modified=utcnow())
    )
    return require_user(conn, user.object_id)


def hard_delete_user(conn: Connection, upn: str) -> DirectoryUser:
    """Delete a user for good (memberships, assignments, manager links), leaving a tombstone."""
    user = require_user(conn, upn)
    _hard_delete_users(conn, [user.object_id], next_seq(conn), utcnow())
    return user


def purge_deleted(conn: Connection, now: datetime, retention_days: int = RETENTION_DAYS) -> int:
    """Hard-delete users and groups soft-deleted more than ``retention_days`` ago."""
    now = _utc(now)
    cutoff = now - timedelta(days=retention_days)
    user_ids = list(conn.execute(select(_u.object_id).where(_u.deleted_at < cutoff)).scalars())
    group_ids = list(conn.execute(select(_g.object_id).where(_g.deleted_at < cutoff)).scalars())
    if not user_ids and not group_ids:
        return 0
    seq = next_seq(conn)
    _hard_delete_users(conn, user_ids, seq, now)
    hard_delete_groups(conn, group_ids, seq, now)
    return len(user_ids) + len(group_ids)


def _tombstones(
    conn: Connection, object_type: str, ids: list[str], seq: int, when: datetime
) -> None:
    if ids:
        conn.execute(
            insert(directory_tombstones),
            [
                {
                    "object_type": object_type,
                    "object_id": oid,
                    "change_seq": seq,
                    "deleted_at": when,
                }
                for oid in ids
            ],
        )


def unassign_principals(
    conn: Connection, principal_type: str, ids: list[str], seq: int, when: datetime
) -> None:
    for batch in chunks(ids):
        conn.execute(
            update(app_role_assignments)
            .where(
                _a.principal_type == principal_type,
                _a.principal_id.in_(batch),
                _a.deleted_at.is_(None),
            )
            .values(deleted_at=when, change_seq=seq)
        )


def _hard_delete_users(conn: Connection, ids: list[str], seq: int, when: datetime) -> None:
    if not ids:
        return
    gone = set(ids)
    for batch in chunks(ids):
        parents = conn.execute(
            select(_m.group_id).where(_m.member_type == USER, _m.member_id.in_(batch))
        ).scalars()
        stamp(conn, GROUP, set(parents), seq)
        conn.execute(
            delete(directory_members).where(_m.member_type == USER, _m.member_id.in_(batch))
        )
        # Entra drops the manager reference of a deleted manager's reports.
        reports = conn.execute(
            select(_u.object_id, _u.attributes).where(_u.manager_id.in_(batch))
        ).all()
        for report_id, document in reports:
            if report_id not in gone:
                conn.execute(
                    update(directory_users)
                    .where(_u.object_id == report_id)
                    .values(
                        manager_id=None,
                        attributes={k: v for k, v in document.items() if k != "manager"},
                        change_seq=seq,
                    )
                )
        conn.execute(delete(directory_users).where(_u.object_id.in_(batch)))
    unassign_principals(conn, USER, ids, seq, when)
    _tombstones(conn, USER, ids, seq, when)


def upsert_group(conn: Connection, attributes: Mapping[str, object]) -> DirectoryGroup:
    """Create or update a group, matched by objectId, else displayName (any case)."""
    if any(name.casefold() == "members" for name in attributes):
        raise DirectoryError("members are not an attribute: use set_group_members")
    changes = normalise_group(attributes)
    given_id, name = changes.get("objectId"), changes.get("displayName")
    current = get_group_by_id(conn, given_id) if isinstance(given_id, str) else None
    if current is None and isinstance(name, str):
        current = find_group(conn, name)
        if current is not None and given_id is not None and current.object_id != given_id:
            raise DirectoryError(
                f"displayName {name!r} already belongs to group {current.object_id}"
            )
    if current is None and name is None:
        raise AttributeProblem("displayName", "required for a new group")
    object_id = current.object_id if current else (given_id or str(uuid.uuid4()))
    assert isinstance(object_id, str)
    document = group_document(current.attributes if current else None, changes, object_id)
    if current is not None and document == current.attributes:
        return current
    name_key = document["displayName"].casefold()
    holder = conn.execute(select(_g.object_id).where(_g.name_key == name_key)).scalar()
    if holder is not None and holder != object_id:
        raise DirectoryError(
            f"displayName {document['displayName']!r} already belongs to group {holder}"
        )
    moment = utcnow()
    values = {
        "display_name": document["displayName"],
        "name_key": name_key,
        "attributes": document,
        "change_seq": next_seq(conn),
        "modified": moment,
    }
    if current is None:
        conn.execute(
            insert(directory_groups).values(
                object_id=object_id, deleted_at=None, created=moment, **values
            )
        )
    else:
        conn.execute(update(directory_groups).where(_g.object_id == object_id).values(**values))
    return require_group(conn, object_id)


def delete_group(conn: Connection, display_name_or_id: str) -> DirectoryGroup:
    """Delete a group for good (its memberships both ways, its assignments), with a tombstone."""
    group = require_group(conn, display_name_or_id)
    hard_delete_groups(conn, [group.object_id], next_seq(conn), utcnow())
    return group


def hard_delete_groups(conn: Connection, ids: Sequence[str], seq: int, when: datetime) -> None:
    """Delete groups at ``seq``, stamping their former members and parent groups."""
    if not ids:
        return
    gone = set(ids)
    for batch in chunks(ids):
        affected = conn.execute(
            select(_m.member_type, _m.member_id).where(_m.group_id.in_(batch))
        ).all()
        parents = conn.execute(
            select(_m.group_id).where(_m.member_type == GROUP, _m.member_id.in_(batch))
        ).scalars()
        touched = [(kind, mid) for kind, mid in affected if mid not in gone]
        stamp_members(conn, touched, seq)
        stamp(conn, GROUP, set(parents) - gone, seq)
        conn.execute(delete(directory_members).where(_m.group_id.in_(batch)))
        conn.execute(
            delete(directory_members).where(_m.member_type == GROUP, _m.member_id.in_(batch))
        )
        conn.execute(delete(directory_groups).where(_g.object_id.in_(batch)))
    unassign_principals(conn, GROUP, list(ids), seq, when)
    _tombstones(conn, GROUP, list(ids), seq, when)


def assign(
    conn: Connection, app_id: int, principal_type: str, principal_id: str, role: str
) -> Assignment:
    """Assign a user or group to an app with a role; re-assigning revives an unassigned row."""
    if principal_type not in PRINCIPAL_TYPES:
        raise DirectoryError(f"principal type {principal_type!r} is neither 'user' nor 'group'")
    if not role.strip() or len(role) > MAX_ROLE:
        raise DirectoryError(f"a role name has 1 to {MAX_ROLE} characters")
    if principal_type == USER:
        user = get_user(conn, principal_id)
        if user is None:
            raise UnknownObject(f"no user {principal_id!r} in the directory")
        if user.deleted_at is not None:
            raise DirectoryError(f"user {user.user_principal_name} is deleted; restore it first")
    elif get_group_by_id(conn, principal_id) is None:
        raise UnknownObject(f"no group {principal_id!r} in the directory")
    key = and_(
        _a.app_id == app_id,
        _a.principal_type == principal_type,
        _a.principal_id == principal_id,
        _a.role == role,
    )
    row = conn.execute(select(*ASSIGNMENT_COLUMNS).where(key)).first()
    if row is not None and row.deleted_at is None:
        return assignment_from_row(row)
    seq = next_seq(conn)
    if row is None:
        conn.execute(
            insert(app_role_assignments).values(
                app_id=app_id,
                principal_type=principal_type,
                principal_id=principal_id,
                role=role,
                deleted_at=None,
                change_seq=seq,
                created=utcnow(),
            )
        )
    else:
        conn.execute(
            update(app_role_assignments).where(key).values(deleted_at=None, change_seq=seq)
        )
    return assignment_from_row(conn.execute(select(*ASSIGNMENT_COLUMNS).where(key)).one())


def unassign(
    conn: Connection, app_id: int, principal_type: str, principal_id: str, role: str | None = None
) -> int:
    """Unassign a principal (one role, or every role when ``role`` is None); return the count.

    The rows stay, marked deleted and stamped, so incremental cycles see the removal.
    """
    where = [
        _a.app_id == app_id,
        _a.principal_type == principal_type,
        _a.principal_id == principal_id,
        _a.deleted_at.is_(None),
    ]
    if role is not None:
        where.append(_a.role == role)
    ids = list(conn.execute(select(_a.id).where(*where)).scalars())
    if ids:
        conn.execute(
            update(app_role_assignments)
            .where(_a.id.in_(ids))
            .values(deleted_at=utcnow(), change_seq=next_seq(conn))
        )
    return len(ids)


def changes_since(conn: Connection, seq: int, app_id: int) -> ChangeSet:
    """Collect what was stamped after ``seq``: users, groups, this app's assignments, tombstones.

    ``high_water`` is read first and bounds every query, so a commit landing
    between two of them is left whole for the next call instead of being seen
    half (its user without its group) and then skipped for good.
    """
    high = current_seq(conn)

    def window(column: Any) -> Any:
        return and_(column > seq, column <= high)

    user_ids = set(conn.execute(select(_u.object_id).where(window(_u.change_seq))).scalars().all())
    group_ids = set(conn.execute(select(_g.object_id).where(window(_g.change_seq))).scalars().all())
    principals = {
        (kind, pid)
        for kind, pid in conn.execute(
            select(_a.principal_type, _a.principal_id).where(
                _a.app_id == app_id, window(_a.change_seq)
            )
        ).all()
    }
    newest: dict[tuple[str, str], int] = {}
    for kind, oid, stamped in conn.execute(
        select(_t.object_type, _t.object_id, _t.change_seq).where(window(_t.change_seq))
    ).all():
        newest[(kind, oid)] = max(int(stamped), newest.get((kind, oid), 0))
    # A tombstone for an object re-created since (same objectId) is superseded by the row.
    tombstones = [
        Tombstone(kind, oid, stamped)
        for (kind, oid), stamped in sorted(newest.items(), key=lambda item: item[1])
        if oid not in (user_ids if kind == USER else group_ids)
    ]
    return ChangeSet(user_ids, group_ids, principals, tombstones, high)
