"""Users over HTTP, in process, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from scimitar.server.passwords import verify_password
from scimitar.server.tables import users
from scimtest import Scim

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def test_create_returns_the_resource_with_meta_location_and_etag(scim: Scim) -> None:
    response = scim.post(
        "/Users",
        {
            "schemas": [USER, ENTERPRISE],
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
            "active": True,
            ENTERPRISE: {"employeeNumber": "701984"},
        },
    )
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["userName"] == "bjensen@example.com"
    assert body["schemas"] == [USER, ENTERPRISE]
    assert body[ENTERPRISE]["employeeNumber"] == "701984"
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["location"] == f"http://testserver/scim/v2/Users/{body['id']}"
    assert response.headers["location"] == body["meta"]["location"]
    assert response.headers["etag"] == body["meta"]["version"]
    fetched = scim.get(f"/Users/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


def test_user_name_is_unique_case_insensitively(scim: Scim) -> None:
    scim.create_user("Alice@Example.com")
    response = scim.post("/Users", {"schemas": [USER], "userName": "alice@example.COM"})
    assert response.status_code == 409
    body = response.json()
    assert body["scimType"] == "uniqueness"
    assert body["status"] == "409"
    assert "userName" in body["detail"]


def test_filter_on_user_name_is_case_insensitive_and_paginates(scim: Scim) -> None:
    for i in range(5):
        scim.create_user(f"user{i}@example.com", displayName=f"User {i}")
    found = scim.get("/Users", params={"filter": 'userName eq "USER3@example.com"'}).json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["userName"] == "user3@example.com"
    page = scim.get("/Users", params={"startIndex": 2, "count": 2, "sortBy": "userName"}).json()
    assert page["totalResults"] == 5
    assert page["startIndex"] == 2
    assert page["itemsPerPage"] == 2
    assert [r["userName"] for r in page["Resources"]] == ["user1@example.com", "user2@example.com"]
    descending = scim.get("/Users", params={"sortBy": "userName", "sortOrder": "descending"})
    assert descending.json()["Resources"][0]["userName"] == "user4@example.com"


def test_entra_probe_gets_an_empty_list_response(scim: Scim) -> None:
    # Entra's Test Connection: a filter on a random GUID must answer 200 and nothing.
    response = scim.get(
        "/Users", params={"filter": 'userName eq "4fb0b5a2-6a1f-4b0c-8f5e-62cfd9d8b0e4"'}
    )
    assert response.status_code == 200
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_attributes_and_excluded_attributes(scim: Scim) -> None:
    user = scim.create_user("proj@example.com", displayName="Pro J", title="Boss")
    only = scim.get(f"/Users/{user['id']}", params={"attributes": "displayName"}).json()
    assert set(only) == {"schemas", "id", "displayName"}
    without = scim.get(f"/Users/{user['id']}", params={"excludedAttributes": "title"}).json()
    assert "title" not in without
    assert without["displayName"] == "Pro J"


def test_put_replaces_and_bumps_the_version(scim: Scim) -> None:
    user = scim.create_user("put@example.com", title="Engineer", displayName="Put")
    response = scim.put(
        f"/Users/{user['id']}", {"schemas": [USER], "userName": "put@example.com", "title": "Lead"}
    )
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["title"] == "Lead"
    assert "displayName" not in replaced  # PUT replaces: what was not sent is gone
    assert replaced["meta"]["version"] != user["meta"]["version"]
    assert replaced["meta"]["created"] == user["meta"]["created"]


def test_patch_replace_answers_200_with_the_user(scim: Scim) -> None:
    user = scim.create_user("patch@example.com", active=True)
    response = scim.patch(
        f"/Users/{user['id']}",
        patch_body(
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "add", "path": 'emails[type eq "work"].value', "value": "p@example.com"},
        ),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["active"] is False
    assert body["emails"] == [{"type": "work", "value": "p@example.com"}]
    inactive = scim.get("/Users", params={"filter": "active eq false"}).json()
    assert [r["id"] for r in inactive["Resources"]] == [user["id"]]


def test_patch_is_atomic(scim: Scim) -> None:
    user = scim.create_user("atomic@example.com", title="Before")
    response = scim.patch(
        f"/Users/{user['id']}",
        patch_body(
            {"op": "replace", "path": "title", "value": "After"},
            {"op": "replace", "path": "noSuchAttribute.really", "value": "x"},
        ),
    )
    assert response.status_code == 400
    assert scim.get(f"/Users/{user['id']}").json()["title"] == "Before"


def test_if_match_and_if_none_match(scim: Scim) -> None:
    user = scim.create_user("etag@example.com")
    version = user["meta"]["version"]
    not_modified = scim.get(f"/Users/{user['id']}", headers={"If-None-Match": version})
    assert not_modified.status_code == 304
    stale = scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "path": "title", "value": "x"}),
        headers={"If-Match": 'W/"999"'},
    )
    assert stale.status_code == 412
    fresh = scim.patch(
        f"/Users/{user['id']}",
        patch_body({"op": "replace", "path": "title", "value": "x"}),
        headers={"If-Match": version},
    )
    assert fresh.status_code == 200


def test_delete_then_get_is_404(scim: Scim) -> None:
    user = scim.create_user("gone@example.com")
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    missing = scim.get(f"/Users/{user['id']}")
    assert missing.status_code == 404
    assert missing.json()["status"] == "404"
    assert scim.delete(f"/Users/{user['id']}").status_code == 404


def test_missing_user_name_is_invalid_value(scim: Scim) -> None:
    response = scim.post("/Users", {"schemas": [USER], "displayName": "No Name"})
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert "userName" in response.json()["detail"]


def test_password_is_stored_hashed_and_never_returned(scim: Scim, engine: Engine) -> None:
    user = scim.create_user("pw@example.com", password="t1meMa$heen")
    assert "password" not in user
    with engine.connect() as conn:
        doc = conn.execute(select(users.c.doc).where(users.c.id == user["id"])).scalar_one()
    assert doc["password"].startswith("$scrypt$")
    assert verify_password("t1meMa$heen", doc["password"])
    # A PATCH of something else keeps the stored hash as it is.
    scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "path": "title", "value": "x"}))
    with engine.connect() as conn:
        after = conn.execute(select(users.c.doc).where(users.c.id == user["id"])).scalar_one()
    assert after["password"] == doc["password"]


def test_indexed_eq_filters_page_and_count_like_any_other(scim: Scim) -> None:
    # userName/externalId/id eq take a prepared index lookup: same answers as the
    # general filter path, paging and totals included.
    for n in range(3):
        scim.create_user(f"shared{n}@example.com", externalId="same-ext")
    one_of_three = scim.get(
        "/Users", params={"filter": 'externalId eq "same-ext"', "count": 1, "startIndex": 2}
    ).json()
    assert one_of_three["totalResults"] == 3
    assert len(one_of_three["Resources"]) == 1
    beyond = scim.get(
        "/Users", params={"filter": 'userName eq "SHARED1@example.com"', "startIndex": 2}
    ).json()
    assert (beyond["totalResults"], beyond["Resources"]) == (1, [])
    case_exact = scim.get("/Users", params={"filter": 'externalId eq "SAME-EXT"'}).json()
    assert case_exact["totalResults"] == 0  # externalId is caseExact (RFC 7643 §3.1)
    user_id = one_of_three["Resources"][0]["id"]
    by_id = scim.get("/Users", params={"filter": f'id eq "{user_id}"'}).json()
    assert [r["id"] for r in by_id["Resources"]] == [user_id]
