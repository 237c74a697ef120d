"""Response projection: ``attributes``/``excludedAttributes`` (RFC 7644 §3.9), ``returned``.

``project`` turns a stored document (the form ``validate.normalize`` produces,
plus the server's ``id`` and ``meta``) into a response body. The common case,
neither parameter given, only drops ``never``/``request`` attributes; other
combinations are compiled once into a per-key plan and cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from scimitar.scim.ast import AttrPath
from scimitar.scim.errors import InvalidValue
from scimitar.scim.resources import URN_ALIASES
from scimitar.scim.schema import Attribute, ResourceType, UnknownAttribute, resolve

# RFC 7644 §3.10 / RFC 7643 §2.1: ATTRNAME = ALPHA *(nameChar), plus "$ref".
_ATTRNAME = r"(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)"
_PLAIN = re.compile(rf"({_ATTRNAME})(?:\.({_ATTRNAME}))?")
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9_.:$-]*", re.IGNORECASE)


def parse_attribute_list(value: str | list[str] | None) -> tuple[AttrPath, ...]:
    """Parse an ``attributes``/``excludedAttributes`` value into attribute paths.

    Names are comma-separated (the parameter may also be repeated, hence the list),
    whitespace around them is ignored, and each is ``[URN ":"] attr ["." subAttr]``
    or a bare schema URN (RFC 7644 §3.9, §3.10). A malformed name raises
    ``InvalidValue`` naming it; names that are well formed but unknown are kept
    and later ignored by ``project``.
    """
    if not value:
        return ()
    if isinstance(value, list):
        value = ",".join(value)
    return _parse_cached(value)


@lru_cache(maxsize=512)
def _parse_cached(value: str) -> tuple[AttrPath, ...]:
    paths: list[AttrPath] = []
    for raw in value.split(","):
        name = raw.strip()
        if name:
            paths.append(_parse_name(name))
    return tuple(dict.fromkeys(paths))


def _parse_name(name: str) -> AttrPath:
    if name[:4].lower() == "urn:":
        if not _URN.fullmatch(name):
            raise _bad_name(name)
        urn, _, tail = name.rpartition(":")
        match = _PLAIN.fullmatch(tail)
        if match is not None:
            return AttrPath(match.group(1), match.group(2), urn)
        if name.lower() in URN_ALIASES:
            # A bare alias URN such as "…:enterprise:2.0User" has no attribute part.
            return AttrPath(tail, None, urn)
        raise _bad_name(name)
    match = _PLAIN.fullmatch(name)
    if match is None:
        raise _bad_name(name)
    return AttrPath(match.group(1), match.group(2))


def _bad_name(name: str) -> InvalidValue:
    return InvalidValue(
        f"{name!r} is not an attribute name; attributes and excludedAttributes take "
        'comma-separated names such as "userName,name.givenName,emails" (RFC 7644 §3.9)'
    )


# What to do with one top-level key: drop it, keep it whole, or keep/remove sub-attributes.
_DROP = 0
_KEEP = 1
_ONLY = 2  # keep only the named sub-attributes
_WITHOUT = 3  # keep all but the named sub-attributes


@dataclass(frozen=True, slots=True)
class _Rule:
    action: int
    subs: frozenset[str] = frozenset()


_KEEP_RULE = _Rule(_KEEP)
_DROP_RULE = _Rule(_DROP)


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to project every key of one resource type's documents."""

    core: dict[str, _Rule]
    extensions: dict[str, dict[str, _Rule]]  # canonical URN -> rules for its attributes
    unknown: _Rule  # keys the schema does not know (kept unless ``attributes`` given)


@dataclass(frozen=True, slots=True)
class _Types:
    """Per-resource-type facts for the fast path, computed once."""

    resource_type: ResourceType
    core_urn: str
    extension_urns: tuple[str, ...]
    hidden: frozenset[str]  # top-level names returned never / on request only
    ext_hidden: dict[str, frozenset[str]]
    default_plan: _Plan
    needs_plan: bool  # some sub-attribute is hidden by default


