"""Turn mapped values into SCIM: a resource for POST, minimal operations for PATCH.

Mapped values are kept *flat*, keyed by the mapping's target path exactly as an
administrator writes it (``emails[type eq "work"].value``, ``name.givenName``,
``urn:…:enterprise:2.0:User:department``). Flat values are what the engine stores
as "last written", so the next cycle's diff is a dictionary comparison and an
unchanged object costs no request.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from scimitar.scim.ast import And, Compare, Filter, PatchPath
from scimitar.scim.filter import render_filter, render_value
from scimitar.scim.path import parse_path
from scimitar.scim.resources import ENTERPRISE_USER_URN, GROUP, USER
from scimitar.scim.schema import Attribute, ResourceType, UnknownAttribute, resolve

CORE_URNS = {USER.schema.id.lower(), GROUP.schema.id.lower()}
MANAGER = f"{ENTERPRISE_USER_URN}:manager"


@lru_cache(maxsize=512)
def _path(target: str) -> PatchPath:
    return parse_path(target)


@lru_cache(maxsize=512)
def canonical_path(target: str) -> str:
    """Return the RFC 7644 form of a target path (the seed's alias form rewritten)."""
    path = _path(target)
    attr = path.attr
    name = f"{attr.urn}:{attr.attr}" if attr.urn else attr.attr
    if attr.sub_attr:
        name += f".{attr.sub_attr}"
    if path.value_filter is not None:
        name += f"[{render_filter(path.value_filter)}]"
    if path.element_sub_attr:
        name += f".{path.element_sub_attr}"
    return name


@lru_cache(maxsize=512)
def leaf_attribute(resource_type: ResourceType, target: str) -> Attribute | None:
    """Return the schema attribute a target path writes, or None for unknown ones."""
    path = _path(target)
    try:
        resolved = resolve(resource_type, path.attr)
    except UnknownAttribute:
        return None
    if path.element_sub_attr:
        return resolved.attribute.sub_attribute(path.element_sub_attr)
    return resolved.leaf


def coerce(resource_type: ResourceType, target: str, value: Any) -> Any:
    """Give a mapped value the target attribute's type ("True" -> true for booleans)."""
    if value is None:
        return None
    attribute = leaf_attribute(resource_type, target)
    if attribute is None:
        return value
    if attribute.type == "boolean" and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    if attribute.type == "string" and isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return value


def _seed(node: Filter) -> dict[str, Any]:
    """The element a value filter describes: ``type eq "work"`` -> ``{"type": "work"}``."""
    if isinstance(node, Compare) and node.op == "eq":
        value: Any = node.value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        return {node.path.attr: value}
    if isinstance(node, And):
        return {**_seed(node.left), **_seed(node.right)}
    return {}


def build_resource(resource_type: ResourceType, flat: dict[str, Any]) -> dict[str, Any]:
    """Return the SCIM resource (for POST) holding the flat mapped values."""
    body: dict[str, Any] = {"schemas": [resource_type.schema.id]}
    for target, value in flat.items():
        if value is None:
            continue
        path = _path(target)
        attr = path.attr
        container = body
        if attr.urn and attr.urn.lower() not in CORE_URNS:
            if attr.urn not in body["schemas"]:
                body["schemas"].append(attr.urn)
            container = body.setdefault(attr.urn, {})
        if target == MANAGER:
            value = {"value": value}
        if path.value_filter is not None:
            elements = container.setdefault(attr.attr, [])
            seed = _seed(path.value_filter)
            element = next(
                (e for e in elements if all(e.get(k) == v for k, v in seed.items())), None
            )
            if element is None:
                element = dict(seed)
                elements.append(element)
            element[path.element_sub_attr or "value"] = value
        elif attr.sub_attr:
            container.setdefault(attr.attr, {})[attr.sub_attr] = value
        else:
            container[attr.attr] = value
    return body


def patch_operations(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Return PatchOp operations turning ``old`` into ``new``: only what changed."""
    operations: list[dict[str, Any]] = []
    for target, value in new.items():
        if old.get(target) == value:
            continue
        path = canonical_path(target)
        if value is None:
            operations.append({"op": "remove", "path": path})
        else:
            sent = {"value": value} if target == MANAGER else value
            operations.append({"op": "replace", "path": path, "value": sent})
    for target, value in old.items():
        if target not in new and value is not None:
            operations.append({"op": "remove", "path": canonical_path(target)})
    return operations


def changed_properties(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Return (target, old value, new value) for every attribute that differs."""
    names = list(dict.fromkeys([*new, *old]))
    return [
        (name, old.get(name), new.get(name)) for name in names if old.get(name) != new.get(name)
    ]


def extract_flat(
    resource_type: ResourceType, resource: dict[str, Any], targets: list[str]
) -> dict[str, Any]:
    """Read the values a target object holds for each mapped target path.

    Used for an object the engine matched rather than created: its "last written"
    values are what the target has, so the first update sends only differences.
    """
    flat: dict[str, Any] = {}
    for target in targets:
        path = _path(target)
        attr = path.attr
        container: Any = resource
        if attr.urn and attr.urn.lower() not in CORE_URNS:
            container = resource.get(attr.urn) or {}
        value = _get(container, attr.attr)
        if path.value_filter is not None:
            seed = _seed(path.value_filter)
            element = next(
                (
                    e
                    for e in value or []
                    if isinstance(e, dict) and all(_get(e, k) == v for k, v in seed.items())
                ),
                None,
            )
            value = _get(element, path.element_sub_attr or "value") if element else None
        elif attr.sub_attr:
            value = _get(value, attr.sub_attr) if isinstance(value, dict) else None
        if target == MANAGER and isinstance(value, dict):
            value = value.get("value")
        if value is not None:
            flat[target] = coerce(resource_type, target, value)
    return flat


def _get(container: Any, name: str) -> Any:
    if not isinstance(container, dict):
        return None
    if name in container:
        return container[name]
    lowered = name.lower()
    return next((v for k, v in container.items() if k.lower() == lowered), None)


def match_filter(target: str, value: Any) -> str:
    """Return the SCIM filter that finds objects whose ``target`` equals ``value``.

    ``emails[type eq "work"].value`` becomes ``emails[type eq "work" and value eq "x"]``;
    values are rendered with SCIM's string escaping, so quotes and backslashes in
    a userName cannot break (or inject into) the filter.
    """
    path = _path(target)
    attr = path.attr
    name = f"{attr.urn}:{attr.attr}" if attr.urn else attr.attr
    if path.value_filter is not None:
        inner = render_filter(path.value_filter)
        sub = path.element_sub_attr or "value"
        return f"{name}[{inner} and {sub} eq {render_value(value)}]"
    if attr.sub_attr:
        name += f".{attr.sub_attr}"
    return f"{name} eq {render_value(value)}"
