"""Microsoft Entra ID's request shapes, replayed in the order its provisioning service sends them.

Each request is transcribed from Microsoft's documentation into ``data/entra-*.json``
(its ``_source`` names the page and section). The tests send them through the
``scim`` fixture, substituting real ids for the documents' example ids, and check
the status Entra ID expects and the state a user of the target application sees
afterwards. "legacy" is what Entra ID sends without the ``aadOptscim062020`` flag in
the tenant URL, "flag" what it sends with it. docs/entra-compat.md lists every quirk
with the test that covers it.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scimtest import Scim

DATA = Path(__file__).parent / "data"
COMPAT_DOC = Path(__file__).parents[2] / "docs" / "entra-compat.md"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MODES = ("legacy", "flag")
ENTRA_ROLE = "WindowsAzureActiveDirectoryRole"


@dataclass(frozen=True)
class Shape:
    """One transcribed Entra ID request and the response status its documentation expects."""

    name: str
    method: str
    path: str
    params: dict[str, str] | None
    body: Any
    status: int
    documented: Any

    def send(self, scim: Scim, ids: Mapping[str, str] | None = None) -> Any:
        """Send the request with each example id in ``ids`` replaced by a real one."""
        swap = dict(ids or {})
        kwargs: dict[str, Any] = {}
        if self.params is not None:
            kwargs["params"] = _substitute(self.params, swap)
        if self.body is not None:
            kwargs["json"] = _substitute(self.body, swap)
        return scim.request(self.method, _substitute(self.path, swap), **kwargs)


@functools.cache
def shape(name: str) -> Shape:
    raw = json.loads((DATA / f"entra-{name}.json").read_text())
    request, response = raw["request"], raw["response"]
    return Shape(
        name=name,
        method=request["method"],
        path=request["path"],
        params=request.get("params"),
        body=request.get("body"),
        status=response["status"],
        documented=response.get("body"),
    )


def _substitute(value: Any, ids: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        for example, real in ids.items():
            value = value.replace(example, real)
        return value
    if isinstance(value, list):
        return [_substitute(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, ids) for key, item in value.items()}
    return value


def expect(response: Any, status: int) -> Any:
    """Assert the status (and, when there is a body, the SCIM media type); return the JSON."""
    assert response.status_code == status, response.text
    if status == 204:
        assert response.content == b""
        return None
    # Tutorial, "General": responses carry Content-Type application/scim+json.
    assert response.headers["content-type"].startswith("application/scim+json")
    return response.json()


def send(scim: Scim, name: str, ids: Mapping[str, str] | None = None) -> Any:
    """Send a transcribed request, assert the documented status, return the JSON body."""
    found = shape(name)
    return expect(found.send(scim, ids), found.status)


def assert_empty_list(body: Any) -> None:
    assert body == {
        "schemas": [LIST_RESPONSE],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def listed_ids(body: Any) -> list[str]:
    assert body["schemas"] == [LIST_RESPONSE]
    assert body["totalResults"] == len(body["Resources"])
    return [resource["id"] for resource in body["Resources"]]


def member_ids(scim: Scim, group_id: str) -> set[str]:
    group = expect(scim.get(f"/Groups/{group_id}"), 200)
    return {member["value"] for member in group.get("members", [])}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key not in keys}


def nulls_in(value: Any, where: str = "") -> list[str]:
    """Return the JSON paths of every null in ``value``."""
    if value is None:
        return [where or "(root)"]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in nulls_in(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in nulls_in(item, f"{where}[{i}]")]
    return []


# --- the data files themselves -----------------------------------------------------------


def test_every_transcription_cites_its_source_and_is_replayed() -> None:
    files = sorted(DATA.glob("entra-*.json"))
    assert len(files) >= 30
    this_module = Path(__file__).read_text()
    for path in files:
        name = path.stem.removeprefix("entra-")
        source = json.loads(path.read_text())["_source"]
        assert source["url"].startswith("https://learn.microsoft.com/entra/identity/"), path
        assert "#" in source["url"], path
        assert source["section"], path
        # "disable-user-legacy" and "-flag" are sent as f"disable-user-{mode}".
        base = name.removesuffix("-legacy").removesuffix("-flag")
        sent = f'"{name}"' in this_module or f'"{base}-{{mode}}"' in this_module
        assert sent, f"{path.name} is transcribed but no test sends it"


def test_compat_doc_names_only_tests_that_exist() -> None:
    doc = COMPAT_DOC.read_text()
    cited = set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", doc))
    assert len(cited) >= 20
    for file, test in cited:
        source = (COMPAT_DOC.parents[1] / file).read_text()
        assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{file}::{test} is cited"


# --- users, in Entra ID's order ------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_user_lifecycle_as_entra_sends_it(scim: Scim, mode: str) -> None:
    # Test Connection: a query on a random GUID must answer 200 with an empty list.
    assert_empty_list(
        expect(scim.get("/Users", params={"filter": f'userName eq "{uuid.uuid4()}"'}), 200)
    )
    # Matching: Entra ID looks the user up before creating it.
    assert_empty_list(send(scim, "get-user-by-query"))

    user = send(scim, "create-user")
    user_id = user["id"]
    assert send(scim, "get-user", {"5d48a0a8e9f04aa38008": user_id}) == user
    assert listed_ids(send(scim, "get-user-by-query")) == [user_id]

    updated = send(scim, "update-user-multi-valued", {"6764549bef60420686bc": user_id})
    documented = shape("update-user-multi-valued").documented
    assert updated["emails"] == documented["emails"]
    assert updated["name"]["familyName"] == documented["name"]["familyName"]
    assert expect(scim.get(f"/Users/{user_id}"), 200) == updated

    body = send(scim, f"add-single-value-{mode}", {"{id}": user_id})
    assert body["nickName"] == "Babs"

    body = send(scim, f"replace-attributes-{mode}", {"{id}": user_id})
    replaced = expect(scim.get(f"/Users/{user_id}"), 200)
    assert replaced == body
    if mode == "legacy":
        assert replaced["displayName"] == "Pvlo"
        assert replaced["name"] == {
            "formatted": "givenName familyName",
            "givenName": "Gtfd",
            "familyName": "Pkqf",
        }
        assert replaced["externalId"] == "Eqpj"
        assert replaced[ENTERPRISE] == {"employeeNumber": "Eqpj"}
        assert replaced["emails"] == [
            {"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": True}
        ]
    else:
        assert replaced["displayName"] == "Bjfe"
        assert replaced["name"] == {
            "formatted": "givenName familyName",
            "givenName": "Kkom",
            "familyName": "Unua",
        }
        assert replaced["externalId"] == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
        assert replaced[ENTERPRISE] == {"employeeNumber": "Aklq"}
        assert replaced["emails"] == [
            {"value": "TestMhvaes@test.microsoft.com", "type": "work", "primary": True}
        ]
    assert replaced["schemas"] == [USER, ENTERPRISE]
    assert replaced["nickName"] == "Babs"  # earlier changes stay

    manager = scim.create_user("manager@testuser.com")
    body = send(
        scim,
        "add-manager",
        {
            "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1": user_id,
            "00aa00aa-bb11-cc22-dd33-44ee44ee44ee": manager["id"],
        },
    )
    assert body[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert body[ENTERPRISE]["employeeNumber"] == replaced[ENTERPRISE]["employeeNumber"]

    new_name = send(scim, "update-user-single-valued", {"5171a35d82074e068ce2": user_id})[
        "userName"
    ]
    assert new_name == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    assert_empty_list(send(scim, "get-user-by-query"))  # the old userName matches no one now

    # Soft delete: the user stays readable and queryable while inactive (tutorial,
    # "Soft-deleting a user active=false and restoring the user active=true").
    assert send(scim, f"disable-user-{mode}", {"{id}": user_id})["active"] is False
    assert expect(scim.get(f"/Users/{user_id}"), 200)["active"] is False
    by_name = scim.get("/Users", params={"filter": f'userName eq "{new_name}"'})
    assert [r["active"] for r in expect(by_name, 200)["Resources"]] == [False]
    restore = {"op": "Replace", "path": "active", "value": "True"}
    if mode == "flag":
        restore = {"op": "replace", "path": "active", "value": True}
    assert expect(scim.patch(f"/Users/{user_id}", patch_body(restore)), 200)["active"] is True

    send(scim, "delete-user", {"5171a35d82074e068ce2": user_id})
    gone = send(scim, "get-user-not-found", {"5171a35d82074e068ce2": user_id})
    assert gone["schemas"] == [ERROR]
    assert gone["status"] == "404"
    assert_empty_list(
        expect(scim.get("/Users", params={"filter": f'userName eq "{new_name}"'}), 200)
    )
    assert expect(scim.get(f"/Users/{manager['id']}"), 200)["userName"] == "manager@testuser.com"


def test_create_user_answers_201_with_the_documented_resource(scim: Scim) -> None:
    response = shape("create-user").send(scim)
    body = expect(response, 201)
    documented = shape("create-user").documented
    # Everything the tutorial's response shows, but the server's own id and meta.
    assert without(body, "id", "meta") == without(documented, "id", "meta")
    assert body["id"]
    assert body["id"] != documented["id"]
    assert body["meta"]["resourceType"] == "User"
    assert body["meta"]["created"] == body["meta"]["lastModified"]
    assert response.headers["location"] == body["meta"]["location"]


def test_duplicate_user_name_answers_409_uniqueness(scim: Scim) -> None:
    send(scim, "create-user")
    conflict = expect(shape("create-user").send(scim), 409)
    assert conflict["scimType"] == "uniqueness"
    assert conflict["status"] == "409"
    assert listed_ids(send(scim, "get-user-by-query")) != []


def test_zero_results_answer_200_with_an_empty_list_response(scim: Scim) -> None:
    body = send(scim, "get-user-by-query-zero-results")
    documented = shape("get-user-by-query-zero-results").documented
    # itemsPerPage counts the resources on this page (RFC 7644 §3.4.2), so 0, not 20.
    assert body == {**documented, "itemsPerPage": 0}


def test_missing_resources_answer_404_with_a_scim_error(scim: Scim) -> None:
    for name in ("get-user-not-found", "delete-user", "delete-group"):
        response = shape(name).send(scim)
        error = expect(response, 404)
        assert error["schemas"] == [ERROR]
        assert error["status"] == "404"
    for name in ("update-user-single-valued", "disable-user", "update-group-non-member"):
        assert expect(shape(name).send(scim), 404)["status"] == "404"
    missing_group = scim.get(
        "/Groups/40734ae655284ad3abcc", params={"excludedAttributes": "members"}
    )
    assert expect(missing_group, 404)["status"] == "404"


def test_provision_user_drops_nulls_and_reads_the_misspelled_enterprise_urn(scim: Scim) -> None:
    user = send(scim, "provision-user")
    # Nulls mean "unassigned" (RFC 7643 §2.5): nothing is stored, nothing echoed.
    for key in ("addresses", "phoneNumbers", "preferredLanguage", "title", ENTERPRISE):
        assert key not in user
    assert user["schemas"] == [USER]
    assert nulls_in(user) == []
    # Values are stored as sent (tutorial, "General"): the mixed-case email stays so.
    assert user["emails"] == [{"type": "work", "value": "jyoung@Contoso.com", "primary": True}]
    assert expect(scim.get(f"/Users/{user['id']}"), 200) == user


def test_misspelled_enterprise_urn_as_a_key_files_under_the_real_one(scim: Scim) -> None:
    misspelled = "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"
    body = {**shape("provision-user").body, misspelled: {"department": "Tour Operations"}}
    user = expect(scim.post("/Users", body), 201)
    assert user[ENTERPRISE] == {"department": "Tour Operations"}
    assert user["schemas"] == [USER, ENTERPRISE]
    assert misspelled not in user


def test_enterprise_attributes_without_their_urn_file_under_the_extension(scim: Scim) -> None:
    # Example 2 sends department and manager as top-level keys (there as nulls).
    body = {**shape("provision-user").body, "department": "Tour Operations", "manager": "26118915"}
    user = expect(scim.post("/Users", body), 201)
    assert user[ENTERPRISE] == {"department": "Tour Operations", "manager": {"value": "26118915"}}
    assert "department" not in user
    assert "manager" not in user


def test_tutorial_schema_example_posts_with_id_meta_and_unknown_extension(scim: Scim) -> None:
    user = send(scim, "schema-example-user")
    sent = shape("schema-example-user").body
    # id and meta are the server's (RFC 7644 §3.3: readOnly values are ignored).
    assert user["id"] != sent["id"]
    assert not user["meta"]["created"].startswith("2010")
    assert user["meta"]["location"].endswith(f"/Users/{user['id']}")
    # The bare manager id means {"value": id}; the unknown extension is dropped.
    assert user[ENTERPRISE] == {"manager": {"value": "123456"}}
    assert user["schemas"] == [USER, ENTERPRISE]
    assert not any("CustomExtensionName" in key for key in user)


def test_external_id_filter_matches_the_provisioned_user(scim: Scim) -> None:
    user = send(scim, "provision-user")
    found = scim.get("/Users", params={"filter": 'externalId eq "jyoung"'})
    assert listed_ids(expect(found, 200)) == [user["id"]]
    assert_empty_list(expect(scim.get("/Users", params={"filter": 'externalId eq "JYOUNG"'}), 200))


def test_external_id_filter_with_an_unquoted_value_as_the_tutorial_prints_it(scim: Scim) -> None:
    user = send(scim, "provision-user")
    assert listed_ids(send(scim, "query-user-by-external-id")) == [user["id"]]


def test_manager_query_compares_the_manager_id(scim: Scim) -> None:
    manager = scim.create_user("boss@testuser.com")
    user = send(scim, "provision-user")
    ids = {
        "a0a0a0a0-bbbb-cccc-dddd-e1e1e1e1e1e1": user["id"],
        "00aa00aa-bb11-cc22-dd33-44ee44ee44ee": manager["id"],
    }
    assert send(scim, "query-user-manager", ids)["totalResults"] == 0
    send(scim, "add-manager", ids)
    found = send(scim, "query-user-manager", ids)
    # attributes=id: the id alone, with "schemas" as in RFC 7644 §3.9's own example.
    assert found["Resources"] == [{"schemas": [USER], "id": user["id"]}]


def test_user_filters_entra_uses_for_matching(scim: Scim) -> None:
    user = send(scim, "create-user")
    other = scim.create_user(
        "other@testuser.com", emails=[{"type": "work", "value": "other@testuser.com"}]
    )
    work_email = user["emails"][0]["value"]
    # Tutorial, "/Users": any matching attribute must be filterable, emails[type eq "work"]
    # included; "Retrieving Resources": Entra ID uses only eq and and.
    for query in (
        f'emails[type eq "work"].value eq "{work_email}"',
        f'userName eq "{user["userName"]}" and externalId eq "{user["externalId"]}"',
        f'externalId eq "{user["externalId"]}"',
    ):
        assert listed_ids(expect(scim.get("/Users", params={"filter": query}), 200)) == [user["id"]]
    assert other["id"] != user["id"]


def test_disable_user_as_the_tutorial_sends_it(scim: Scim) -> None:
    user = send(scim, "create-user")
    body = send(scim, "disable-user", {"5171a35d82074e068ce2": user["id"]})
    assert body["active"] is False
    assert without(body, "active", "meta") == without(user, "active", "meta")
    inactive = scim.get("/Users", params={"filter": "active eq false"})
    assert listed_ids(expect(inactive, 200)) == [user["id"]]


@pytest.mark.parametrize("mode", MODES)
def test_active_strings_and_booleans_both_disable(scim: Scim, mode: str) -> None:
    user = scim.create_user("active@testuser.com", active="True")
    assert user["active"] is True
    send(scim, f"disable-user-{mode}", {"{id}": user["id"]})
    assert expect(scim.get(f"/Users/{user['id']}"), 200)["active"] is False


@pytest.mark.parametrize(
    ("op", "path", "value", "check"),
    [
        ("add", "nickName", "Babs", ("nickName", "Babs")),
        ("Add", "nickName", "Babs", ("nickName", "Babs")),
        ("ADD", "nickName", "Babs", ("nickName", "Babs")),
        ("replace", "title", "Lead", ("title", "Lead")),
        ("Replace", "title", "Lead", ("title", "Lead")),
        ("REPLACE", "title", "Lead", ("title", "Lead")),
        ("remove", "displayName", None, ("displayName", None)),
        ("Remove", "displayName", None, ("displayName", None)),
        ("REMOVE", "displayName", None, ("displayName", None)),
    ],
)
def test_op_names_match_in_any_case(
    scim: Scim, op: str, path: str, value: Any, check: tuple[str, Any]
) -> None:
    user = scim.create_user("ops@testuser.com", displayName="Ops", title="Engineer")
    operation = {"op": op, "path": path} | ({} if value is None else {"value": value})
    body = expect(scim.patch(f"/Users/{user['id']}", patch_body(operation)), 200)
    attribute, expected = check
    assert body.get(attribute) == expected


@pytest.mark.parametrize("op", ["Add", "add", "Replace", "replace"])
def test_work_email_path_that_matches_nothing_creates_the_email(scim: Scim, op: str) -> None:
    # Entra ID maps mail to emails[type eq "work"].value (tutorial attribute table) and
    # sends it to users who have no work email yet; the filter describes the new value.
    user = scim.create_user(
        "noemail@testuser.com", emails=[{"type": "home", "value": "h@home.example"}]
    )
    operation = {"op": op, "path": 'emails[type eq "work"].value', "value": "w@testuser.com"}
    body = expect(scim.patch(f"/Users/{user['id']}", patch_body(operation)), 200)
    assert body["emails"] == [
        {"type": "home", "value": "h@home.example"},
        {"type": "work", "value": "w@testuser.com"},
    ]
    found = scim.get(
        "/Users", params={"filter": 'emails[type eq "work"].value eq "w@testuser.com"'}
    )
    assert listed_ids(expect(found, 200)) == [user["id"]]


def test_multi_valued_update_creates_the_work_email_of_a_user_without_emails(scim: Scim) -> None:
    user = scim.create_user("bare@testuser.com", name={"givenName": "givenName"})
    body = send(scim, "update-user-multi-valued", {"6764549bef60420686bc": user["id"]})
    assert body["emails"] == [{"type": "work", "value": "updatedEmail@microsoft.com"}]
    assert body["name"] == {"givenName": "givenName", "familyName": "updatedFamilyName"}


def test_values_are_stored_as_sent(scim: Scim) -> None:
    # Tutorial, "General": "A phone number sent as 55555555555 shouldn't be saved/returned
    # as +5 (555) 555-5555".
    user = scim.create_user(
        "phone@testuser.com", phoneNumbers=[{"type": "work", "value": "55555555555"}]
    )
    stored = expect(scim.get(f"/Users/{user['id']}"), 200)
    assert stored["phoneNumbers"] == [{"type": "work", "value": "55555555555"}]


# --- roles -------------------------------------------------------------------------------


def test_single_app_role_assignment_post_then_json_encoded_patch(scim: Scim) -> None:
    user = send(scim, "create-user-single-app-role")
    assert user["roles"] == [{"primary": True, "type": ENTRA_ROLE, "value": "Admin"}]
    body = send(scim, "patch-roles-single-app-role", {"{id}": user["id"]})
    # The JSON in the string is the role; Entra's app role id is not a roles sub-attribute.
    assert body["roles"] == [
        {"primary": True, "type": ENTRA_ROLE, "value": "Admin"},
        {"value": "25", "display": "Role1234"},
    ]
    assert expect(scim.get(f"/Users/{user['id']}"), 200)["roles"] == body["roles"]


def test_single_app_role_primary_path_creates_the_primary_role(scim: Scim) -> None:
    # The SingleAppRoleAssignment target attributes are roles[primary eq "True"].value,
    # .display and .type; a user without a primary role gets one.
    user = scim.create_user("role@testuser.com")
    operations = [
        {"op": "Add", "path": f'roles[primary eq "True"].{sub}', "value": value}
        for sub, value in (("value", "Admin"), ("display", "Admin"), ("type", ENTRA_ROLE))
    ]
    body = expect(scim.patch(f"/Users/{user['id']}", patch_body(*operations)), 200)
    assert body["roles"] == [
        {"primary": True, "value": "Admin", "display": "Admin", "type": ENTRA_ROLE}
    ]


def test_app_role_assignments_complex_post_reads_display_name_as_display(scim: Scim) -> None:
    user = send(scim, "create-user-app-role-assignments-complex")
    assert user["roles"] == [
        {"primary": False, "type": ENTRA_ROLE, "display": "Admin", "value": "Admin"},
        {"primary": False, "type": ENTRA_ROLE, "display": "User", "value": "User"},
    ]


def test_app_role_assignments_complex_patch_adds_decoded_roles(scim: Scim) -> None:
    user = scim.create_user("roles@testuser.com")
    body = send(scim, "patch-roles-app-role-assignments-complex", {"{id}": user["id"]})
    assert body["roles"] == [
        {"value": "Admin", "display": "Admin"},
        {"value": "User", "display": "User"},
    ]
    again = send(scim, "patch-roles-app-role-assignments-complex", {"{id}": user["id"]})
    assert again["roles"] == body["roles"]  # adding a role it has changes nothing


def test_app_role_assignments_complex_patch_after_post_keeps_one_of_each_role(
    scim: Scim,
) -> None:
    user = send(scim, "create-user-app-role-assignments-complex")
    body = send(scim, "patch-roles-app-role-assignments-complex", {"{id}": user["id"]})
    assert sorted(role["value"] for role in body["roles"]) == ["Admin", "User"]


def test_assertive_app_role_assignments_complex_replace_drops_unassigned_roles(scim: Scim) -> None:
    user = send(scim, "create-user-assertive-app-role-assignments-complex")
    posted = shape("create-user-assertive-app-role-assignments-complex").body["roles"]
    assert user["roles"] == posted
    # Another mapping added Admin; the assertive replace takes it away again.
    send(scim, "patch-roles-single-app-role", {"{id}": user["id"]})
    assert len(expect(scim.get(f"/Users/{user['id']}"), 200)["roles"]) == 3
    body = send(scim, "patch-roles-assertive-app-role-assignments-complex", {"{id}": user["id"]})
    assert body["roles"] == posted
    assert expect(scim.get(f"/Users/{user['id']}"), 200)["roles"] == posted


# --- groups, in Entra ID's order -----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_group_lifecycle_as_entra_sends_it(scim: Scim, mode: str) -> None:
    users = [scim.create_user(f"member{i}@testuser.com")["id"] for i in range(3)]
    assert_empty_list(send(scim, "get-group-by-display-name"))

    created = send(scim, "create-group")
    group_id = created["id"]
    documented = shape("create-group").documented
    # The ADSCIM schema URI is not echoed; groups start with no members.
    assert without(created, "id", "meta") == without(documented, "id", "meta")
    assert created["meta"]["resourceType"] == "Group"

    fetched = send(scim, "get-group", {"40734ae655284ad3abcc": group_id})
    assert set(fetched) == set(shape("get-group").documented)  # no members key
    listed = send(scim, "get-group-by-display-name")
    assert listed_ids(listed) == [group_id]
    assert "members" not in listed["Resources"][0]

    send(scim, "update-group-non-member", {"fa2ce26709934589afc5": group_id})
    renamed = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    assert expect(scim.get(f"/Groups/{group_id}"), 200)["displayName"] == renamed
    assert_empty_list(send(scim, "get-group-by-display-name"))

    for user_id in users:
        send(
            scim,
            "update-group-add-members",
            {"a99962b9f99d4c4fac67": group_id, "f648f8d5ea4e4cd38e9c": user_id},
        )
    assert member_ids(scim, group_id) == set(users)

    # Without the flag: path "members" and a value array; with it: members[value eq "…"].
    # Either way only the named member goes.
    example = {"legacy": "u1091", "flag": "7f4bc1a3-285e-48ae-8202-5accb43efb0e"}[mode]
    send(scim, f"remove-member-{mode}", {"{id}": group_id, example: users[0]})
    assert member_ids(scim, group_id) == set(users[1:])
    send(
        scim,
        "update-group-remove-members",
        {"a99962b9f99d4c4fac67": group_id, "f648f8d5ea4e4cd38e9c": users[1]},
    )
    assert member_ids(scim, group_id) == {users[2]}
    assert [g["value"] for g in expect(scim.get(f"/Users/{users[2]}"), 200)["groups"]] == [group_id]
    assert "groups" not in expect(scim.get(f"/Users/{users[0]}"), 200)

    send(scim, "delete-group", {"cdb1ce18f65944079d37": group_id})
    expect(scim.get(f"/Groups/{group_id}"), 404)
    assert "groups" not in expect(scim.get(f"/Users/{users[2]}"), 200)


@pytest.mark.parametrize(
    "form", ["update-group-remove-members", "remove-member-legacy", "remove-member-flag"]
)
def test_member_removal_removes_only_the_named_member(scim: Scim, form: str) -> None:
    users = [scim.create_user(f"keep{i}@testuser.com")["id"] for i in range(4)]
    group = scim.create_group("Removal", users)
    ids = {
        "{id}": group["id"],
        "a99962b9f99d4c4fac67": group["id"],
        "f648f8d5ea4e4cd38e9c": users[2],
        "u1091": users[2],
        "7f4bc1a3-285e-48ae-8202-5accb43efb0e": users[2],
    }
    send(scim, form, ids)
    assert member_ids(scim, group["id"]) == {users[0], users[1], users[3]}
    send(scim, form, ids)  # removing a member that is gone is no error
    assert member_ids(scim, group["id"]) == {users[0], users[1], users[3]}


def test_group_patch_answers_204_and_each_change_shows_on_get(scim: Scim) -> None:
    user = scim.create_user("echo@testuser.com")
    group = send(scim, "create-group")
    for name, ids in (
        ("update-group-non-member", {"fa2ce26709934589afc5": group["id"]}),
        (
            "update-group-add-members",
            {"a99962b9f99d4c4fac67": group["id"], "f648f8d5ea4e4cd38e9c": user["id"]},
        ),
        (
            "update-group-remove-members",
            {"a99962b9f99d4c4fac67": group["id"], "f648f8d5ea4e4cd38e9c": user["id"]},
        ),
    ):
        response = shape(name).send(scim, ids)
        assert response.status_code == 204, (name, response.text)
        assert response.content == b""
    final = expect(scim.get(f"/Groups/{group['id']}"), 200)
    assert final["displayName"] == "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    assert final.get("members", []) == []
    assert final["meta"]["version"] != group["meta"]["version"]


def test_duplicate_group_display_name_answers_409_uniqueness(scim: Scim) -> None:
    send(scim, "create-group")
    conflict = expect(shape("create-group").send(scim), 409)
    assert conflict["scimType"] == "uniqueness"


# --- discovery ---------------------------------------------------------------------------


def test_discover_schema_lists_user_group_and_enterprise_without_nulls(scim: Scim) -> None:
    body = send(scim, "discover-schema")
    assert body["schemas"] == [LIST_RESPONSE]
    assert [schema["id"] for schema in body["Resources"]] == [USER, GROUP, ENTERPRISE]
    # Tutorial, "/Schemas": don't send nulls; property values camel-cased (readWrite).
    assert nulls_in(body) == []
    user_name = next(a for a in body["Resources"][0]["attributes"] if a["name"] == "userName")
    assert user_name["mutability"] == "readWrite"
    assert user_name["uniqueness"] == "server"
