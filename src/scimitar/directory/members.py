"""Group memberships: direct members, changes stamped on both sides, nested groups flattened."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from sqlalchemy import Connection, bindparam, delete, insert, select

from scimitar.directory.model import GROUP, PRINCIPAL_TYPES, USER, DirectoryError, UnknownObject
from scimitar.directory.rows import (
    Member,
    groups_by_ids,
    members_of,
    next_seq,
    require_group,
    stamp,
    stamp_members,
    users_by_ids,
)
from scimitar.directory.tables import directory_members

log = logging.getLogger(__name__)

_m = directory_members.c
CycleHandler = Callable[[list[str]], None]


def _check_members(conn: Connection, group_id: str, members: Collection[Member]) -> None:
    wanted: dict[str, set[str]] = {USER: set(), GROUP: set()}
    for kind, member_id in members:
        if kind not in PRINCIPAL_TYPES:
            raise DirectoryError(f"member type {kind!r} is neither 'user' nor 'group'")
        if kind == GROUP and member_id == group_id:
            raise DirectoryError(f"group {group_id} cannot be a member of itself")
        wanted[kind].add(member_id)
    missing = (wanted[USER] - users_by_ids(conn, wanted[USER]).keys()) | (
        wanted[GROUP] - groups_by_ids(conn, wanted[GROUP]).keys()
    )
    if missing:
        raise UnknownObject(f"no such member in the directory: {', '.join(sorted(missing))}")


def set_group_members(conn: Connection, group_id: str, members: Iterable[Member]) -> None:
    """Replace a group's direct members, stamping the group and every member added or removed."""
    group = require_group(conn, group_id)
    wanted = {mid: kind for kind, mid in members}
    _check_members(conn, group.object_id, [(kind, mid) for mid, kind in wanted.items()])
    current = {mid: kind for kind, mid in members_of(conn, [group.object_id])[group.object_id]}
    removed = [(kind, mid) for mid, kind in current.items() if wanted.get(mid) != kind]
    added = [(kind, mid) for mid, kind in wanted.items() if current.get(mid) != kind]
    if removed or added:
        write_membership_changes(conn, {group.object_id: (added, removed)}, next_seq(conn))


def write_membership_changes(
    conn: Connection,
    changes: Mapping[str, tuple[Sequence[Member], Sequence[Member]]],
    seq: int,
    stamped: Collection[str] = (),
) -> None:
    """Apply {group_id: (added, removed)} at ``seq``, stamping groups and members.

    Both sides are stamped so an incremental cycle sees the change whether it
    looks from the group or from the member. Ids in ``stamped`` were already
    written at ``seq`` by the caller and are not touched again.
    """
    removals = [
        {"gid": gid, "mid": mid} for gid, (_, removed) in changes.items() for _, mid in removed
    ]
    if removals:
        conn.execute(
            delete(directory_members).where(
                _m.group_id == bindparam("gid"), _m.member_id == bindparam("mid")
            ),
            removals,
        )
    additions = [
        {"group_id": gid, "member_type": kind, "member_id": mid}
        for gid, (added, _) in changes.items()
        for kind, mid in added
    ]
    if additions:
        conn.execute(insert(directory_members), additions)
    skip = set(stamped)
    stamp(conn, GROUP, (gid for gid in changes if gid not in skip), seq)
    stamp_members(
        conn,
        (
            (kind, mid)
            for added, removed in changes.values()
            for kind, mid in (*added, *removed)
            if mid not in skip
        ),
        seq,
    )


def add_group_member(conn: Connection, group_id: str, member_type: str, member_id: str) -> bool:
    """Add one direct member; return False when it already was one."""
    group = require_group(conn, group_id)
    _check_members(conn, group.object_id, [(member_type, member_id)])
    present = conn.execute(
        select(_m.member_type).where(_m.group_id == group.object_id, _m.member_id == member_id)
    ).scalar()
    if present == member_type:
        return False
    removed = [(present, member_id)] if present is not None else []
    write_membership_changes(
        conn, {group.object_id: ([(member_type, member_id)], removed)}, next_seq(conn)
    )
    return True


def remove_group_member(conn: Connection, group_id: str, member_id: str) -> bool:
    """Remove one direct member; return False when it was not one."""
    group = require_group(conn, group_id)
    present = conn.execute(
        select(_m.member_type).where(_m.group_id == group.object_id, _m.member_id == member_id)
    ).scalar()
    if present is None:
        return False
    write_membership_changes(conn, {group.object_id: ([], [(present, member_id)])}, next_seq(conn))
    return True


def _warn_cycle(path: list[str]) -> None:
    log.warning("nested groups form a cycle: %s", " -> ".join(path))


def flatten_groups(
    conn: Connection, group_ids: Iterable[str], on_cycle: CycleHandler | None = None
) -> dict[str, set[str]]:
    """Return, per group, every user reachable through nested groups.

    The member graph is read one nesting level per query. A cycle (A in B in A)
    ends the walk where it closes and is passed to ``on_cycle`` as a path of
    group ids (``[A, B, A]``), once per cycle found; by default it is logged.
    """
    roots = list(dict.fromkeys(group_ids))
    graph: dict[str, list[Member]] = {}
    frontier = set(roots)
    while frontier:
        found = members_of(conn, frontier)
        graph.update(found)
        frontier = {
            mid
            for members in found.values()
            for kind, mid in members
            if kind == GROUP and mid not in graph
        }
    reported: set[frozenset[str]] = set()

    def report(path: list[str]) -> None:
        if frozenset(path) not in reported:
            reported.add(frozenset(path))
            (on_cycle or _warn_cycle)(path)

    return {root: _reach(graph, root, report) for root in roots}


def flatten_members(
    conn: Connection, group_id: str, on_cycle: CycleHandler | None = None
) -> set[str]:
    """Return every user reachable from one group through nested groups (see flatten_groups)."""
    return flatten_groups(conn, [group_id], on_cycle)[group_id]


def _reach(graph: Mapping[str, list[Member]], root: str, report: CycleHandler) -> set[str]:
    # Depth-first with the current path kept, so an edge back into the path is a cycle.
    users: set[str] = set()
    visited, path, on_path = {root}, [root], {root}
    stack = [iter(graph.get(root, ()))]
    while stack:
        for kind, member in stack[-1]:
            if kind == USER:
                users.add(member)
            elif member in on_path:
                report([*path[path.index(member) :], member])
            elif member not in visited:
                visited.add(member)
                path.append(member)
                on_path.add(member)
                stack.append(iter(graph.get(member, ())))
                break
        else:
            stack.pop()
            on_path.discard(path.pop())
    return users
