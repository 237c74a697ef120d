"""Values in a PATCH (RFC 7644 §3.5.2): canonical forms, merging, ``primary``, immutability.

The value-level rules ``patch.py`` applies once an operation has found its target:
sub-attribute names and lenient types as Microsoft Entra ID sends them, roles it
JSON-encodes, merging added values without repeats, one ``primary`` per attribute,
and the RFC's limits on changing ``immutable`` attributes. Pure, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

from scimitar.scim.errors import InvalidValue, Mutability
from scimitar.scim.schema import Attribute

# RFC 7643 §4.1.2: a role "value" is "a String or label representing a collection of
# entitlements", and an entitlement's value should "accurately and without ambiguity
# determine what the user has access to": the value names the element.
_KEYED_BY_VALUE = frozenset({"roles", "entitlements"})


def canon_many(attr: Attribute, value: Any) -> list[Any]:
    """Return the values given for a multi-valued attribute, canonicalized."""
    items = [] if value is None else value if isinstance(value, list) else [value]
    if attr.name == "roles":
        items = [decoded for item in items for decoded in _decode_roles(item)]
    return [canon_single(attr, item) for item in items if item is not None]


def canon_single(attr: Attribute, value: Any) -> Any:
    """Return one value of ``attr`` with canonical sub-attribute names and lenient types.

    Read-only sub-attributes a client echoes back (members[].display) are dropped,
    as RFC 7643 §2.2 has servers ignore them; ``normalize`` judges the rest.
    """
    if attr.type == "complex":
        if isinstance(value, str) and attr.sub_attribute("value") is not None:
            # Entra ID sends the manager as its bare id ("manager": "123456" in the
            # tutorial's schema example).
            return {"value": value}
        if not isinstance(value, dict):
            raise InvalidValue(f"{attr.name} takes an object of sub-attributes, not {value!r}")
        out: dict[str, Any] = {}
        for name, item in value.items():
            sub = attr.sub_attribute(name)
            if sub is None:
                out[name] = clone(item)
            elif item is not None and sub.mutability != "readOnly":
                out[sub.name] = canon_single(sub, item)
        return out
    if attr.type == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        # Entra ID without aadOptscim062020 disables a user with "value": "False".
        return value.lower() == "true"
    return clone(value)


def complex_value(attr: Attribute, value: Any) -> dict[str, Any]:
    """Return one value of the complex ``attr``, canonicalized, or raise ``InvalidValue``."""
    new = canon_single(attr, value)
    if not isinstance(new, dict):
        raise InvalidValue(f"{attr.name}[…] takes an object of sub-attributes")
    return new


def _decode_roles(item: Any) -> list[Any]:
    """Expand roles Entra ID sends JSON-encoded in a string, as ``normalize`` does.

    Its app-role mappings PATCH [{"value": "{\\"id\\":\\"…\\",\\"value\\":\\"Admin\\",
    \\"displayName\\":\\"Admin\\"}"}] ("The request formats in the PATCH and POST
    differ": Entra docs, customize-application-attributes, "Provisioning a role to
    a SCIM app"). Decoding before merging keeps a role sent again from doubling.
    """
    wrapper: dict[str, Any] = {}
    encoded = item
    if isinstance(item, dict):
        wrapper = {k: v for k, v in item.items() if k.lower() != "value"}
        encoded = next((v for k, v in item.items() if k.lower() == "value"), None)
    if not isinstance(encoded, str) or not encoded.lstrip().startswith(("{", "[")):
        return [item]
    try:
        decoded = json.loads(encoded)
    except ValueError:
        return [item]
    objects = decoded if isinstance(decoded, list) else [decoded]
    if not objects or not all(isinstance(obj, dict) for obj in objects):
        return [item]
    if len(objects) > 1:
        wrapper = {k: v for k, v in wrapper.items() if k.lower() != "primary"}
    roles = []
    for obj in objects:
        role = {**wrapper, **obj}
        if "displayName" in role and not any(k.lower() == "display" for k in role):
            role["display"] = role.pop("displayName")
        role.pop("id", None)  # Entra's app role id is no sub-attribute of roles
        roles.append(role)
    return roles


def unwrap_single(attr: Attribute, value: Any) -> Any:
    """Return the one value of a single-valued attribute sent as a list.

    Entra ID sends {"op":"Add","path":"manager","value":[{"$ref":…,"value":"id"}]}
    (tutorial, "Example 5. Request from Microsoft Entra ID to an SCIM endpoint to
    update a user").
    """
    if not isinstance(value, list):
        return value
    if len(value) != 1:
        raise InvalidValue(f"{attr.name} is single-valued; send one value, not {len(value)}")
    return value[0]


def merge_values(attr: Attribute, elements: list[Any], items: list[Any]) -> list[Any]:
    """Add ``items`` to ``elements`` in place; return the elements written.

    §3.5.2.1: "If the target location already contains the value specified, no
    changes SHOULD be made". In roles and entitlements the value names the element
    (``_KEYED_BY_VALUE``), so an item whose value an element has, and whose type
    does not differ, updates that element rather than repeat it: Entra ID POSTs
    roles as {primary, type, displayName, value} and PATCHes the same roles as
    {value, displayName} (customize-application-attributes, "Provisioning a role to
    a SCIM app": "The request formats in the PATCH and POST differ"). Elsewhere the
    type is part of the value (RFC 7643 §2.4: it labels "the attribute's function"):
    a work and a home email may share an address, so only exact repeats are dropped.
    """
    keyed = attr.name in _KEYED_BY_VALUE
    written: list[Any] = []
    for item in items:
        if item in elements:
            continue
        index = _named_by_value(attr, elements, item) if keyed else None
        if index is None:
            elements.append(item)
            written.append(item)
        elif (updated := {**elements[index], **item}) != elements[index]:
            check_immutable_subs(attr, elements[index], updated)
            elements[index] = updated
            written.append(updated)
    return written


def _named_by_value(attr: Attribute, elements: list[Any], new: Any) -> int | None:
    """Return the index of the element with ``new``'s value and no other type, if any."""
    value_sub, type_sub = attr.sub_attribute("value"), attr.sub_attribute("type")
    if not isinstance(new, dict) or new.get("value") is None or value_sub is None:
        return None
    for index, old in enumerate(elements):
        if not isinstance(old, dict) or not equal_values(value_sub, old.get("value"), new["value"]):
            continue
        mine, theirs = old.get("type"), new.get("type")
        if (
            type_sub is None
            or mine is None
            or theirs is None
            or equal_values(type_sub, mine, theirs)
        ):
            return index
    return None


def one_primary(attr: Attribute, elements: list[Any], written: list[Any]) -> None:
    """Clear ``primary`` on the other values when a written value became primary.

    RFC 7644 §3.5.2: a PATCH that "sets a value's "primary" sub-attribute to "true"
    SHALL cause the server to automatically set "primary" to "false" for any other
    values in the array".
    """
    chosen = {
        id(item) for item in written if isinstance(item, dict) and item.get("primary") is True
    }
    if not chosen or attr.sub_attribute("primary") is None:
        return
    for item in elements:
        if isinstance(item, dict) and item.get("primary") is True and id(item) not in chosen:
            item["primary"] = False


def check_immutable(attr: Attribute, current: Any, new: Any) -> None:
    """Raise ``Mutability`` if ``new`` changes an immutable ``attr`` or sub-attribute."""
    # §3.5.2: "a client MAY "add" a value to an "immutable" attribute if the attribute
    # had no previous value", and may not change one.
    if attr.mutability == "immutable" and current not in (None, []) and current != new:
        raise Mutability(f"{attr.name} is immutable")
    if attr.type == "complex" and not attr.multi_valued:
        check_immutable_subs(attr, current, new)


def check_immutable_subs(attr: Attribute, old: Any, new: Any) -> None:
    """Raise ``Mutability`` if ``new`` changes an immutable sub-attribute ``old`` has."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    for sub in attr.sub_attributes:
        if sub.mutability == "immutable" and sub.name in old and old[sub.name] != new.get(sub.name):
            raise Mutability(f"{attr.name}.{sub.name} is immutable")


def equal_values(attr: Attribute, left: Any, right: Any) -> bool:
    """Compare two values of ``attr``, ignoring case unless it is ``caseExact``."""
    if isinstance(left, str) and isinstance(right, str) and not attr.case_exact:
        return left.casefold() == right.casefold()
    return bool(left == right)


def clone(value: Any) -> Any:
    """Copy a JSON value (much faster than ``copy.deepcopy`` on plain data)."""
    if isinstance(value, dict):
        return {key: clone(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clone(item) for item in value]
    return value
