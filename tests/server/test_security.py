"""Keys, tenants, permissions, role policy and hostile input."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient
from test_users import USER, patch_body

from scimitar.server.store.connections import transaction
from scimitar.server.store.db import parse_document
from scimitar.server.tables import group_members, users
from scimitar.server.tenants import list_keys, revoke_key
from scimtest import Scim, new_tenant


def test_requests_without_a_valid_key_are_401(app_client: TestClient, scim: Scim) -> None:
    assert app_client.get("/scim/v2/Users").status_code == 401
    bad = app_client.get("/scim/v2/Users", headers={"Authorization": "Bearer scimitar_00_nope"})
    assert bad.status_code == 401
    assert bad.json()["status"] == "401"
    assert "scimitar_00_nope" not in bad.text
    assert scim.get("/Users").status_code == 200


def _revoke(engine: Engine, scim: Scim) -> str:
    key_id = next(k.key_id for k in list_keys(engine) if k.tenant_name == scim.tenant)
    revoke_key(engine, key_id)
    return key_id


def test_a_revoked_key_stops_working_at_once(engine: Engine, scim: Scim) -> None:
    assert scim.get("/Users").status_code == 200
    key_id = _revoke(engine, scim)
    refused = scim.get("/Users")
    assert refused.status_code == 401
    assert f"API key {key_id} has been revoked" in refused.json()["detail"]


# On PostgreSQL a worker remembers a key it checked, and checks it again inside each
# request's first statement: every shape of request must still refuse a revoked key,
# and write nothing. Each case first uses the key, so the worker knows it.
_AFTER_REVOCATION = {
    "get by id": lambda scim, ids: scim.get(f"/Users/{ids['user']}"),
    "get of an unknown id": lambda scim, ids: scim.get("/Users/no-such-id"),
    "filter": lambda scim, ids: scim.get(
        "/Users", params={"filter": 'userName eq "revoked.user@example.com"'}
    ),
    "list": lambda scim, ids: scim.get("/Users", params={"filter": 'userName sw "revoked"'}),
    "create": lambda scim, ids: scim.post(
        "/Users", {"schemas": [USER], "userName": "written.after.revocation@example.com"}
    ),
    "patch": lambda scim, ids: scim.patch(
        f"/Users/{ids['user']}",
        patch_body({"op": "replace", "path": "displayName", "value": "Changed"}),
    ),
    "malformed patch": lambda scim, ids: scim.patch(f"/Users/{ids['user']}", {"nope": 1}),
    "member add": lambda scim, ids: scim.patch(
        f"/Groups/{ids['group']}",
        patch_body({"op": "add", "path": "members", "value": [{"value": ids["user"]}]}),
    ),
    "delete": lambda scim, ids: scim.delete(f"/Users/{ids['user']}"),
    "bulk": lambda scim, ids: scim.post(
        "/Bulk",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "b1",
                    "data": {"schemas": [USER], "userName": "written.after.revocation@example.com"},
                }
            ],
        },
    ),
}


@pytest.mark.parametrize("request_shape", list(_AFTER_REVOCATION))
def test_every_request_refuses_a_revoked_key_and_writes_nothing(
    app_client: TestClient, engine: Engine, request_shape: str
) -> None:
    tenant, token = new_tenant(engine)
    scim = Scim(app_client, token, tenant)
    user = scim.create_user("revoked.user@example.com", displayName="Before")
    group = scim.create_group("Revoked team")
    ids = {"user": user["id"], "group": group["id"]}
    assert scim.get(f"/Users/{user['id']}").status_code == 200
    _revoke(engine, scim)

    refused = _AFTER_REVOCATION[request_shape](scim, ids)

    assert refused.status_code == 401, refused.text
    assert "has been revoked" in refused.json()["detail"]
    with transaction(engine, write=False) as db:
        names = [row[0] for row in db.rows(select(users.c.user_name))]
        stored = db.first(select(users.c.doc).where(users.c.id == user["id"]))
        membership = db.first(
            select(func.count())
            .select_from(group_members)
            .where(group_members.c.group_id == group["id"])
        )
    assert "written.after.revocation@example.com" not in names
    assert stored is not None
    assert parse_document(stored[0])["displayName"] == "Before"
    assert membership == (0,)


def test_tenants_cannot_see_each_other(app_client: TestClient, engine: Engine, scim: Scim) -> None:
    _, other_token = new_tenant(engine)
    other = Scim(app_client, other_token, "other")
    mine = scim.create_user("secret@example.com")
    group = scim.create_group("Mine", [mine["id"]])
    assert other.get(f"/Users/{mine['id']}").status_code == 404
    assert other.get(f"/Groups/{group['id']}").status_code == 404
    assert other.delete(f"/Users/{mine['id']}").status_code == 404
    listing = other.get("/Users", params={"filter": 'userName eq "secret@example.com"'}).json()
    assert listing["totalResults"] == 0
    assert other.get("/Users").json()["totalResults"] == 0
    # The same userName is free in another tenant.
    other.create_user("secret@example.com")
    # Another tenant's user cannot be added as a member.
    theirs = other.create_group("Theirs")
    response = other.patch(
        f"/Groups/{theirs['id']}",
        patch_body({"op": "add", "path": "members", "value": [{"value": mine["id"]}]}),
    )
    assert response.status_code == 400


def test_a_key_lacking_lite_admin_is_403_naming_it(app_client: TestClient, engine: Engine) -> None:
    _, token = new_tenant(engine, permissions=frozenset({"integration-user"}))
    response = app_client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "Lite Admin" in response.json()["detail"]


def test_clarizen_one_policy_rejects_invalid_roles(app_client: TestClient, engine: Engine) -> None:
    _, token = new_tenant(engine, role_policy="clarizen-one")
    scim = Scim(app_client, token, "clarizen")
    ok = scim.create_user("worker@example.com", roles=[{"value": "User", "primary": True}])
    for role in ["Administrator", "Superuser", "Time & Expense user"]:
        created = scim.post(
            "/Users",
            {
                "schemas": [USER],
                "userName": f"x{len(role)}@example.com",
                "roles": [{"value": role}],
            },
        )
        assert created.status_code == 400
        assert created.json()["scimType"] == "invalidValue"
        assert role in created.json()["detail"]
        put = scim.put(
            f"/Users/{ok['id']}",
            {"schemas": [USER], "userName": "worker@example.com", "roles": [{"value": role}]},
        )
        assert put.status_code == 400
        patched = scim.patch(
            f"/Users/{ok['id']}",
            patch_body({"op": "add", "path": "roles", "value": [{"value": role}]}),
        )
        assert patched.status_code == 400
        assert role in patched.json()["detail"]
    assert scim.get(f"/Users/{ok['id']}").json()["roles"] == [{"value": "User", "primary": True}]


def test_malformed_json_is_invalid_syntax(scim: Scim) -> None:
    response = scim.request(
        "POST",
        "/Users",
        content=b'{"userName": ',
        headers={"Content-Type": "application/scim+json"},
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"
    assert scim.get("/Users").json()["totalResults"] == 0


def test_a_body_that_is_not_an_object_is_rejected(scim: Scim) -> None:
    response = scim.post("/Users", ["not", "an", "object"])
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


def test_oversized_body_is_413(scim: Scim) -> None:
    huge = b'{"userName": "' + b"x" * (11 * 1024 * 1024) + b'"}'
    response = scim.request("POST", "/Users", content=huge)
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_bad_filter_reports_the_position(scim: Scim) -> None:
    response = scim.get("/Users", params={"filter": 'userName eq "unterminated'})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"
    assert "position" in response.json()["detail"]


def test_unknown_routes_and_methods_answer_scim_errors(scim: Scim) -> None:
    missing = scim.get("/Nothing")
    assert missing.status_code == 404
    assert missing.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    wrong = scim.request("PATCH", "/Users")
    assert wrong.status_code == 405
    assert wrong.json()["status"] == "405"


def test_wrong_types_are_invalid_value_and_store_nothing(scim: Scim) -> None:
    response = scim.post(
        "/Users", {"schemas": [USER], "userName": "typed@example.com", "active": "perhaps"}
    )
    assert response.status_code == 400
    assert "active" in response.json()["detail"]
    listing = scim.get("/Users", params={"filter": 'userName eq "typed@example.com"'}).json()
    assert listing["totalResults"] == 0
