"""Plumbing the directory modules share: the change counter, chunked IN lists, plain reads.

Reads that the engine runs over a whole directory are one query each (or one per
chunk of ids), never one per object.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from scimitar.directory.model import (
    GROUP,
    USER,
    Assignment,
    DirectoryGroup,
    DirectoryUser,
    UnknownObject,
)
from scimitar.directory.tables import (
    app_role_assignments,
    directory_groups,
    directory_members,
    directory_sequence,
    directory_users,
)

# Ids per IN (...) list: far below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
CHUNK = 5000

_u = directory_users.c
_g = directory_groups.c
_m = directory_members.c
_a = app_role_assignments.c
_s = directory_sequence.c

USER_COLUMNS = (
    _u.object_id,
    _u.user_principal_name,
    _u.account_enabled,
    _u.manager_id,
    _u.attributes,
    _u.deleted_at,
    _u.change_seq,
)
GROUP_COLUMNS = (_g.object_id, _g.display_name, _g.attributes, _g.deleted_at, _g.change_seq)
ASSIGNMENT_COLUMNS = (
    _a.app_id,
    _a.principal_type,
    _a.principal_id,
    _a.role,
    _a.deleted_at,
    _a.change_seq,
)
_NEXT_SEQ = (
    update(directory_sequence).where(_s.id == 1).values(value=_s.value + 1).returning(_s.value)
)

Member = tuple[str, str]  # (member_type, object_id)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands DateTime(timezone=True) back naive; every stored moment is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def chunks(ids: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    """Split ``ids`` into lists short enough for one ``IN (...)``."""
    batch = list(ids)
    for start in range(0, len(batch), size):
        yield batch[start : start + size]


def user_from_row(row: Sequence[Any]) -> DirectoryUser:
    return DirectoryUser(row[0], row[1], bool(row[2]), row[3], row[4], _utc(row[5]), int(row[6]))


def group_from_row(row: Sequence[Any]) -> DirectoryGroup:
    return DirectoryGroup(row[0], row[1], row[2], _utc(row[3]), int(row[4]))


def assignment_from_row(row: Sequence[Any]) -> Assignment:
    return Assignment(int(row[0]), row[1], row[2], row[3], _utc(row[4]), int(row[5]))


# -- the change counter -------------------------------------------------------------


def next_seq(conn: Connection) -> int:
    """Draw the next change number inside the caller's writing transaction.

    The UPDATE locks the counter row until that transaction ends (a row lock on
    PostgreSQL; SQLite has one writer anyway), so a second writer waits here for
    the first to commit or roll back. Numbers are therefore handed out in commit
    order: a reader that has seen every commit up to N never later meets a commit
    numbered N or below. A rolled-back transaction gives its number back.
    """
    value = conn.execute(_NEXT_SEQ).scalar()
    if value is None:
        # The first change ever creates the counter; DO NOTHING covers two first writers.
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(
            dialect_insert(directory_sequence).values(id=1, value=0).on_conflict_do_nothing()
        )
        value = conn.execute(_NEXT_SEQ).scalar_one()
    return int(value)


def current_seq(conn: Connection) -> int:
    """Return the newest change number committed (0 for an untouched directory)."""
    value = conn.execute(select(_s.value).where(_s.id == 1)).scalar()
    return int(value) if value is not None else 0


def stamp(conn: Connection, object_type: str, ids: Iterable[str], seq: int) -> None:
    """Mark users or groups as changed at ``seq`` (a membership of theirs changed)."""
    table = directory_users if object_type == USER else directory_groups
    for batch in chunks(set(ids)):
        conn.execute(update(table).where(table.c.object_id.in_(batch)).values(change_seq=seq))


def stamp_members(conn: Connection, members: Iterable[Member], seq: int) -> None:
    members = list(members)
    stamp(conn, USER, (mid for kind, mid in members if kind == USER), seq)
    stamp(conn, GROUP, (mid for kind, mid in members if kind == GROUP), seq)


# -- reads ------------------------------------------------------------------------


def get_user(conn: Connection, object_id: str) -> DirectoryUser | None:
    row = conn.execute(select(*USER_COLUMNS).where(_u.object_id == object_id)).first()
    return user_from_row(row) if row is not None else None


def find_user(conn: Connection, upn: str) -> DirectoryUser | None:
    """Find a user by userPrincipalName (any case), else by objectId."""
    row = conn.execute(select(*USER_COLUMNS).where(_u.upn_key == upn.casefold())).first()
    return user_from_row(row) if row is not None else get_user(conn, upn)


def require_user(conn: Connection, upn: str) -> DirectoryUser:
    user = find_user(conn, upn)
    if user is None:
        raise UnknownObject(f"no user {upn!r} in the directory")
    return user


def users_by_ids(conn: Connection, ids: Iterable[str]) -> dict[str, DirectoryUser]:
    found: dict[str, DirectoryUser] = {}
    for batch in chunks(set(ids)):
        for row in conn.execute(select(*USER_COLUMNS).where(_u.object_id.in_(batch))).all():
            found[row[0]] = user_from_row(row)
    return found


def iter_users(conn: Connection, include_deleted: bool = True) -> list[DirectoryUser]:
    """Return every user in one query, soft-deleted ones too unless told otherwise."""
    query = select(*USER_COLUMNS).order_by(_u.object_id)
    if not include_deleted:
        query = query.where(_u.deleted_at.is_(None))
    # .all() fetches in one call; iterating the result fetches row by row.
    return [user_from_row(row) for row in conn.execute(query).all()]


def get_group_by_id(conn: Connection, object_id: str) -> DirectoryGroup | None:
    row = conn.execute(select(*GROUP_COLUMNS).where(_g.object_id == object_id)).first()
    return group_from_row(row) if row is not None else None


def find_group(conn: Connection, name_or_id: str) -> DirectoryGroup | None:
    """Find a group by objectId, else by displayName (any case)."""
    row = conn.execute(select(*GROUP_COLUMNS).where(_g.object_id == name_or_id)).first()
    if row is None:
        row = conn.execute(
            select(*GROUP_COLUMNS).where(_g.name_key == name_or_id.casefold())
        ).first()
    return group_from_row(row) if row is not None else None


def require_group(conn: Connection, name_or_id: str) -> DirectoryGroup:
    group = find_group(conn, name_or_id)
    if group is None:
        raise UnknownObject(f"no group {name_or_id!r} in the directory")
    return group


def groups_by_ids(conn: Connection, ids: Iterable[str]) -> dict[str, DirectoryGroup]:
    found: dict[str, DirectoryGroup] = {}
    for batch in chunks(set(ids)):
        for row in conn.execute(select(*GROUP_COLUMNS).where(_g.object_id.in_(batch))).all():
            found[row[0]] = group_from_row(row)
    return found


def iter_groups(conn: Connection, include_deleted: bool = True) -> list[DirectoryGroup]:
    query = select(*GROUP_COLUMNS).order_by(_g.object_id)
    if not include_deleted:
        query = query.where(_g.deleted_at.is_(None))
    return [group_from_row(row) for row in conn.execute(query).all()]


def members_of(conn: Connection, group_ids: Iterable[str]) -> dict[str, list[Member]]:
    """Return each group's direct members as (member_type, object_id); every id is a key."""
    result: dict[str, list[Member]] = {gid: [] for gid in group_ids}
    for batch in chunks(result):
        query = select(_m.group_id, _m.member_type, _m.member_id).where(_m.group_id.in_(batch))
        for group_id, kind, member_id in conn.execute(query).all():
            result[group_id].append((kind, member_id))
    return result


def groups_containing(conn: Connection, member_ids: Iterable[str]) -> dict[str, list[str]]:
    """Return the groups each user or group is a direct member of; every id is a key."""
    result: dict[str, list[str]] = {mid: [] for mid in member_ids}
    for batch in chunks(result):
        query = select(_m.member_id, _m.group_id).where(_m.member_id.in_(batch))
        for member_id, group_id in conn.execute(query).all():
            result[member_id].append(group_id)
    return result


def assignments_for_app(
    conn: Connection, app_id: int, include_deleted: bool = False
) -> list[Assignment]:
    query = select(*ASSIGNMENT_COLUMNS).where(_a.app_id == app_id).order_by(_a.id)
    if not include_deleted:
        query = query.where(_a.deleted_at.is_(None))
    return [assignment_from_row(row) for row in conn.execute(query).all()]