_TYPES: dict[int, _Types] = {}
_PLANS: dict[tuple[int, tuple[AttrPath, ...], tuple[AttrPath, ...]], _Plan] = {}
_MAX_CACHED_PLANS = 1024


def project(
    resource_type: ResourceType,
    resource: dict[str, Any],
    attributes: tuple[AttrPath, ...] = (),
    excluded: tuple[AttrPath, ...] = (),
) -> dict[str, Any]:
    """Return the response body for ``resource`` (RFC 7644 §3.9, RFC 7643 §2.4 ``returned``).

    ``always`` attributes (``id``) are always returned and ``never`` ones
    (``password``) never; ``default`` ones unless excluded or left out of a
    given ``attributes``; ``request`` ones only when named. Naming a sub-attribute
    returns only it (for each element of a multi-valued attribute); naming an
    extension URN returns the whole extension. Unknown names are ignored. The
    result's ``schemas`` lists an extension only when its object is present.
    """
    types = _types_for(resource_type)
    if not attributes and not excluded and not types.needs_plan:
        body: dict[str, Any] = {"schemas": [types.core_urn]}
        hidden = types.hidden
        for key, value in resource.items():
            if key in hidden or key == "schemas":
                continue
            ext_hidden = types.ext_hidden.get(key)
            if ext_hidden and isinstance(value, dict):
                value = {k: v for k, v in value.items() if k not in ext_hidden}
                if not value:
                    continue
            body[key] = value
        for urn in types.extension_urns:
            if urn in body:
                body["schemas"].append(urn)
        return body
    plan = _plan_for(types, attributes, excluded)
    body = {"schemas": [types.core_urn]}
    for key, value in resource.items():
        if key == "schemas":
            continue
        ext_rules = plan.extensions.get(key)
        if ext_rules is not None:
            if isinstance(value, dict):
                projected = {}
                for ext_key, ext_value in value.items():
                    kept = _apply(ext_rules.get(ext_key, plan.unknown), ext_value)
                    if kept is not None:
                        projected[ext_key] = kept
                if projected:
                    body[key] = projected
            continue
        kept = _apply(plan.core.get(key, plan.unknown), value)
        if kept is not None:
            body[key] = kept
    for urn in types.extension_urns:
        if urn in body:
            body["schemas"].append(urn)
    return body


def _apply(rule: _Rule, value: Any) -> Any:
    """Return ``value`` under ``rule``, or None when nothing of it is returned."""
    action = rule.action
    if action == _KEEP:
        return value
    if action == _DROP:
        return None
    if isinstance(value, list):
        reduced = (_reduce(rule, item) for item in value)
        kept = [item for item in reduced if item is not None and item != {}]
        return kept or None
    single = _reduce(rule, value)
    return None if single == {} else single


def _reduce(rule: _Rule, value: Any) -> Any:
    if not isinstance(value, dict):
        # A simple value under a rule about sub-attributes: nothing was asked of it.
        return value if rule.action == _WITHOUT else None
    if rule.action == _ONLY:
        return {k: v for k, v in value.items() if k in rule.subs}
    return {k: v for k, v in value.items() if k not in rule.subs}


def _types_for(resource_type: ResourceType) -> _Types:
    types = _TYPES.get(id(resource_type))
    if types is None or types.resource_type is not resource_type:
        types = _build_types(resource_type)
        _TYPES[id(resource_type)] = types
    return types


def _hidden(attr: Attribute) -> bool:
    return attr.returned in ("never", "request")


def _build_types(resource_type: ResourceType) -> _Types:
    core_attrs = resource_type.common + resource_type.schema.attributes
    extensions = tuple(ext for ext, _required in resource_type.extensions)
    default_plan = _build_plan(resource_type, (), ())
    all_attrs = core_attrs + tuple(a for ext in extensions for a in ext.attributes)
    return _Types(
        resource_type=resource_type,
        core_urn=resource_type.schema.id,
        extension_urns=tuple(ext.id for ext in extensions),
        hidden=frozenset(a.name for a in core_attrs if _hidden(a)),
        ext_hidden={
            ext.id: frozenset(a.name for a in ext.attributes if _hidden(a)) for ext in extensions
        },
        default_plan=default_plan,
        needs_plan=any(_hidden(sub) for a in all_attrs for sub in a.sub_attributes),
    )


