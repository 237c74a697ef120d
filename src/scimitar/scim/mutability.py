"""Immutable values (RFC 7643 §2.2): once set, a PUT or PATCH may not change or drop them.

Which values of a resource type are immutable is worked out once per type.
"""

from __future__ import annotations

import json
from typing import Any

from scimitar.scim.errors import Mutability
from scimitar.scim.schema import Attribute, ResourceType

# (extension URN or None for the core schema, attribute, immutable sub-attribute or None)
_Immutable = tuple[str | None, Attribute, Attribute | None]
_IMMUTABLE: dict[int, tuple[ResourceType, tuple[_Immutable, ...]]] = {}


def check_mutability(
    resource_type: ResourceType, old_doc: dict[str, Any], new_doc: dict[str, Any]
) -> None:
    """Raise ``Mutability`` if ``new_doc`` changes or drops an immutable value of ``old_doc``.

    RFC 7644 §3.5.1: on PUT, "immutable" values already set MUST match the input.
    Both documents are in the stored form ``normalize`` returns.
    """
    for urn, attr, sub in _immutable_values(resource_type):
        old_container = old_doc if urn is None else old_doc.get(urn) or {}
        new_container = new_doc if urn is None else new_doc.get(urn) or {}
        old_value = old_container.get(attr.name)
        new_value = new_container.get(attr.name)
        leaf = attr
        name = attr.name
        if sub is not None:
            old_value = old_value.get(sub.name) if isinstance(old_value, dict) else None
            new_value = new_value.get(sub.name) if isinstance(new_value, dict) else None
            leaf = sub
            name = f"{attr.name}.{sub.name}"
        if old_value is not None and not _same(leaf, old_value, new_value):
            raise Mutability(
                f"{name} is immutable: once set it cannot be changed or removed "
                f"(it is {json.dumps(old_value)})"
            )


def _same(attr: Attribute, old: Any, new: Any) -> bool:
    """Tell whether two stored values are equal under the attribute's matching rules."""
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return False
        unmatched = list(new)
        for item in old:
            match = next(
                (i for i, other in enumerate(unmatched) if _same_one(attr, item, other)), None
            )
            if match is None:
                return False
            del unmatched[match]
        return True
    return _same_one(attr, old, new)


def _same_one(attr: Attribute, old: Any, new: Any) -> bool:
    if isinstance(old, dict) and isinstance(new, dict):
        if old.keys() != new.keys():
            return False
        for key, value in old.items():
            sub = attr.sub_attribute(key)
            if not _same_one(sub or attr, value, new[key]):
                return False
        return True
    if isinstance(old, str) and isinstance(new, str) and not attr.case_exact:
        return old.casefold() == new.casefold()
    return bool(old == new)


def _immutable_values(resource_type: ResourceType) -> tuple[_Immutable, ...]:
    cached = _IMMUTABLE.get(id(resource_type))
    if cached is not None and cached[0] is resource_type:
        return cached[1]
    found = _immutables(None, resource_type.common + resource_type.schema.attributes)
    for extension, _required in resource_type.extensions:
        found.extend(_immutables(extension.id, extension.attributes))
    values = tuple(found)
    _IMMUTABLE[id(resource_type)] = (resource_type, values)
    return values


def _immutables(container: str | None, attributes: tuple[Attribute, ...]) -> list[_Immutable]:
    found: list[_Immutable] = []
    for attr in attributes:
        if attr.mutability == "immutable":
            found.append((container, attr, None))
        elif attr.type == "complex" and not attr.multi_valued:
            # Elements of a multi-valued attribute have no identity across a PUT, so
            # an immutable sub-attribute there (members.value) cannot "change": an
            # element is only added or removed, which its readWrite parent allows.
            found.extend(
                (container, attr, sub)
                for sub in attr.sub_attributes
                if sub.mutability == "immutable"
            )
    return found
