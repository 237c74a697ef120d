"""The PATCHes whose result does not depend on the stored document (RFC 7644 §3.5.2).

A PATCH that only sets simple values, by their paths or as keys of a path-less
value (Entra ID's ``displayName``, ``active``, ``name.givenName``, an enterprise
``department``), turns any stored document into that document with those values
set, so a database can merge them in without the document being read first
(``server/store/patch_in_place.py``). Everything else goes through
``patch.apply_patch``. Pure, no I/O.
"""

from __future__ import annotations

from typing import Any

from scimitar.scim.ast import PatchPath
from scimitar.scim.errors import ScimError
from scimitar.scim.patch import PatchOperation, expand_key, resolve_target
from scimitar.scim.patch_values import canon_single, unwrap_single
from scimitar.scim.schema import Resolved, ResourceType
from scimitar.scim.validate import normalize


def plain_assignments(
    resource_type: ResourceType, operations: list[PatchOperation]
) -> dict[str, Any] | None:
    """The values ``operations`` set, when they set the same whatever the document holds.

    That is so when every operation adds or replaces, by its path or as a key of a
    path-less value, simple, singular, readWrite values that need not be unique:
    attributes (``displayName``, ``active``, an enterprise ``department``) or
    sub-attributes of a singular complex core attribute (``name.givenName``):
    Entra ID's updates of a user. The patched document is then the stored one with
    these values set, which a database can write without reading the document
    first. They are returned as a stored document holds them (extension values
    under their URN, sub-attributes under their attribute), canonical and validated
    as ``apply_patch`` would leave them.

    None for any other request, and for one ``apply_patch`` would refuse: only
    ``apply_patch`` answers errors, in its order and words.
    """
    assigned: dict[str, Any] = {}
    for operation in operations:
        targets = _targets(resource_type, operation)
        if targets is None:
            return None
        for path, given, resolved in targets:
            if resolved is None:
                continue  # a key or path apply_patch ignores (a schema not served)
            attr, sub = resolved.attribute, resolved.sub
            target = sub or attr
            if (
                given is None
                or given == []
                or path.value_filter is not None
                or attr.multi_valued
                or attr.mutability != "readWrite"
                or target.type == "complex"
                or target.mutability != "readWrite"
                or target.uniqueness != "none"
                or (sub is not None and resolved.in_extension)
            ):
                return None
            try:
                # As patch._apply_sub and patch._apply_whole canonicalize them.
                value = canon_single(target, given if sub else unwrap_single(attr, given))
            except ScimError:
                return None
            if sub is not None:
                assigned.setdefault(attr.name, {})[sub.name] = value
            elif resolved.in_extension:
                assigned.setdefault(resolved.schema.id, {})[attr.name] = value
            else:
                assigned[attr.name] = value
    if not assigned:
        return None  # nothing to write
    try:
        result = normalize(resource_type, assigned, partial=True)
    except ScimError:
        return None
    # A value that normalizes to nothing (``[null]``) unassigns the attribute instead.
    for key, value in assigned.items():
        kept = result.get(key)
        if kept is None or (isinstance(value, dict) and kept.keys() != value.keys()):
            return None
    return result


def _targets(
    resource_type: ResourceType, operation: PatchOperation
) -> list[tuple[PatchPath, Any, Resolved | None]] | None:
    """Each path an add or replace sets, its value, and what it resolves to, as
    ``apply_patch`` reads them: the operation's path, or each key of a path-less value
    (Entra ID with aadOptscim062020 sends {"displayName": …, "name.givenName": …}).
    None for a remove, a whole extension, or a path that does not parse or resolve.
    """
    if operation.op == "remove" or operation.schema_urn is not None:
        return None
    try:
        if operation.path is not None:
            path = operation.path
            return [(path, operation.value, resolve_target(resource_type, path.attr, key=False))]
        return [
            (path, value, resolve_target(resource_type, path.attr, key=True))
            for key, item in operation.value.items()
            for path, value in expand_key(resource_type, key, item)
        ]
    except ScimError:
        return None
