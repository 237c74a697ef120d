"""Turn a POST/PUT body into the canonical stored document (RFC 7643 §2, RFC 7644 §3.3).

The stored document uses each attribute's canonical name, nests extension
attributes under the canonical extension URN (RFC 7643 §3.3), holds no
``schemas``/``id``/``meta`` and no readOnly value, and no null or empty list
(RFC 7643 §2.5: those mean "unassigned"). Values are coerced to their declared
type, so every later reader (filters, projection, SQL) can trust them.

Clients are forgiven what real ones get wrong, each case citing who does it;
what cannot be forgiven is an ``InvalidValue`` naming the attribute path and
what was expected. Per-resource-type lookup tables are built once and cached.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scimitar.scim.errors import InvalidSyntax, InvalidValue
from scimitar.scim.resources import URN_ALIASES
from scimitar.scim.schema import Attribute, ResourceType

MAX_STRING_LENGTH = 65_536
"""Longest string value accepted, in characters; bounds the work one value can cost."""

MAX_VALUES = 1_000
"""Most values one multi-valued attribute may hold. ``members`` is exempt: large
groups are normal and its size is bounded by the server's request-body limit."""

_UNBOUNDED = frozenset({"members"})
_BOOLEANS = {"true": True, "false": False}
_INTEGER = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def format_datetime(moment: datetime) -> str:
    """Return ``moment`` as the stored dateTime form, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC.

    The fraction is always six digits so that stored values order correctly as
    plain strings (``"…:22Z"`` would sort after ``"…:22.5Z"``). Naive datetimes are
    taken to be UTC.
    """
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


def normalize_datetime(value: str) -> str:
    """Return an ISO 8601 / xsd:dateTime string (RFC 7643 §2.3.5) in the stored form.

    Raises ``ValueError`` when ``value`` is not a date with a time of day; filter
    compilers use this to normalise comparison values the same way.
    """
    text = value.strip()
    if "T" not in text.upper() and " " not in text:
        raise ValueError("a dateTime needs a time of day")
    return format_datetime(datetime.fromisoformat(text))


@dataclass(slots=True)
class _Field:
    """An attribute prepared for validation: its path for messages and sub-fields."""

    attr: Attribute
    path: str
    subs: dict[str, _Field] = field(default_factory=dict)
    bounded: bool = True
    json_values: bool = False
    canonical_case: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Plan:
    """Everything ``normalize`` needs for one resource type, computed once."""

    resource_type: ResourceType
    core: dict[str, _Field]
    # lower-cased URN (canonical or alias) -> (canonical URN, that extension's fields)
    extensions: dict[str, tuple[str, dict[str, _Field]]]
    # (lower-cased URN prefix, canonical extension URN or None for the core schema)
    prefixes: tuple[tuple[str, str | None], ...]
    required: tuple[tuple[str | None, Attribute], ...]
    required_extensions: tuple[str, ...]
    extension_urns: tuple[str, ...]
    known_urns: frozenset[str]


def _prepare(attr: Attribute, path: str) -> _Field:
    prepared = _Field(attr, path, bounded=attr.name not in _UNBOUNDED)
    for sub in attr.sub_attributes:
        # RFC 7644 §3.3: readOnly values in a request SHALL be ignored.
        if sub.mutability == "readOnly":
            continue
        sub_field = _prepare(sub, f"{path}.{sub.name}")
        if attr.name == "members" and sub.name == "type":
            # Clients send "user"/"USER"; §8.7.1 canonical values are "User"/"Group".
            sub_field.canonical_case = {v.lower(): v for v in sub.canonical_values}
        prepared.subs[sub.name.lower()] = sub_field
    return prepared


def _fields(attributes: tuple[Attribute, ...], prefix: str = "") -> dict[str, _Field]:
    return {
        a.name.lower(): _prepare(a, f"{prefix}{a.name}")
        for a in attributes
        if a.mutability != "readOnly"
    }


