"""Evaluate filters against in-memory SCIM JSON with RFC 7644 §3.4.2.2 semantics.

A filter is compiled once per (resource type or attribute, filter) into a predicate.
Compiling resolves every attribute and checks every operator against the attribute's
type, so a bad filter raises ``InvalidFilter`` whatever data it meets (an empty list
as well as a full one), and testing many resources repeats none of that work.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

from scimitar.scim.ast import (
    COMPARE_OPS,
    And,
    AttrPath,
    Compare,
    CompValue,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
)
from scimitar.scim.errors import InvalidFilter
from scimitar.scim.schema import Attribute, Resolved, ResourceType, UnknownAttribute, resolve

Predicate = Callable[[Any], bool]
_Values = Callable[[Any], list[Any]]
_T = TypeVar("_T")

# RFC 7644 §3.4.2.2: "Clients MAY query by schema or schema extensions by using a
# filter expression including the 'schemas' attribute"; no schema defines it, so it
# is described here. Schema URNs compare case-insensitively, as resolve() treats them.
_SCHEMAS = Attribute("schemas", type="reference", multi_valued=True)

_STRING_OPS: dict[str, Callable[[str, str], bool]] = {
    "eq": operator.eq,
    "co": operator.contains,
    "sw": str.startswith,
    "ew": str.endswith,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_SUBSTRING_OPS = frozenset({"co", "sw", "ew"})
_MISSING = object()


def resource_matches(resource_type: ResourceType, resource: dict[str, Any], node: Filter) -> bool:
    """Return whether ``resource`` (SCIM JSON, extensions under their URN) matches ``node``."""
    return _resource_predicate(_Identity(resource_type), _Identity(node))(resource)


def element_matches(attribute: Attribute, element: Any, node: Filter) -> bool:
    """Return whether one element of multi-valued ``attribute`` matches value filter ``node``.

    Paths in ``node`` name sub-attributes of ``attribute`` (``type``, ``primary``); for
    a multi-valued simple attribute, ``value`` names the element itself.
    """
    return _element_predicate(_Identity(attribute), _Identity(node))(element)


def compile_filter(resource_type: ResourceType, node: Filter) -> Callable[[dict[str, Any]], bool]:
    """Return ``node`` as a predicate over resources, to test many of them."""
    return _resource_predicate(_Identity(resource_type), _Identity(node))


def compile_element_filter(attribute: Attribute, node: Filter) -> Callable[[Any], bool]:
    """Return value filter ``node`` as a predicate over elements of ``attribute``."""
    return _element_predicate(_Identity(attribute), _Identity(node))


class _Identity(Generic[_T]):
    """A cache key that is its object's identity.

    Value equality would be slow (hashing a ``ResourceType`` walks every attribute)
    and wrong (``Compare(p, "eq", 1) == Compare(p, "eq", True)``, which must compile
    differently). Parsed filters are shared objects (``parse_filter`` caches them),
    so identity finds them; the cache entry holds the object, so its id cannot be
    reused while the entry exists.
    """

    __slots__ = ("obj",)

    def __init__(self, obj: _T) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.obj is self.obj


@lru_cache(maxsize=1024)
def _resource_predicate(key: _Identity[ResourceType], node: _Identity[Filter]) -> Predicate:
    return _compile(key.obj, node.obj)


@lru_cache(maxsize=1024)
def _element_predicate(key: _Identity[Attribute], node: _Identity[Filter]) -> Predicate:
    return _compile_element(key.obj, node.obj)


# -- compiling against a resource type --------------------------------------------


def _compile(resource_type: ResourceType, node: Filter) -> Predicate:
    if isinstance(node, And):
        left, right = _compile(resource_type, node.left), _compile(resource_type, node.right)
        return lambda resource: left(resource) and right(resource)
    if isinstance(node, Or):
        left, right = _compile(resource_type, node.left), _compile(resource_type, node.right)
        return lambda resource: left(resource) or right(resource)
    if isinstance(node, Not):
        operand = _compile(resource_type, node.operand)
        return lambda resource: not operand(resource)
    if isinstance(node, ValuePath):
        return _compile_value_path(resource_type, node)
    if isinstance(node, Compare | Present):
        resolved = _resolve(resource_type, node.path)
        raw = _resource_values(resolved, resolved.sub)
        if isinstance(node, Present):
            return _present(raw)
        leaf, values = resolved.leaf, raw
        if resolved.sub is None and leaf.type == "complex":
            value_sub = leaf.sub_attribute("value")
            if value_sub is not None:
                # §3.4.2.2's own example `emails co "example.com"` compares a
                # multi-valued complex attribute through its "value" sub-attribute.
                # A single-valued one with a "value" is compared the same way: Entra
                # ID matches on `manager eq "<id>"` (tutorial use-scim-to-provision-
                # users-and-groups, "Example 4. Query the value of a reference
                # attribute to be updated").
                leaf, values = value_sub, _resource_values(resolved, value_sub)
        return _compare(node, str(node.path), leaf, values, raw)
    raise TypeError(f"not a filter node: {node!r}")


def _compile_value_path(resource_type: ResourceType, node: ValuePath) -> Predicate:
    resolved = _resolve(resource_type, node.path)
    label = str(node.path)
    if resolved.sub is not None:
        raise InvalidFilter(f"'[...]' must follow an attribute, not the sub-attribute '{label}'")
    attribute = resolved.attribute
    if not attribute.multi_valued and attribute.type != "complex":
        raise InvalidFilter(
            f"'{label}' holds a single {attribute.type}; '[...]' filters apply to "
            f"multi-valued or complex attributes"
        )
    matches = _compile_element(attribute, node.filter)
    elements = _resource_values(resolved, None)
    return lambda resource: any(matches(element) for element in elements(resource))


def _resolve(resource_type: ResourceType, path: AttrPath) -> Resolved:
    try:
        return resolve(resource_type, path)
    except UnknownAttribute as exc:
        if (
            path.attr.lower() == "schemas"
            and path.sub_attr is None
            and (path.urn is None or path.urn.lower() == resource_type.schema.id.lower())
        ):
            return Resolved(resource_type.schema, _SCHEMAS)
        raise InvalidFilter(
            f"cannot filter {resource_type.name} resources on '{path}': {exc}"
        ) from None


def _resource_values(resolved: Resolved, sub: Attribute | None) -> _Values:
    """Return a function listing the non-null values ``resolved`` (or its ``sub``) has."""
    name = resolved.attribute.name
    urn = resolved.schema.id if resolved.in_extension else None
    sub_name = sub.name if sub is not None else None

    def values(resource: Any) -> list[Any]:
        container = resource if urn is None else _lookup(resource, urn)
        if not isinstance(container, dict):
            return []
        raw = _lookup(container, name)
        if raw is None:
            return []
        items = raw if isinstance(raw, list) else [raw]
        if sub_name is None:
            return [item for item in items if item is not None]
        found = []
        for item in items:
            if isinstance(item, dict):
                value = _lookup(item, sub_name)
                if value is not None:
                    found.append(value)
        return found

    return values


def _lookup(mapping: dict[str, Any], name: str) -> Any:
    """Return ``mapping[name]``, matching the key case-insensitively (RFC 7643 §2.1)."""
    value = mapping.get(name, _MISSING)
    if value is not _MISSING:
        return value
    lowered = name.lower()
    for key, candidate in mapping.items():
        if key.lower() == lowered:
            return candidate
    return None


# -- compiling against one element of a multi-valued attribute ---------------------


def _compile_element(attribute: Attribute, node: Filter) -> Predicate:
    if isinstance(node, And):
        left, right = (
            _compile_element(attribute, node.left),
            _compile_element(attribute, node.right),
        )
        return lambda element: left(element) and right(element)
    if isinstance(node, Or):
        left, right = (
            _compile_element(attribute, node.left),
            _compile_element(attribute, node.right),
        )
        return lambda element: left(element) or right(element)
    if isinstance(node, Not):
        operand = _compile_element(attribute, node.operand)
        return lambda element: not operand(element)
    if isinstance(node, ValuePath):
        raise InvalidFilter(
            f"value filters cannot be nested: '{node.path}[...]' inside '{attribute.name}[...]'"
        )
    if isinstance(node, Compare | Present):
        leaf, values = _element_values(attribute, node.path)
        if isinstance(node, Present):
            return _present(values)
        return _compare(node, f"{attribute.name}.{leaf.name}", leaf, values, values)
    raise TypeError(f"not a filter node: {node!r}")


def _element_values(attribute: Attribute, path: AttrPath) -> tuple[Attribute, _Values]:
    if path.urn is not None or path.sub_attr is not None:
        raise InvalidFilter(
            f"inside '{attribute.name}[...]' name a sub-attribute on its own, not '{path}'"
        )
    if not attribute.sub_attributes:
        # A multi-valued simple attribute: "value" is the element itself.
        if path.attr.lower() != "value":
            raise InvalidFilter(
                f"'{attribute.name}' holds simple values; inside '[...]' call each one "
                f"'value', not '{path.attr}'"
            )
        return attribute, lambda element: [] if element is None else [element]
    sub = attribute.sub_attribute(path.attr)
    if sub is None:
        raise InvalidFilter(f"'{attribute.name}' has no sub-attribute '{path.attr}'")
    name = sub.name

    def values(element: Any) -> list[Any]:
        if not isinstance(element, dict):
            return []
        value = _lookup(element, name)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    return sub, values


# -- operators -------------------------------------------------------------------


def _present(values: _Values) -> Predicate:
    return lambda target: any(_is_present(value) for value in values(target))


def _is_present(value: Any) -> bool:
    """Apply §3.4.2.2 ``pr``: a non-empty value, or a complex value with a non-empty node."""
    if isinstance(value, str):
        return value != ""
    if isinstance(value, dict):
        return any(_non_empty(item) for item in value.values())
    if isinstance(value, list):
        return any(_non_empty(item) for item in value)
    return value is not None


def _non_empty(value: Any) -> bool:
    return value is not None and not (isinstance(value, str | list | dict) and not value)


def _compare(
    node: Compare, label: str, leaf: Attribute, values: _Values, raw: _Values
) -> Predicate:
    op, value = node.op, node.value
    if op not in COMPARE_OPS:
        raise InvalidFilter(f"unknown comparison operator {op!r}")
    if value is None:
        # The RFC gives null no meaning in a comparison; read "eq null" as "absent"
        # and "ne null" as "present", which is what clients writing it intend.
        present = _present(raw)
        if op == "eq":
            return lambda target: not present(target)
        if op == "ne":
            return present
        raise InvalidFilter(f"'{op}' cannot compare '{label}' with null; use eq, ne or pr")
    test = _value_test(leaf, op, value, label)
    if op == "ne":
        # An attribute with no value is "not equal" to every value.
        return lambda target: not (found := values(target)) or any(map(test, found))
    return lambda target: any(map(test, values(target)))


def _value_test(leaf: Attribute, op: str, value: CompValue, label: str) -> Callable[[Any], bool]:
    """Return a test of one stored value against ``op value``, or raise ``InvalidFilter``."""
    kind = leaf.type
    if kind == "complex":
        example = f"{label}.{leaf.sub_attributes[0].name}" if leaf.sub_attributes else label
        raise InvalidFilter(
            f"'{label}' is complex; filter on one of its sub-attributes, e.g. {example}"
        )
    if kind == "boolean":
        return _boolean_test(op, value, label)
    if kind in ("integer", "decimal"):
        return _number_test(op, value, label, kind)
    if kind == "dateTime":
        return _datetime_test(op, value, label)
    if kind == "binary" and op not in ("eq", "ne"):
        raise InvalidFilter(
            f"'{op}' does not apply to the binary attribute '{label}'; use eq or ne"
        )
    if not isinstance(value, str):
        raise InvalidFilter(
            f"'{label}' is a {kind}; compare it with a quoted string, not {value!r}"
        )
    # Case sensitivity comes from the attribute's caseExact (RFC 7644 §3.4.2.2).
    exact = leaf.case_exact or kind == "binary"
    target = value if exact else value.casefold()
    if op == "ne":
        if exact:
            return lambda stored: not (isinstance(stored, str) and stored == target)
        return lambda stored: not (isinstance(stored, str) and stored.casefold() == target)
    compare = _STRING_OPS[op]
    if exact:
        return lambda stored: isinstance(stored, str) and compare(stored, target)
    return lambda stored: isinstance(stored, str) and compare(stored.casefold(), target)


def _boolean_test(op: str, value: CompValue, label: str) -> Callable[[Any], bool]:
    # §3.4.2.2: ordering a boolean SHALL fail with invalidFilter; substrings make no sense.
    if op not in ("eq", "ne"):
        raise InvalidFilter(
            f"'{op}' does not apply to the boolean attribute '{label}'; use eq or ne"
        )
    target = _as_bool(value)
    if target is None:
        raise InvalidFilter(f"'{label}' is a boolean; compare it with true or false")
    if op == "eq":
        return lambda stored: _as_bool(stored) is target
    return lambda stored: _as_bool(stored) is not target


def _as_bool(value: Any) -> bool | None:
    # Entra ID sends booleans as the strings "True"/"False" (e.g. roles[primary eq
    # "True"]); accept those on either side of a comparison.
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def _number_test(op: str, value: CompValue, label: str, kind: str) -> Callable[[Any], bool]:
    if op in _SUBSTRING_OPS:
        raise InvalidFilter(f"'{op}' applies to strings; '{label}' is an {kind}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFilter(f"'{label}' is an {kind}; compare it with a number, not {value!r}")
    compare = _ORDER_OPS[op]
    mismatch = op == "ne"

    def test(stored: Any) -> bool:
        if isinstance(stored, bool) or not isinstance(stored, int | float):
            return mismatch
        return compare(stored, value)

    return test


def _datetime_test(op: str, value: CompValue, label: str) -> Callable[[Any], bool]:
    if op in _SUBSTRING_OPS:
        raise InvalidFilter(
            f"'{op}' does not apply to the dateTime attribute '{label}'; "
            f"use eq, ne, gt, ge, lt or le"
        )
    instant = _instant(value)
    if instant is None:
        raise InvalidFilter(
            f"'{label}' is a dateTime; compare it with an ISO 8601 string such as "
            f'"2011-05-13T04:42:34Z", not {value!r}'
        )
    compare = _ORDER_OPS[op]
    mismatch = op == "ne"

    def test(stored: Any) -> bool:
        moment = _instant(stored)
        if moment is None:
            return mismatch
        # Chronological, not textual: "…T06:42:34+02:00" equals "…T04:42:34Z".
        return compare(moment, instant)

    return test


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    # A dateTime without an offset is taken as UTC so every pair is comparable.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
