"""Bulk, POST .search, and the discovery endpoints."""

from __future__ import annotations

from starlette.testclient import TestClient
from test_users import USER

from scimtest import Scim

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_bulk_resolves_bulk_ids_in_any_order(scim: Scim) -> None:
    response = scim.post(
        "/Bulk",
        {
            "schemas": [BULK],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "team",
                    "data": {
                        "schemas": [GROUP],
                        "displayName": "Bulk Team",
                        "members": [{"type": "User", "value": "bulkId:alice"}],
                    },
                },
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "alice",
                    "data": {"schemas": [USER], "userName": "alice@bulk.example"},
                },
            ],
        },
    )
    assert response.status_code == 200
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "201"]
    group = scim.get(results[0]["location"].split("/scim/v2")[1]).json()
    user_id = results[1]["location"].rsplit("/", 1)[1]
    assert [m["value"] for m in group["members"]] == [user_id]


def test_bulk_reports_each_failure_and_stops_after_fail_on_errors(scim: Scim) -> None:
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"u{i}",
            "data": {"schemas": [USER], "userName": "same@bulk.example"},
        }
        for i in range(4)
    ]
    response = scim.post("/Bulk", {"schemas": [BULK], "failOnErrors": 2, "Operations": operations})
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["201", "409", "409"]
    assert results[1]["response"]["scimType"] == "uniqueness"


def test_bulk_patch_and_delete_with_version(scim: Scim) -> None:
    user = scim.create_user("bulk-edit@example.com")
    response = scim.post(
        "/Bulk",
        {
            "schemas": [BULK],
            "Operations": [
                {
                    "method": "PATCH",
                    "path": f"/Users/{user['id']}",
                    "version": user["meta"]["version"],
                    "data": {
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "title", "value": "T"}],
                    },
                },
                {
                    "method": "DELETE",
                    "path": f"/Users/{user['id']}",
                    "version": user["meta"]["version"],
                },
            ],
        },
    )
    statuses = [r["status"] for r in response.json()["Operations"]]
    assert statuses == ["200", "412"]  # the PATCH moved the version on
    assert scim.get(f"/Users/{user['id']}").json()["title"] == "T"


def test_bulk_rejects_too_many_operations(scim: Scim) -> None:
    operations = [{"method": "DELETE", "path": f"/Users/{i}"} for i in range(1001)]
    response = scim.post("/Bulk", {"schemas": [BULK], "Operations": operations})
    assert response.status_code == 413


def test_search_endpoints_work_like_get(scim: Scim) -> None:
    user = scim.create_user("searched@example.com", displayName="Searched")
    group = scim.create_group("Searched Group")
    body = {
        "schemas": [SEARCH],
        "filter": 'displayName sw "Searched"',
        "attributes": ["displayName"],
        "startIndex": 1,
        "count": 10,
    }
    users = scim.post("/Users/.search", body).json()
    assert [r["id"] for r in users["Resources"]] == [user["id"]]
    assert set(users["Resources"][0]) == {"schemas", "id", "displayName"}
    everything = scim.post("/.search", body).json()
    assert everything["totalResults"] == 2
    assert {r["id"] for r in everything["Resources"]} == {user["id"], group["id"]}
    second_page = scim.post("/.search", {**body, "startIndex": 2, "count": 1}).json()
    assert [r["id"] for r in second_page["Resources"]] == [group["id"]]


def test_discovery_tells_the_truth(app_client: TestClient) -> None:
    config = app_client.get("/scim/v2/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["bulk"] == {
        "supported": True,
        "maxOperations": 1000,
        "maxPayloadSize": 10 * 1024 * 1024,
    }
    assert config["filter"]["supported"] is True
    assert config["etag"]["supported"] is True
    assert config["sort"]["supported"] is True
    types = app_client.get("/scim/v2/ResourceTypes").json()
    assert {t["name"] for t in types["Resources"]} == {"User", "Group"}
    user_type = app_client.get("/scim/v2/ResourceTypes/User").json()
    assert user_type["schemaExtensions"][0]["schema"].endswith("enterprise:2.0:User")
    schema = app_client.get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    assert any(
        a["name"] == "userName" and a["uniqueness"] == "server" for a in schema["attributes"]
    )
    assert app_client.get("/scim/v2/Schemas/urn:nope").status_code == 404


def test_healthz_and_metrics(app_client: TestClient, scim: Scim) -> None:
    assert app_client.get("/healthz").text == "ok\n"
    scim.get("/Users")
    metrics = app_client.get("/metrics").text
    assert "scimitar_http_requests_total" in metrics
    assert "/scim/v2/Users" in metrics
