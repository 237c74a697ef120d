"""Discovery bodies (RFC 7643 §5, §8.5; RFC 7644 §4) and ListResponse."""

from __future__ import annotations

from typing import Any

from scimitar.scim.discovery import (
    LIST_RESPONSE_URN,
    find_resource_type,
    find_schema,
    list_response,
    resource_types_list_response,
    schemas_list_response,
    service_provider_config,
)
from scimitar.scim.resources import ENTERPRISE_USER_URN, GROUP, GROUP_URN, USER, USER_URN

BASE = "https://scim.example/scim/v2"


def _config(**extra: str) -> dict[str, Any]:
    return service_provider_config(
        base_url=BASE, max_operations=1000, max_payload_size=1_048_576, max_results=200, **extra
    )


def test_service_provider_config_tells_what_this_server_supports() -> None:
    config = _config()
    assert config["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert config["patch"] == {"supported": True}
    assert config["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["changePassword"] == {"supported": False}
    assert config["sort"] == {"supported": True}
    assert config["etag"] == {"supported": True}
    assert config["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": f"{BASE}/ServiceProviderConfig",
    }


def test_service_provider_config_has_one_bearer_scheme() -> None:
    schemes = _config()["authenticationSchemes"]
    assert isinstance(schemes, list)
    (scheme,) = schemes
    assert scheme["type"] == "oauthbearertoken"
    assert scheme["primary"] is True
    assert scheme["specUri"] == "https://www.rfc-editor.org/info/rfc6750"
    assert scheme["name"]
    assert scheme["description"]


def test_documentation_uri_is_omitted_rather_than_null() -> None:
    assert "documentationUri" not in _config()
    assert _config(documentation_uri="https://docs.example/scim")["documentationUri"] == (
        "https://docs.example/scim"
    )
    assert None not in _config().values()


def test_list_response_shape() -> None:
    page = [{"id": "a"}, {"id": "b"}]
    assert list_response(page, 12, 3) == {
        "schemas": [LIST_RESPONSE_URN],
        "totalResults": 12,
        "startIndex": 3,
        "itemsPerPage": 2,
        "Resources": page,
    }


def test_empty_list_response_still_has_resources() -> None:
    # Entra ID's "Get User by query - Zero results" example carries "Resources": [].
    empty = list_response([], 0, 1)
    assert empty["Resources"] == []
    assert empty["itemsPerPage"] == 0


def test_schemas_list_response() -> None:
    body = schemas_list_response(BASE)
    assert body["schemas"] == [LIST_RESPONSE_URN]
    assert body["totalResults"] == 3
    ids = [resource["id"] for resource in body["Resources"]]
    assert ids == [USER_URN, GROUP_URN, ENTERPRISE_USER_URN]
    user = body["Resources"][0]
    assert user["meta"]["location"] == f"{BASE}/Schemas/{USER_URN}"
    user_name = next(a for a in user["attributes"] if a["name"] == "userName")
    assert user_name["uniqueness"] == "server"


def test_resource_types_list_response() -> None:
    body = resource_types_list_response(BASE)
    assert body["totalResults"] == 2
    user, group = body["Resources"]
    assert (user["name"], user["endpoint"], user["schema"]) == ("User", "/Users", USER_URN)
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE_USER_URN, "required": False}]
    assert (group["name"], group["endpoint"]) == ("Group", "/Groups")
    assert "schemaExtensions" not in group
    assert group["meta"]["location"] == f"{BASE}/ResourceTypes/Group"


def test_find_schema_and_resource_type_ignore_case() -> None:
    found = find_schema(ENTERPRISE_USER_URN.upper())
    assert found is not None
    assert found.id == ENTERPRISE_USER_URN
    assert find_schema("urn:example:nope") is None
    assert find_resource_type("user") is USER
    assert find_resource_type("Group") is GROUP
    assert find_resource_type("Devices") is None