def _build_plan(resource_type: ResourceType) -> _Plan:
    core_urn = resource_type.schema.id
    core = _fields(resource_type.common) | _fields(resource_type.schema.attributes)
    if "roles" in core:
        core["roles"].json_values = True
    extensions: dict[str, tuple[str, dict[str, _Field]]] = {}
    prefixes: list[tuple[str, str | None]] = [(core_urn.lower(), None)]
    required: list[tuple[str | None, Attribute]] = [
        (None, a) for a in resource_type.schema.attributes if a.required
    ]
    for ext, _ext_required in resource_type.extensions:
        entry = (ext.id, _fields(ext.attributes, f"{ext.id}:"))
        aliases = [alias for alias, target in URN_ALIASES.items() if target == ext.id]
        for urn in (ext.id.lower(), *aliases):
            extensions[urn] = entry
            prefixes.append((urn, ext.id))
        required.extend((ext.id, a) for a in ext.attributes if a.required)
    prefixes.sort(key=lambda item: len(item[0]), reverse=True)
    return _Plan(
        resource_type=resource_type,
        core=core,
        extensions=extensions,
        prefixes=tuple(prefixes),
        required=tuple(required),
        required_extensions=tuple(ext.id for ext, req in resource_type.extensions if req),
        extension_urns=tuple(ext.id for ext, _req in resource_type.extensions),
        known_urns=frozenset({core_urn.lower(), *extensions}),
    )


_PLANS: dict[int, _Plan] = {}


def _plan_for(resource_type: ResourceType) -> _Plan:
    plan = _PLANS.get(id(resource_type))
    if plan is None or plan.resource_type is not resource_type:
        plan = _build_plan(resource_type)
        _PLANS[id(resource_type)] = plan
    return plan


