"""Attribute characteristics (RFC 7643 §2, §7) and name resolution against a schema.

Every decision about a value (its type, whether case matters when comparing it,
whether a client may write it, whether it is returned) is read from an
``Attribute`` here rather than hard-coded where it is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from scimitar.scim.ast import AttrPath

AttrType = Literal[
    "string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary"
]
Mutability = Literal["readOnly", "readWrite", "immutable", "writeOnly"]
Returned = Literal["always", "never", "default", "request"]
Uniqueness = Literal["none", "server", "global"]


@dataclass(frozen=True, slots=True)
class Attribute:
    """One attribute definition with its RFC 7643 §7 characteristics."""

    name: str
    type: AttrType = "string"
    multi_valued: bool = False
    description: str = ""
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = "readWrite"
    returned: Returned = "default"
    uniqueness: Uniqueness = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    _by_lower: dict[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for sub in self.sub_attributes:
            self._by_lower[sub.name.lower()] = sub

    def sub_attribute(self, name: str) -> Attribute | None:
        """Return the sub-attribute called ``name`` (case-insensitive, RFC 7643 §2.1)."""
        return self._by_lower.get(name.lower())

    def to_representation(self) -> dict[str, Any]:
        """Return the attribute as ``/Schemas`` shows it (RFC 7643 §7)."""
        rep: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.canonical_values:
            rep["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            rep["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            rep["subAttributes"] = [sub.to_representation() for sub in self.sub_attributes]
        return rep


# Compared and hashed by identity: there is one object per schema, and hashing
# every attribute definition made each cache lookup keyed on it expensive.
@dataclass(frozen=True, slots=True, eq=False)
class Schema:
    """A schema (core or extension) identified by its URN."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]
    _by_lower: dict[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for attr in self.attributes:
            self._by_lower[attr.name.lower()] = attr

    def attribute(self, name: str) -> Attribute | None:
        """Return the top-level attribute called ``name`` (case-insensitive)."""
        return self._by_lower.get(name.lower())

    def to_representation(self, base_url: str = "") -> dict[str, Any]:
        """Return the schema resource as ``/Schemas/{id}`` serves it."""
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_representation() for a in self.attributes],
            "meta": {
                "resourceType": "Schema",
                "location": f"{base_url}/Schemas/{self.id}",
            },
        }


# Compared and hashed by identity: there is one object per schema, and hashing
# every attribute definition made each cache lookup keyed on it expensive.
@dataclass(frozen=True, slots=True, eq=False)
class ResourceType:
    """A resource type (RFC 7643 §6): its endpoint, core schema and extensions."""

    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[tuple[Schema, bool], ...] = ()  # (schema, required)
    # RFC 7643 §3.1 common attributes (id, externalId, meta): part of every resource
    # but of no schema, so /Schemas does not list them; resolve() consults them.
    common: tuple[Attribute, ...] = ()
    _common_by_lower: dict[str, Attribute] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for attr in self.common:
            self._common_by_lower[attr.name.lower()] = attr

    def common_attribute(self, name: str) -> Attribute | None:
        """Return the common attribute called ``name`` (case-insensitive), if any."""
        return self._common_by_lower.get(name.lower())

    def schema_for_urn(self, urn: str) -> Schema | None:
        """Return the core or extension schema whose URN is ``urn`` (case-insensitive)."""
        lowered = urn.lower()
        if self.schema.id.lower() == lowered:
            return self.schema
        for ext, _required in self.extensions:
            if ext.id.lower() == lowered:
                return ext
        return None

    def to_representation(self, base_url: str = "") -> dict[str, Any]:
        """Return the resource type as ``/ResourceTypes/{name}`` serves it."""
        rep: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.name,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/ResourceTypes/{self.name}",
            },
        }
        if self.extensions:
            rep["schemaExtensions"] = [
                {"schema": ext.id, "required": required} for ext, required in self.extensions
            ]
        return rep


@dataclass(frozen=True, slots=True)
class Resolved:
    """An attribute path resolved against a resource type.

    ``schema`` is the core schema or the extension that holds ``attribute``; ``sub``
    is the sub-attribute for ``name.givenName``-style paths. ``in_extension`` tells
    where the value lives in a resource document: extension values are nested under
    their schema URN (RFC 7643 §3.3), core values sit at the top.
    """

    schema: Schema
    attribute: Attribute
    sub: Attribute | None = None
    in_extension: bool = False

    @property
    def leaf(self) -> Attribute:
        """The attribute whose value a comparison looks at."""
        return self.sub or self.attribute


class UnknownAttribute(LookupError):
    """A path names no attribute of the resource type; callers map it to their scimType."""


def resolve(resource_type: ResourceType, path: AttrPath) -> Resolved:
    """Resolve ``path`` (URN-prefixed or not, any case) against ``resource_type``.

    Without a URN the core schema (and the common attributes ``id``, ``externalId``,
    ``meta``) is searched first, then each extension, so that ``employeeNumber`` finds
    the enterprise extension's attribute as clients expect.
    A ``name.sub`` whose ``name`` is a simple attribute, or a sub-attribute that does
    not exist, raises ``UnknownAttribute``.
    """
    candidates: list[tuple[Schema, bool]]
    if path.urn is not None:
        schema = resource_type.schema_for_urn(path.urn)
        if schema is None:
            raise UnknownAttribute(f"unknown schema URN {path.urn!r}")
        candidates = [(schema, schema is not resource_type.schema)]
    else:
        candidates = [(resource_type.schema, False)]
        candidates += [(ext, True) for ext, _required in resource_type.extensions]
    for schema, in_extension in candidates:
        attribute = schema.attribute(path.attr)
        if attribute is None and not in_extension:
            # Common attributes sit at the top level beside the core schema's (§3.1).
            attribute = resource_type.common_attribute(path.attr)
        if attribute is None:
            continue
        sub = None
        if path.sub_attr is not None:
            sub = attribute.sub_attribute(path.sub_attr)
            if sub is None:
                raise UnknownAttribute(f"{attribute.name!r} has no sub-attribute {path.sub_attr!r}")
        return Resolved(schema, attribute, sub, in_extension)
    raise UnknownAttribute(f"unknown attribute {str(path)!r}")
