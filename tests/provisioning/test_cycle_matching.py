"""Matching target objects that already exist, duplicates, escaping, and ownership."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import ENTERPRISE, World, counts
from scimitar.directory import store
from scimitar.provisioning.mappings import Mapping

pytestmark = pytest.mark.e2e


def ada_as_the_app_has_her(world: World, **changes: Any) -> dict[str, Any]:
    """Create, outside the engine, the target user the defaults would make of ada."""
    body: dict[str, Any] = {
        "userName": "ada@contoso.com",
        "active": True,
        "displayName": "Ada Lovelace",
        "title": "Engineer",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "externalId": "ada",
        "roles": [{"value": "User", "primary": True}],
    }
    return world.post_user(body | changes)


def test_an_existing_target_user_is_matched_linked_and_patched_only_where_it_differs(
    world: World,
) -> None:
    existing = ada_as_the_app_has_her(world, title="Intern")
    world.assigned_user(
        "ada@contoso.com",
        displayName="Ada Lovelace",
        givenName="Ada",
        surname="Lovelace",
        jobTitle="Engineer",
    )

    summary = world.cycle()

    assert counts(summary) == {"update": 1}, summary.failures
    assert summary.requests_by_method == {"GET": 1, "PATCH": 1}
    (ada,) = world.users()  # not duplicated
    assert ada["id"] == existing["id"]
    assert ada["title"] == "Engineer"
    assert ada["meta"]["version"] == 'W/"2"'  # one write
    link = world.link("ada@contoso.com")
    assert link is not None
    assert (link.origin, link.target_id) == ("matched", existing["id"])
    (entry,) = world.logs(action="update")
    assert [p.display_name for p in entry.modified_properties] == ["title"]
    assert [s.provisioning_step_type for s in entry.provisioning_steps][:3] == [
        "import",
        "scoping",
        "matching",
    ]


def test_an_identical_existing_target_user_is_linked_without_a_write(world: World) -> None:
    existing = ada_as_the_app_has_her(world)
    world.assigned_user(
        "ada@contoso.com",
        displayName="Ada Lovelace",
        givenName="Ada",
        surname="Lovelace",
        jobTitle="Engineer",
    )

    summary = world.cycle()

    assert counts(summary) == {"unchanged": 1}
    assert summary.requests == 1  # the matching GET only
    assert world.target_user("ada@contoso.com")["meta"]["version"] == existing["meta"]["version"]
    link = world.link("ada@contoso.com")
    assert link is not None
    assert link.origin == "matched"
    assert world.cycle().requests == 0


@pytest.mark.parametrize(
    ("target", "source", "marker"),
    [
        ('emails[type eq "work"].value', "mail", "emails"),
        ("externalId", "mailNickname", "externalId"),
    ],
)
def test_two_target_users_matching_one_source_user_is_a_duplicate_failure(
    world: World, target: str, source: str, marker: str
) -> None:
    world.map_user(Mapping(target, "direct", source, matching_precedence=1))
    assert world.settings().mappings["user"][0].matching_precedence in (1, 2)
    for name in ("first@contoso.com", "second@contoso.com"):
        world.post_user(
            {
                "userName": name,
                "externalId": "shared",
                "emails": [{"type": "work", "value": "shared@contoso.com"}],
            }
        )
    world.assigned_user("ada@contoso.com", mail="shared@contoso.com", mailNickname="shared")

    summary = world.cycle()

    assert counts(summary) == {"failure": 1}
    assert summary.exit_code == 1
    assert summary.requests == 1  # the first matching attribute found two: no userName query
    (failure,) = summary.failures
    assert failure.error_code == "DuplicateTargetEntries"
    assert marker in (failure.reason or "")
    assert len(world.users()) == 2
    assert world.link("ada@contoso.com") is None
    (logged,) = world.logs(status="failure")
    assert logged.error_code == "DuplicateTargetEntries"


def test_a_second_matching_attribute_matches_when_the_first_finds_nothing(world: World) -> None:
    world.map_user(Mapping("externalId", "direct", "mailNickname", matching_precedence=2))
    existing = world.post_user({"userName": "ada.old@contoso.com", "externalId": "ada"})
    world.assigned_user("ada@contoso.com")

    summary = world.cycle()

    assert counts(summary) == {"update": 1}, summary.failures
    (ada,) = world.users()
    assert (ada["id"], ada["userName"]) == (existing["id"], "ada@contoso.com")


@pytest.mark.parametrize(
    "upn",
    [
        'o"brien@contoso.com',
        "back\\slash@contoso.com",
        '\\"both\\"@contoso.com',
        "it's@contoso.com",
    ],
)
def test_values_with_quotes_and_backslashes_match_exactly(world: World, upn: str) -> None:
    # A near miss must not match, and the real one must.
    decoy = world.post_user({"userName": upn.replace("@", "x@")})
    existing = world.post_user({"userName": upn, "displayName": "Before"})
    world.assigned_user(upn, displayName="After")

    summary = world.cycle()

    assert counts(summary) == {"update": 1}, summary.failures
    assert {u["id"]: u["userName"] for u in world.users()} == {
        decoy["id"]: decoy["userName"],
        existing["id"]: upn,
    }
    assert world.target_user(upn)["displayName"] == "After"
    assert world.cycle().requests == 0


def test_a_created_user_with_quotes_is_found_again_after_the_link_is_lost(world: World) -> None:
    upn = 'q"uo\\te@contoso.com'
    world.assigned_user(upn)
    assert counts(world.cycle()) == {"create": 1}
    world.configure(flatten_nested_groups=True)  # a configuration change: initial again

    summary = world.cycle()

    assert summary.type == "initial"
    assert counts(summary) == {"unchanged": 1}
    assert len(world.users()) == 1


def test_an_existing_target_group_is_matched_by_display_name(world: World) -> None:
    world.assigned_user("ada@contoso.com")
    existing = world.http.post(
        "Groups",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team"},
    ).json()
    team = world.group("Team", ["ada@contoso.com"])
    world.assign(group="Team")

    summary = world.cycle()

    assert counts(summary) == {"create": 1, "update": 1}, summary.failures
    (group,) = world.groups()
    assert group["id"] == existing["id"]
    assert world.target_group("Team")["externalId"] == team.object_id
    assert world.member_names("Team") == {"ada@contoso.com"}
    assert world.cycle().requests == 0


# -- ownership -------------------------------------------------------------------------


def test_target_users_the_engine_never_created_or_matched_are_left_alone(world: World) -> None:
    strangers = {
        name: world.post_user({"userName": name, "active": True})
        for name in ("gone@contoso.com", "left@contoso.com", "off@contoso.com", "x@contoso.com")
    }
    world.user("gone@contoso.com")
    world.user("left@contoso.com")
    world.user("off@contoso.com", accountEnabled=False)
    world.assigned_user("ada@contoso.com")
    with world.write() as conn:
        store.soft_delete_user(conn, "left@contoso.com")
        store.hard_delete_user(conn, "gone@contoso.com")
    world.configure(scope="all")

    summary = world.cycle()

    assert counts(summary) == {"create": 1, "skipped": 1}, summary.failures
    for name, stranger in strangers.items():
        found = world.get_user(stranger["id"]).json()
        assert found["active"] is True, name
        assert found["meta"]["version"] == stranger["meta"]["version"], name
    touched = {e.target_identity.id for e in world.logs() if e.target_identity}
    assert touched.isdisjoint(s["id"] for s in strangers.values())


def test_a_matched_user_is_owned_and_disabled_when_unassigned(world: World) -> None:
    existing = ada_as_the_app_has_her(world)
    world.assigned_user("ada@contoso.com")
    world.cycle()
    world.unassign(user="ada@contoso.com")

    summary = world.cycle()

    assert counts(summary) == {"disable": 1}
    assert world.get_user(existing["id"]).json()["active"] is False


def test_the_manager_of_a_matched_user_points_at_the_managers_target_id(world: World) -> None:
    boss = world.post_user({"userName": "boss@contoso.com"})
    world.assigned_user("boss@contoso.com")
    world.assigned_user("ada@contoso.com", manager="boss@contoso.com")

    summary = world.cycle()

    assert summary.exit_code == 0, summary.failures
    ada = world.target_user("ada@contoso.com")
    assert ada[ENTERPRISE]["manager"]["value"] == boss["id"]


def test_a_user_re_created_with_the_same_upn_never_shares_the_old_target_object(
    world: World,
) -> None:
    old = world.assigned_user("ada@contoso.com", jobTitle="Engineer")
    world.cycle()
    old_target = world.target_user("ada@contoso.com")["id"]
    with world.write() as conn:
        store.hard_delete_user(conn, "ada@contoso.com")
    new = world.assigned_user("ada@contoso.com", jobTitle="Architect")
    assert new.object_id != old.object_id

    first = world.cycle()

    # The old object is deleted; the new one must not be linked to it on the way.
    assert counts(first) == {"delete": 1, "failure": 1}
    (failure,) = first.failures
    assert failure.error_code == "DuplicateSourceEntries"
    assert old.object_id in (failure.reason or "")
    assert world.users() == []

    second = world.cycle()

    assert counts(second) == {"create": 1}, second.failures
    ada = world.target_user("ada@contoso.com")
    assert (ada["title"], ada["id"] != old_target) == ("Architect", True)
    assert world.cycle().requests == 0


def test_two_directory_users_matching_one_target_user_link_only_one(world: World) -> None:
    world.map_user(Mapping("externalId", "direct", "mailNickname", matching_precedence=1))
    existing = world.post_user({"userName": "shared@contoso.com", "externalId": "shared"})
    world.assigned_user("ada@contoso.com", mailNickname="shared")
    world.assigned_user("alan@contoso.com", mailNickname="shared")

    summary = world.cycle()

    assert counts(summary) == {"update": 1, "failure": 1}
    (failure,) = summary.failures
    assert failure.error_code == "DuplicateSourceEntries"
    (user,) = world.users()
    assert user["id"] == existing["id"]
    links = [world.link(upn) for upn in ("ada@contoso.com", "alan@contoso.com")]
    assert sorted(link is None for link in links) == [False, True]
