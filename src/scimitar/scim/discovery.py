"""Discovery bodies (RFC 7644 §4, RFC 7643 §5-§7) and the ListResponse every list uses."""

from __future__ import annotations

from typing import Any

from scimitar.scim.resources import RESOURCE_TYPES, SCHEMAS
from scimitar.scim.schema import ResourceType, Schema

LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SERVICE_PROVIDER_CONFIG_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    """Return a ListResponse (RFC 7644 §3.4.2) holding one page of ``resources``.

    ``Resources`` is present even when empty: Entra ID's examples show it so and
    some clients index it without checking.
    """
    return {
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def service_provider_config(
    *,
    base_url: str,
    max_operations: int,
    max_payload_size: int,
    max_results: int,
    documentation_uri: str | None = None,
) -> dict[str, Any]:
    """Return ``/ServiceProviderConfig`` (RFC 7643 §5, example §8.5) as this server behaves.

    ``max_payload_size`` is in bytes; ``max_results`` caps one filtered page.
    ``documentationUri`` is left out rather than sent as null when not given,
    since Entra ID asks servers not to send nulls.
    """
    config: dict[str, Any] = {"schemas": [SERVICE_PROVIDER_CONFIG_URN]}
    if documentation_uri:
        config["documentationUri"] = documentation_uri
    scheme: dict[str, Any] = {
        "type": "oauthbearertoken",
        "name": "Bearer API key",
        "description": "An API key created with `scimitar token create`, sent as "
        "'Authorization: Bearer <key>' (the RFC 6750 bearer token scheme).",
        "specUri": "https://www.rfc-editor.org/info/rfc6750",
        "primary": True,
    }
    config.update(
        {
            "patch": {"supported": True},
            "bulk": {
                "supported": True,
                "maxOperations": max_operations,
                "maxPayloadSize": max_payload_size,
            },
            "filter": {"supported": True, "maxResults": max_results},
            "changePassword": {"supported": False},
            "sort": {"supported": True},
            "etag": {"supported": True},
            "authenticationSchemes": [scheme],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": f"{base_url}/ServiceProviderConfig",
            },
        }
    )
    return config


def schemas_list_response(base_url: str) -> dict[str, Any]:
    """Return ``/Schemas``: the User, Group and EnterpriseUser schemas (RFC 7644 §4)."""
    resources = [schema.to_representation(base_url) for schema in SCHEMAS]
    return list_response(resources, len(resources), 1)


def resource_types_list_response(base_url: str) -> dict[str, Any]:
    """Return ``/ResourceTypes``: User (with the enterprise extension) and Group."""
    resources = [resource_type.to_representation(base_url) for resource_type in RESOURCE_TYPES]
    return list_response(resources, len(resources), 1)


def find_schema(schema_id: str) -> Schema | None:
    """Return the schema served at ``/Schemas/{schema_id}`` (URN compared case-insensitively)."""
    lowered = schema_id.lower()
    return next((s for s in SCHEMAS if s.id.lower() == lowered), None)


def find_resource_type(name: str) -> ResourceType | None:
    """Return the resource type served at ``/ResourceTypes/{name}`` (case-insensitive)."""
    lowered = name.lower()
    return next((rt for rt in RESOURCE_TYPES if rt.name.lower() == lowered), None)
