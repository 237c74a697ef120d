"""Groups and memberships over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from test_users import patch_body

from scimtest import Scim

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def member_ids(scim: Scim, group_id: str) -> set[str]:
    group = scim.get(f"/Groups/{group_id}").json()
    return {member["value"] for member in group.get("members", [])}


def test_create_group_with_members_shows_them_with_display_and_ref(scim: Scim) -> None:
    alice = scim.create_user("alice@example.com", displayName="Alice")
    group = scim.create_group("Engineering", [alice["id"]])
    assert group["members"] == [
        {
            "value": alice["id"],
            "type": "User",
            "display": "Alice",
            "$ref": f"http://testserver/scim/v2/Users/{alice['id']}",
        }
    ]
    user = scim.get(f"/Users/{alice['id']}").json()
    assert [g["value"] for g in user["groups"]] == [group["id"]]


def test_a_users_groups_read_the_same_by_every_path(scim: Scim) -> None:
    # PostgreSQL reads a user's groups in the user's own statement on some paths and
    # in a second one on others; every path must give the same values, in id order.
    alice = scim.create_user("groups.alice@example.com")
    first = scim.create_group("Readers", [alice["id"]])
    second = scim.create_group("Writers", [alice["id"]])
    scim.create_group("Others")
    expected = [
        {
            "value": group["id"],
            "display": group["displayName"],
            "type": "direct",
            "$ref": f"http://testserver/scim/v2/Groups/{group['id']}",
        }
        for group in sorted([first, second], key=lambda g: g["id"])
    ]
    by_id = scim.get(f"/Users/{alice['id']}").json()
    by_name = scim.get("/Users", params={"filter": 'userName eq "GROUPS.alice@example.com"'})
    by_filter = scim.get("/Users", params={"filter": 'userName sw "groups.alice"'})
    patched = scim.patch(
        f"/Users/{alice['id']}", patch_body({"op": "replace", "path": "title", "value": "x"})
    ).json()
    assert by_id["groups"] == expected
    assert by_name.json()["Resources"][0]["groups"] == expected
    assert by_filter.json()["Resources"][0]["groups"] == expected
    assert patched["groups"] == expected
    lonely = scim.create_user("groups.lonely@example.com")
    assert "groups" not in scim.get(f"/Users/{lonely['id']}").json()


def test_patch_member_add_and_remove_answer_204(scim: Scim) -> None:
    users = [scim.create_user(f"m{i}@example.com")["id"] for i in range(4)]
    group = scim.create_group("Team", users[:1])
    added = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "Add", "path": "members", "value": [{"value": u} for u in users[1:]]}),
    )
    assert added.status_code == 204
    assert added.content == b""
    assert member_ids(scim, group["id"]) == set(users)
    # Entra's removal shape: path "members" with a value array removes only those.
    removed = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "Remove", "path": "members", "value": [{"value": users[0]}]}),
    )
    assert removed.status_code == 204
    assert member_ids(scim, group["id"]) == set(users[1:])
    # ... and the value-filter shape.
    scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "remove", "path": f'members[value eq "{users[1]}"]'}),
    )
    assert member_ids(scim, group["id"]) == set(users[2:])


def test_patch_with_attributes_answers_200_with_the_group(scim: Scim) -> None:
    user = scim.create_user("echo@example.com")
    group = scim.create_group("Echo")
    response = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]}),
        params={"excludedAttributes": "members"},
    )
    assert response.status_code == 200
    assert response.json()["displayName"] == "Echo"
    assert "members" not in response.json()


def test_adding_an_unknown_member_changes_nothing(scim: Scim) -> None:
    user = scim.create_user("real@example.com")
    group = scim.create_group("Strict")
    before = scim.get(f"/Groups/{group['id']}").json()["meta"]["version"]
    response = scim.patch(
        f"/Groups/{group['id']}",
        patch_body(
            {"op": "add", "path": "members", "value": [{"value": user["id"]}]},
            {"op": "add", "path": "members", "value": [{"value": "no-such-id"}]},
        ),
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    assert "no-such-id" in response.json()["detail"]
    after = scim.get(f"/Groups/{group['id']}").json()
    assert "members" not in after or after["members"] == []
    assert after["meta"]["version"] == before


def test_deleting_a_user_removes_it_from_every_group(scim: Scim) -> None:
    user = scim.create_user("leaver@example.com")
    other = scim.create_user("stayer@example.com")
    groups = [scim.create_group(f"G{i}", [user["id"], other["id"]])["id"] for i in range(3)]
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    for group_id in groups:
        assert member_ids(scim, group_id) == {other["id"]}


def test_group_rename_and_display_name_uniqueness(scim: Scim) -> None:
    scim.create_group("Sales")
    group = scim.create_group("Marketing")
    clash = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "replace", "path": "displayName", "value": "SALES"}),
    )
    assert clash.status_code == 409
    assert clash.json()["scimType"] == "uniqueness"
    renamed = scim.patch(
        f"/Groups/{group['id']}",
        patch_body({"op": "replace", "value": {"displayName": "Growth"}}),
    )
    assert renamed.status_code == 204
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Growth"


def test_filter_groups_by_member_and_exclude_members(scim: Scim) -> None:
    user = scim.create_user("filter-member@example.com")
    wanted = scim.create_group("With", [user["id"]])
    scim.create_group("Without")
    listing = scim.get(
        "/Groups",
        params={"filter": f'members[value eq "{user["id"]}"]', "excludedAttributes": "members"},
    ).json()
    assert listing["totalResults"] == 1
    assert listing["Resources"][0]["id"] == wanted["id"]
    assert "members" not in listing["Resources"][0]


def test_put_group_replaces_members(scim: Scim) -> None:
    a = scim.create_user("a@example.com")
    b = scim.create_user("b@example.com")
    group = scim.create_group("Swap", [a["id"]])
    response = scim.put(
        f"/Groups/{group['id']}",
        {"schemas": [GROUP], "displayName": "Swap", "members": [{"value": b["id"]}]},
    )
    assert response.status_code == 200
    assert member_ids(scim, group["id"]) == {b["id"]}