def normalize(
    resource_type: ResourceType,
    body: dict[str, Any],
    *,
    strict_schemas: bool = False,
    partial: bool = False,
) -> dict[str, Any]:
    """Return the canonical stored document for a POST/PUT ``body``.

    Attribute names match case-insensitively (RFC 7643 §2.1). ``schemas``, ``id``,
    ``meta`` and readOnly attributes are dropped (RFC 7644 §3.3), as are nulls,
    empty lists and unknown attributes. Extension attributes are accepted nested
    under their URN, as ``"<urn>:attr"`` top-level keys, bare (``employeeNumber``,
    as ``resolve`` reads it), and under the aliases in ``URN_ALIASES``; dotted keys
    such as ``"name.givenName"`` set one sub-attribute. ``roles`` values that arrive
    JSON-encoded inside a string (Entra ID app-role expressions) are decoded into
    role objects.

    With ``strict_schemas`` the ``schemas`` list must name the core schema and only
    known schemas; by default it is ignored, since Entra ID lists URIs of its own.
    With ``partial`` the body holds some attributes of a resource, not all of it
    (the values a PATCH writes), so required ones may be missing.
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("the request body must be a JSON object holding one resource")
    plan = _plan_for(resource_type)
    if strict_schemas:
        _check_schemas(plan, body.get("schemas"))
    doc: dict[str, Any] = {}
    core = plan.core
    for key, raw in body.items():
        found = core.get(key.lower())
        if found is not None:
            _put(doc, found, raw)
        else:
            _route(plan, doc, key, raw)
    for urn in plan.extension_urns:
        if urn in doc and not doc[urn]:
            del doc[urn]
    if not partial:
        _check_required(plan, doc)
    return doc


def _put(container: dict[str, Any], prepared: _Field, raw: Any) -> None:
    value = _value(prepared, raw)
    if value is None:
        container.pop(prepared.attr.name, None)
    else:
        container[prepared.attr.name] = value


def _route(plan: _Plan, doc: dict[str, Any], key: str, raw: Any) -> None:
    """Place a key that is not a plain core attribute name, or ignore it if unknown."""
    lowered = key.lower()
    extension = plan.extensions.get(lowered)
    if extension is not None:
        urn, fields = extension
        if raw is None:
            return
        if not isinstance(raw, dict):
            raise InvalidValue(
                f"{urn} must be a JSON object holding the extension's attributes, "
                f"not {_describe(raw)}"
            )
        target = doc.setdefault(urn, {})
        for sub_key, sub_raw in raw.items():
            _put_path(fields, target, sub_key, sub_raw)
        return
    for prefix, urn_or_core in plan.prefixes:
        # "urn:…:User:employeeNumber" (RFC 7644 §3.10) and the older Entra ID form
        # "urn:…:User.employeeNumber" both name an attribute of that schema.
        if lowered.startswith(prefix) and len(lowered) > len(prefix) + 1:
            if lowered[len(prefix)] not in ":.":
                continue
            rest = key[len(prefix) + 1 :]
            if urn_or_core is None:
                _put_path(plan.core, doc, rest, raw)
            else:
                _put_path(
                    plan.extensions[urn_or_core.lower()][1],
                    doc.setdefault(urn_or_core, {}),
                    rest,
                    raw,
                )
            return
    name = lowered.partition(".")[0]
    if name in plan.core:
        _put_path(plan.core, doc, key, raw)
        return
    # An extension attribute without its URN resolves as it does in filters and
    # PATCH paths (schema.resolve): "employeeNumber" means the enterprise one.
    for urn in plan.extension_urns:
        fields = plan.extensions[urn.lower()][1]
        if name in fields:
            _put_path(fields, doc.setdefault(urn, {}), key, raw)
            return


def _put_path(fields: dict[str, _Field], container: dict[str, Any], path: str, raw: Any) -> None:
    """Put ``attr`` or ``attr.subAttr`` (any case) into ``container``; ignore unknown names."""
    name, _, sub_name = path.partition(".")
    prepared = fields.get(name.lower())
    if prepared is None:
        return
    if not sub_name:
        _put(container, prepared, raw)
        return
    sub = prepared.subs.get(sub_name.lower())
    # "emails.value" cannot say which email it means; only single-valued complex
    # attributes take a dotted sub-attribute (Entra ID sends "name.givenName").
    if sub is None or prepared.attr.multi_valued:
        return
    current = container.get(prepared.attr.name)
    target: dict[str, Any] = current if isinstance(current, dict) else {}
    _put(target, sub, raw)
    if target:
        container[prepared.attr.name] = target
    else:
        container.pop(prepared.attr.name, None)


def _value(prepared: _Field, raw: Any) -> Any:
    """Return the normalised value of one attribute, or None when it is unassigned."""
    if raw is None:
        return None
    attr = prepared.attr
    if attr.multi_valued:
        items = raw if isinstance(raw, list) else [raw]
        if prepared.json_values:
            items = _decode_json_values(prepared, items)
        if prepared.bounded and len(items) > MAX_VALUES:
            raise InvalidValue(
                f"{prepared.path} has {len(items)} values; at most {MAX_VALUES} are accepted"
            )
        values = []
        for item in items:
            if isinstance(item, list):
                raise InvalidValue(
                    f"{prepared.path} must be a flat list whose values are each "
                    f"{_expected(attr)}; nested lists are not allowed"
                )
            value = _single(prepared, item)
            if value is not None:
                values.append(value)
        if not values:
            return None
        if attr.type == "complex":
            primaries = sum(1 for v in values if v.get("primary") is True)
            if primaries > 1:
                raise InvalidValue(
                    f"{prepared.path} has {primaries} values marked primary; at most one "
                    "value of a multi-valued attribute may be primary (RFC 7643 §2.4)"
                )
        return values
    if isinstance(raw, list):
        if len(raw) > 1:
            raise InvalidValue(
                f"{prepared.path} is single-valued but {len(raw)} values were given; "
                f"send one {_expected(attr)}"
            )
        if not raw:
            return None
        raw = raw[0]
        if raw is None:
            return None
    return _single(prepared, raw)


def _single(prepared: _Field, raw: Any) -> Any:
    """Return one value coerced to the attribute's type (RFC 7643 §2.3)."""
    if raw is None:
        return None
    kind = prepared.attr.type
    if kind == "string" or kind == "reference":
        if isinstance(raw, str):
            _check_length(prepared, raw)
            if prepared.canonical_case:
                return prepared.canonical_case.get(raw.lower(), raw)
            return raw
    elif kind == "complex":
        return _complex(prepared, raw)
    elif kind == "boolean":
        if isinstance(raw, bool):
            return raw
        # Entra ID sends "True"/"False" strings (application-provisioning-config-
        # problem-scim-compatibility, "Requests made to disable users").
        if isinstance(raw, str) and raw.strip().lower() in _BOOLEANS:
            return _BOOLEANS[raw.strip().lower()]
    elif kind == "integer":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str) and len(raw) <= 64 and _INTEGER.fullmatch(raw.strip()):
            return int(raw.strip())
    elif kind == "decimal":
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, str) and len(raw) <= 64 and _DECIMAL.fullmatch(raw.strip()):
            return float(raw.strip())
    elif kind == "dateTime":
        if isinstance(raw, str):
            _check_length(prepared, raw)
            try:
                return normalize_datetime(raw)
            except ValueError:
                pass
    elif kind == "binary" and isinstance(raw, str):
        _check_length(prepared, raw)
        try:
            # RFC 7643 §2.3.6: base64 (RFC 4648 §4); PEM-style line breaks are tolerated.
            base64.b64decode("".join(raw.split()), validate=True)
        except binascii.Error:
            pass
        else:
            return raw
    raise InvalidValue(f"{prepared.path} must be {_expected(prepared.attr)}, not {_describe(raw)}")


