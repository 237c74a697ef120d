"""Shape stored resources into the SCIM JSON that clients receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scimitar.scim.ast import AttrPath
from scimitar.scim.projection import project
from scimitar.scim.schema import ResourceType
from scimitar.server.store.resources import StoredResource


def etag(version: int) -> str:
    """Return the weak ETag of a resource version (RFC 7644 §3.14)."""
    return f'W/"{version}"'


def timestamp(value: datetime) -> str:
    """Format a UTC datetime as SCIM's xsd:dateTime, to the millisecond, with a ``Z``."""
    # isoformat is several times faster than strftime (two per resource answered); its
    # first 23 characters are the date and time, before any offset.
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def to_scim(
    resource_type: ResourceType, resource: StoredResource, location_base: str
) -> dict[str, Any]:
    """Return the full SCIM representation (before ``attributes`` projection)."""
    schemas = [resource_type.schema.id]
    for extension, _required in resource_type.extensions:
        if extension.id in resource.doc:
            schemas.append(extension.id)
    body: dict[str, Any] = {"schemas": schemas, "id": resource.id, **resource.doc}
    if resource.members is not None:
        body["members"] = [
            {**member, "$ref": f"{location_base}/{member['type']}s/{member['value']}"}
            for member in resource.members
        ]
    if resource.groups is not None and resource.groups:
        body["groups"] = [
            {**group, "$ref": f"{location_base}/Groups/{group['value']}"}
            for group in resource.groups
        ]
    body["meta"] = {
        "resourceType": resource_type.name,
        "created": timestamp(resource.created),
        "lastModified": timestamp(resource.last_modified),
        "location": f"{location_base}{resource_type.endpoint}/{resource.id}",
        "version": etag(resource.version),
    }
    return body


def render(
    resource_type: ResourceType,
    resource: StoredResource,
    location_base: str,
    attributes: tuple[AttrPath, ...] = (),
    excluded: tuple[AttrPath, ...] = (),
) -> dict[str, Any]:
    """Return the SCIM representation with ``attributes``/``excludedAttributes`` applied."""
    return project(
        resource_type, to_scim(resource_type, resource, location_base), attributes, excluded
    )
