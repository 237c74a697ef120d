"""Who is in scope for an app: assignments, Default Access, scoping filters.

Entra's rules, as the seed and its linked docs state them:
- With "assigned users and groups only", a user is in scope when assigned directly
  or as a *direct* member of an assigned group (nested members only when the app
  flattens groups).
- An assignment with the Default Access role does not entitle: such users are
  skipped and logged ``NotEffectivelyEntitled``.
- Scoping filters then narrow the set: clauses AND, filters OR.
- Disabled users are never created; soft-deleted ones are disabled in the target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from scimitar.directory import store as directory
from scimitar.directory.model import DirectoryGroup, DirectoryUser
from scimitar.provisioning.scoping import ScopingFilter, explain, in_scope

DEFAULT_ACCESS = "Default Access"


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether one object should exist (active) in the target, and why not."""

    in_scope: bool
    roles: tuple[str, ...] = ()
    reason: str = ""
    error_code: str | None = None
    # Worth a "skipped" log line even when the object was never provisioned:
    # the administrator assigned it and will wonder why nothing happened.
    notable: bool = False


class Entitlements:
    """The app's assignments, resolved to the users and groups they cover."""

    def __init__(self, conn: Connection, app_id: int, *, flatten: bool) -> None:
        self.user_roles: dict[str, set[str]] = {}
        self.group_roles: dict[str, set[str]] = {}
        self.cycles: list[str] = []
        for assignment in directory.assignments_for_app(conn, app_id):
            target = self.user_roles if assignment.principal_type == "user" else self.group_roles
            target.setdefault(assignment.principal_id, set()).add(assignment.role)
        if not self.group_roles:
            return
        if flatten:
            for group_id, roles in self.group_roles.items():
                for user_id in directory.flatten_members(conn, group_id):
                    self.user_roles.setdefault(user_id, set()).update(roles)
            return
        members = directory.members_of(conn, list(self.group_roles))
        for group_id, roles in self.group_roles.items():
            for member_type, member_id in members.get(group_id, []):
                if member_type == "user":
                    self.user_roles.setdefault(member_id, set()).update(roles)

    def assigned_user_ids(self) -> set[str]:
        return set(self.user_roles)


def _decide(
    assigned: set[str] | None,
    scope_all: bool,
    filters: Sequence[ScopingFilter],
    attributes: Mapping[str, Any],
) -> Decision:
    roles = assigned or set()
    if not scope_all and not roles:
        return Decision(False, reason="not assigned to the app")
    effective = tuple(sorted(roles - {DEFAULT_ACCESS}))
    if roles and not effective:
        return Decision(
            False,
            reason="assigned only with the Default Access role, which does not entitle "
            "provisioning; assign a role such as User",
            error_code="NotEffectivelyEntitled",
            notable=True,
        )
    if filters and not in_scope(filters, attributes):
        return Decision(
            False,
            effective,
            reason=f"outside the scoping filters: {explain(filters, attributes)}",
            notable=True,
        )
    return Decision(True, effective)


def decide_user(
    user: DirectoryUser,
    entitlements: Entitlements,
    *,
    scope_all: bool,
    filters: Sequence[ScopingFilter],
) -> Decision:
    if user.deleted_at is not None:
        return Decision(False, reason="the user is soft-deleted in the directory")
    decision = _decide(
        entitlements.user_roles.get(user.object_id), scope_all, filters, user.attributes
    )
    if decision.in_scope and not user.account_enabled:
        return Decision(
            False,
            decision.roles,
            reason="the account is disabled "
            "(accountEnabled is false); disabled users are never created",
            notable=True,
        )
    return decision


def decide_group(
    group: DirectoryGroup,
    entitlements: Entitlements,
    *,
    scope_all: bool,
    filters: Sequence[ScopingFilter],
) -> Decision:
    if group.deleted_at is not None:
        return Decision(False, reason="the group is deleted in the directory")
    return _decide(
        entitlements.group_roles.get(group.object_id), scope_all, filters, group.attributes
    )