def _complex(prepared: _Field, raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, dict):
        value: dict[str, Any] = {}
        subs = prepared.subs
        for key, sub_raw in raw.items():
            sub = subs.get(key.lower())
            if sub is not None:
                sub_value = _value(sub, sub_raw)
                if sub_value is not None:
                    value[sub.attr.name] = sub_value
        return value or None
    if isinstance(raw, (str, int, float, bool)) and "value" in prepared.subs:
        # Entra ID sends the enterprise manager as a bare id string rather than
        # {"value": id} (apache/directory-scimple#1242); a bare scalar means the value.
        return {"value": _single(prepared.subs["value"], raw)}
    raise InvalidValue(
        f"{prepared.path} must be a JSON object with sub-attributes "
        f"{', '.join(s.attr.name for s in prepared.subs.values())}, not {_describe(raw)}"
    )


def _decode_json_values(prepared: _Field, items: list[Any]) -> list[Any]:
    """Expand role values that Entra ID sends JSON-encoded inside a string.

    Entra ID's app-role expressions (e.g. AppRoleAssignmentsComplex) can put a JSON
    array or object of roles into the string ``value`` of one role, or send the
    whole attribute as such a string: ``{"value": "[{\\"value\\":\\"User\\"}]"}``.
    Each decoded object becomes one role; the wrapper's other sub-attributes are
    kept as defaults. ``displayName`` is read as ``display`` in plain role objects
    too: Entra ID's AppRoleAssignmentsComplex POST labels roles so (customize-
    application-attributes, "Provisioning a role to a SCIM app"), and a role must
    read the same whether it came in a POST or, JSON-encoded, in a PATCH.
    """
    expanded: list[Any] = []
    for item in items:
        if isinstance(item, str):
            decoded = _json_objects(prepared, item)
            expanded.extend(decoded if decoded is not None else [item])
            continue
        if isinstance(item, dict):
            value_key = next((k for k in item if k.lower() == "value"), None)
            encoded = item.get(value_key) if value_key is not None else None
            if isinstance(encoded, str):
                decoded = _json_objects(prepared, encoded)
                if decoded is not None:
                    defaults = {k: v for k, v in item.items() if k != value_key}
                    if len(decoded) > 1:
                        defaults = {k: v for k, v in defaults.items() if k.lower() != "primary"}
                    defaults = _display_label(defaults)
                    expanded.extend({**defaults, **_display_label(obj)} for obj in decoded)
                    continue
            item = _display_label(item)
        expanded.append(item)
    return expanded


