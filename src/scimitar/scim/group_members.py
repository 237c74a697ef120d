"""Group membership changes in a PATCH, separated from the document's operations.

A group's members are rows of their own table on the server, so that adding one
member costs the same for a group of 10 or 100,000. ``split_member_operations``
turns the operations that touch ``members`` into ``MemberChange`` values the server
runs as SQL; ``apply_patch`` applies the rest to the group's document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from scimitar.scim.ast import And, AttrPath, Compare, Filter, Or, PatchPath
from scimitar.scim.errors import InvalidFilter, InvalidPath, InvalidValue, Mutability
from scimitar.scim.evaluate import compile_element_filter
from scimitar.scim.patch import OpName, PatchOperation, lower_keys
from scimitar.scim.resources import GROUP_SCHEMA, GROUP_URN

MemberChangeKind = Literal["add", "remove", "remove_all", "replace_all", "remove_matching"]
MemberIds = tuple[tuple[str, str | None], ...]

_MEMBER_TYPES = {"user": "User", "group": "Group"}


@dataclass(frozen=True, slots=True)
class MemberChange:
    """A change to a group's membership, run by the server against its members table.

    ``ids`` holds ``(member id, "User" | "Group" | None)`` pairs for ``add``,
    ``remove`` and ``replace_all``; ``filter`` is the element filter (relative to a
    member, e.g. ``type eq "Group"``) for ``remove_matching``.
    """

    kind: MemberChangeKind
    ids: MemberIds = ()
    filter: Filter | None = None


def split_member_operations(
    operations: list[PatchOperation],
) -> tuple[list[PatchOperation], list[MemberChange]]:
    """Separate a Group's ``members`` operations from the rest, keeping their order.

    The rest go to ``apply_patch``; the changes run as SQL. A path-less add/replace
    whose value holds ``members`` is split: members to a change, the rest kept.
    """
    rest: list[PatchOperation] = []
    changes: list[MemberChange] = []
    for operation in operations:
        op, path, value = operation.op, operation.path, operation.value
        if operation.schema_urn is not None:
            rest.append(operation)  # an extension as a whole holds no members
        elif path is None:
            keys = [key for key in value if _is_members_key(key)] if isinstance(value, dict) else []
            if not keys:
                rest.append(operation)
                continue
            for key in keys:
                ids = _member_ids(value[key])
                if op == "replace":
                    changes.append(MemberChange("replace_all", ids))
                elif ids:
                    changes.append(MemberChange("add", ids))
            others = {key: item for key, item in value.items() if key not in keys}
            if others:
                rest.append(PatchOperation(op, None, others))
        elif path.attr.attr.lower() == "members" and (
            path.attr.urn is None or path.attr.urn.lower() == GROUP_URN.lower()
        ):
            change = _member_change(op, path, value)
            if change is not None:
                changes.append(change)
        else:
            rest.append(operation)
    return rest, changes


def _is_members_key(key: str) -> bool:
    return key.lower() in ("members", f"{GROUP_URN}:members".lower())


def _member_change(op: OpName, path: PatchPath, value: Any) -> MemberChange | None:
    if path.attr.sub_attr is not None or path.element_sub_attr is not None:
        # members.value, .type and .$ref are immutable and .display read-only (RFC 7643
        # §8.7.1): a member is removed and added again, never edited in place.
        raise Mutability("a member's sub-attributes cannot be changed; remove it and add it")
    if path.value_filter is not None:
        if op != "remove":
            raise Mutability('members chosen by a filter can only be removed; add to "members"')
        ids = _filter_ids(path.value_filter)
        if ids is not None:
            return MemberChange("remove", ids)
        _check_member_filter(path.value_filter)
        return MemberChange("remove_matching", filter=path.value_filter)
    if op == "replace":
        return MemberChange("replace_all", _member_ids(value))
    if op == "remove" and value is None:
        return MemberChange("remove_all")
    # A remove with a value is Entra ID's member removal without aadOptscim062020:
    # only the listed members go.
    ids = _member_ids(value)
    kind: MemberChangeKind = "add" if op == "add" else "remove"
    return MemberChange(kind, ids) if ids else None


def _member_ids(value: Any) -> MemberIds:
    """Return the ``(id, type)`` pairs of member values, in order and without repeats."""
    items = [] if value is None else value if isinstance(value, list) else [value]
    found: dict[tuple[str, str | None], None] = {}
    for item in items:
        fields = lower_keys(item) if isinstance(item, dict) else {}
        member_id = fields.get("value")
        if not isinstance(member_id, str) or not member_id:
            raise InvalidValue('each member must be an object whose "value" is a member id')
        found[(member_id, _member_type(fields.get("type")))] = None
    return tuple(found)


def _member_type(raw: Any) -> str | None:
    if raw is None:
        return None
    canonical = _MEMBER_TYPES.get(raw.lower()) if isinstance(raw, str) else None
    if canonical is None:
        raise InvalidValue(f'a member\'s "type" must be "User" or "Group", not {raw!r}')
    return canonical


def _filter_ids(node: Filter) -> MemberIds | None:
    """Return the members a filter names exactly (``value eq "x"``, or-ed), else None."""
    if isinstance(node, Compare):
        if node.op == "eq" and _names(node.path, "value") and isinstance(node.value, str):
            return ((node.value, None),)
        return None
    if isinstance(node, Or):
        left, right = _filter_ids(node.left), _filter_ids(node.right)
        return None if left is None or right is None else tuple(dict.fromkeys(left + right))
    if isinstance(node, And):
        # value eq "x" and type eq "User": one member of a stated type.
        for one, other in ((node.left, node.right), (node.right, node.left)):
            ids = _filter_ids(one)
            if (
                ids is not None
                and len(ids) == 1
                and isinstance(other, Compare)
                and other.op == "eq"
                and _names(other.path, "type")
                and isinstance(other.value, str)
                and other.value.lower() in _MEMBER_TYPES
            ):
                return ((ids[0][0], _MEMBER_TYPES[other.value.lower()]),)
    return None


def _check_member_filter(node: Filter) -> None:
    """Reject a members filter the server could not evaluate (unknown names, bad operators)."""
    members = GROUP_SCHEMA.attribute("members")
    assert members is not None
    try:
        compile_element_filter(members, node)
    except InvalidFilter as error:
        raise InvalidPath(error.detail) from error


def _names(path: AttrPath, name: str) -> bool:
    return path.urn is None and path.sub_attr is None and path.attr.lower() == name
