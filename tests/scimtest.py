"""Test helpers for the SCIM server: a client bound to one tenant's key.

Kept out of ``conftest.py`` so test modules can import it by a name no other
folder's conftest shadows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from starlette.testclient import TestClient

from scimitar.server.tenants import create_key, create_tenant


class Scim:
    """A client for one fresh tenant: ``scim.get("/Users")`` etc. carry its key."""

    def __init__(self, client: TestClient, token: str, tenant: str) -> None:
        self.client = client
        self.token = token
        self.tenant = tenant
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.request(method, f"/scim/v2{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("POST", path, json=body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PUT", path, json=body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def create_user(self, user_name: str, **attributes: Any) -> dict[str, Any]:
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}
        response = self.post("/Users", {**body, **attributes})
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def create_group(self, display_name: str, member_ids: Sequence[str] = ()) -> dict[str, Any]:
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": display_name,
            "members": [{"value": member_id} for member_id in member_ids],
        }
        response = self.post("/Groups", body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created


def new_tenant(
    engine: Engine,
    role_policy: str | None = None,
    permissions: frozenset[str] = frozenset({"integration-user", "lite-admin"}),
) -> tuple[str, str]:
    """Create a uniquely named tenant and a key for it; return (tenant name, key)."""
    name = f"tenant-{uuid.uuid4().hex[:10]}"
    create_tenant(engine, name, role_policy)
    return name, create_key(engine, name, permissions).secret