def _display_label(role: dict[str, Any]) -> dict[str, Any]:
    """Return ``role`` with a ``displayName`` key read as ``display`` (unless it has one)."""
    label_key = next((k for k in role if k.lower() == "displayname"), None)
    if label_key is None or any(k.lower() == "display" for k in role):
        return role
    renamed = {k: v for k, v in role.items() if k != label_key}
    renamed["display"] = role[label_key]
    return renamed


def _json_objects(prepared: _Field, text: str) -> list[dict[str, Any]] | None:
    """Return the role objects JSON-encoded in ``text``, or None if it holds none."""
    stripped = text.strip()
    if not stripped.startswith(("[", "{")):
        return None
    _check_length(prepared, stripped)
    try:
        decoded = json.loads(stripped)
    except ValueError:
        return None
    objects = decoded if isinstance(decoded, list) else [decoded]
    if not objects or not all(isinstance(obj, dict) for obj in objects):
        return None
    return objects


def _check_length(prepared: _Field, text: str) -> None:
    if len(text) > MAX_STRING_LENGTH:
        raise InvalidValue(
            f"{prepared.path} is {len(text)} characters long; "
            f"at most {MAX_STRING_LENGTH} are accepted"
        )


def _check_required(plan: _Plan, doc: dict[str, Any]) -> None:
    # RFC 7643 §2.2 / §4.1.1: e.g. "Each User MUST include a non-empty userName value".
    # Required sub-attributes are not enforced: Entra ID sends manager with no $ref.
    for urn in plan.required_extensions:
        if urn not in doc:
            raise InvalidValue(f"the {urn} extension is required for {plan.resource_type.name}")
    for container_urn, attr in plan.required:
        container = doc if container_urn is None else doc.get(container_urn, {})
        value = container.get(attr.name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InvalidValue(
                f"{attr.name} is required: every {plan.resource_type.name} needs a "
                f"non-empty {attr.name}"
            )


def _check_schemas(plan: _Plan, schemas: Any) -> None:
    # RFC 7643 §3: "schemas" is REQUIRED and lists the core schema and extensions used.
    if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
        raise InvalidValue('"schemas" must be a list of schema URIs (RFC 7643 §3)')
    lowered = {s.lower() for s in schemas}
    core_urn = plan.resource_type.schema.id
    if core_urn.lower() not in lowered:
        raise InvalidValue(f'"schemas" must include {core_urn}')
    unknown = sorted(s for s in schemas if s.lower() not in plan.known_urns)
    if unknown:
        raise InvalidValue(f'"schemas" names unknown schema(s): {", ".join(unknown)}')


def _expected(attr: Attribute) -> str:
    return {
        "string": "a string",
        "reference": "a string (a URI reference)",
        "boolean": "a boolean (true or false)",
        "integer": "an integer",
        "decimal": "a number",
        "dateTime": 'a dateTime such as "2011-05-13T04:42:34Z"',
        "binary": "a base64-encoded string",
        "complex": "a JSON object",
    }[attr.type]


def _describe(raw: Any) -> str:
    if isinstance(raw, bool):
        return f"the boolean {'true' if raw else 'false'}"
    if isinstance(raw, (int, float)):
        return f"the number {raw}"
    if isinstance(raw, str):
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        return f"the string {json.dumps(shown)}"
    if isinstance(raw, list):
        return "a list"
    if isinstance(raw, dict):
        return "a JSON object"
    return type(raw).__name__