def _plan_for(
    types: _Types, attributes: tuple[AttrPath, ...], excluded: tuple[AttrPath, ...]
) -> _Plan:
    if not attributes and not excluded:
        return types.default_plan
    key = (id(types.resource_type), attributes, excluded)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _build_plan(types.resource_type, attributes, excluded)
        if len(_PLANS) >= _MAX_CACHED_PLANS:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan


# A selection: for each (container URN or None, attribute name), either None (the
# whole attribute) or the set of sub-attribute names.
_Selection = dict[tuple[str | None, str], frozenset[str] | None]


def _select(resource_type: ResourceType, paths: tuple[AttrPath, ...]) -> _Selection:
    selection: _Selection = {}
    extensions = {ext.id.lower(): ext for ext, _required in resource_type.extensions}
    for path in paths:
        full = str(path).lower()
        ext = extensions.get(URN_ALIASES.get(full, full).lower())
        if ext is not None and path.sub_attr is None:
            for attr in ext.attributes:  # a bare extension URN names all of it
                selection[(ext.id, attr.name)] = None
            continue
        if path.urn is not None and path.urn.lower() in URN_ALIASES:
            path = AttrPath(path.attr, path.sub_attr, URN_ALIASES[path.urn.lower()])
        try:
            resolved = resolve(resource_type, path)
        except UnknownAttribute:
            continue  # RFC 7644 §3.9 leaves unknown names to the server; we ignore them
        container = resolved.schema.id if resolved.in_extension else None
        slot = (container, resolved.attribute.name)
        if resolved.sub is None:
            selection[slot] = None
        elif slot not in selection or selection[slot] is not None:
            selection[slot] = (selection.get(slot) or frozenset()) | {resolved.sub.name}
    return selection


def _build_plan(
    resource_type: ResourceType, attributes: tuple[AttrPath, ...], excluded: tuple[AttrPath, ...]
) -> _Plan:
    named = _select(resource_type, attributes)
    dropped = _select(resource_type, excluded)
    restrict = bool(attributes)

    def rule(container: str | None, attr: Attribute) -> _Rule:
        if attr.returned == "never":
            return _DROP_RULE
        slot = (container, attr.name)
        hidden_subs = frozenset(s.name for s in attr.sub_attributes if _hidden(s))
        always_subs = frozenset(s.name for s in attr.sub_attributes if s.returned == "always")
        never_subs = frozenset(s.name for s in attr.sub_attributes if s.returned == "never")
        if attr.returned == "always":
            return _Rule(_WITHOUT, hidden_subs) if hidden_subs else _KEEP_RULE
        if restrict or attr.returned == "request":
            if slot not in named:
                return _DROP_RULE
            subs = named[slot]
            if subs is not None:
                removed = dropped.get(slot, frozenset())
                if removed is None:
                    return _DROP_RULE
                return _Rule(_ONLY, (subs | always_subs) - removed - never_subs)
        if slot in dropped:
            removed = dropped[slot]
            if removed is None:
                return _DROP_RULE
            removed = removed - always_subs
            return _Rule(_WITHOUT, removed | hidden_subs)
        return _Rule(_WITHOUT, hidden_subs) if hidden_subs else _KEEP_RULE

    core = {
        attr.name: rule(None, attr)
        for attr in resource_type.common + resource_type.schema.attributes
    }
    extensions = {
        ext.id: {attr.name: rule(ext.id, attr) for attr in ext.attributes}
        for ext, _required in resource_type.extensions
    }
    return _Plan(core=core, extensions=extensions, unknown=_DROP_RULE if restrict else _KEEP_RULE)
