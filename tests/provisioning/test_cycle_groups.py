"""Groups: created with their members, renamed, members added and removed, deleted."""

from __future__ import annotations

import pytest

from conftest import World, counts
from scimitar.directory import store

pytestmark = pytest.mark.e2e

PEOPLE = ("ada@contoso.com", "alan@contoso.com", "grace@contoso.com")


@pytest.fixture
def team(world: World) -> World:
    """Three users assigned directly, and the group Team (ada, alan) assigned too."""
    for upn in PEOPLE:
        world.assigned_user(upn)
    world.group("Team", PEOPLE[:2], description="The team")
    world.assign(group="Team")
    first = world.cycle()
    assert counts(first) == {"create": 4}, first.failures
    return world


def test_a_group_is_created_with_its_members_in_one_request(world: World) -> None:
    for upn in PEOPLE:
        world.assigned_user(upn)
    group = world.group("Team", PEOPLE[:2], description="The team")
    world.assign(group="Team")

    summary = world.cycle()

    assert counts(summary) == {"create": 4}, summary.failures
    # a matching GET and a POST per object: the members came in the group's POST
    assert summary.requests_by_method == {"GET": 4, "POST": 4}
    created = world.target_group("Team")
    assert created["externalId"] == group.object_id
    assert world.member_names("Team") == set(PEOPLE[:2])
    (entry,) = [e for e in world.logs(action="create") if e.object_type == "group"]
    assert entry.target_identity is not None
    assert entry.target_identity.id == created["id"]
    assert world.cycle().requests == 0


def test_a_renamed_group_is_patched(team: World) -> None:
    target_id = team.target_group("Team")["id"]
    team.group("Team", PEOPLE[:2], displayName="Dream Team")

    summary = team.cycle()

    assert counts(summary) == {"update": 1}
    assert summary.requests_by_method == {"PATCH": 1}
    renamed = team.target_group("Dream Team")
    assert renamed["id"] == target_id
    assert team.member_names("Dream Team") == set(PEOPLE[:2])
    (entry,) = team.logs(action="update")
    assert [(p.display_name, p.new_value) for p in entry.modified_properties] == [
        ("displayName", "Dream Team")
    ]


def test_adding_a_member_sends_one_patch(team: World) -> None:
    team.group("Team", PEOPLE)

    summary = team.cycle()

    # grace was looked at (her memberships changed) and needs nothing
    assert counts(summary) == {"update": 1, "unchanged": 1}
    assert summary.requests_by_method == {"PATCH": 1}
    assert team.member_names("Team") == set(PEOPLE)
    assert team.cycle().requests == 0


def test_removing_a_member_sends_one_patch(team: World) -> None:
    team.group("Team", PEOPLE[:1])

    summary = team.cycle()

    assert counts(summary) == {"update": 1, "unchanged": 1}
    assert summary.requests_by_method == {"PATCH": 1}
    assert team.member_names("Team") == set(PEOPLE[:1])
    assert team.target_user("alan@contoso.com")["active"] is True  # still assigned directly
    assert team.cycle().requests == 0


def test_adding_and_removing_members_at_once(team: World) -> None:
    team.group("Team", PEOPLE[1:])

    summary = team.cycle()

    assert counts(summary) == {"update": 1, "unchanged": 2}
    assert summary.requests_by_method == {"PATCH": 1}  # the add and the remove together
    assert team.member_names("Team") == set(PEOPLE[1:])


def test_a_rename_and_a_member_change_are_one_patch_and_one_entry(team: World) -> None:
    team.group("Team", PEOPLE, displayName="Dream Team")

    summary = team.cycle()

    assert counts(summary) == {"update": 1, "unchanged": 1}
    assert summary.requests_by_method == {"PATCH": 1}
    assert team.member_names("Dream Team") == set(PEOPLE)
    (entry,) = team.logs(action="update")
    assert {p.display_name for p in entry.modified_properties} == {"displayName", "members"}
    assert team.cycle().requests == 0


def test_a_new_user_joining_an_assigned_group_is_created_and_added(team: World) -> None:
    team.user("linus@contoso.com")
    team.group("Team", [*PEOPLE[:2], "linus@contoso.com"])

    summary = team.cycle()

    assert counts(summary) == {"create": 1, "update": 1}, summary.failures
    assert summary.requests_by_method == {"GET": 1, "POST": 1, "PATCH": 1}
    assert team.member_names("Team") == {*PEOPLE[:2], "linus@contoso.com"}


def test_a_member_leaving_the_only_group_that_assigned_it_is_disabled_and_removed(
    world: World,
) -> None:
    world.user("ada@contoso.com")
    world.user("alan@contoso.com")
    world.group("Team", ["ada@contoso.com", "alan@contoso.com"])
    world.assign(group="Team")
    assert counts(world.cycle()) == {"create": 3}
    world.group("Team", ["ada@contoso.com"])

    summary = world.cycle()

    assert counts(summary) == {"update": 1, "disable": 1}
    assert world.member_names("Team") == {"ada@contoso.com"}
    assert world.target_user("alan@contoso.com")["active"] is False


def test_an_unassigned_group_is_deleted_in_the_target(team: World) -> None:
    target_id = team.target_group("Team")["id"]
    team.unassign(group="Team")

    summary = team.cycle()

    assert counts(summary) == {"delete": 1, "unchanged": 2}  # ada and alan stay assigned
    assert summary.requests_by_method == {"DELETE": 1}
    assert team.http.get(f"Groups/{target_id}").status_code == 404
    assert all(u["active"] for u in team.users())  # the users are assigned directly
    assert team.cycle().requests == 0


def test_a_group_deleted_in_the_directory_is_deleted_in_the_target(team: World) -> None:
    target_id = team.target_group("Team")["id"]
    with team.write() as conn:
        store.delete_group(conn, "Team")

    summary = team.cycle()

    assert counts(summary) == {"delete": 1, "unchanged": 2}
    assert summary.requests == 1
    assert team.http.get(f"Groups/{target_id}").status_code == 404


def test_a_deleted_member_leaves_the_group(team: World) -> None:
    with team.write() as conn:
        store.hard_delete_user(conn, "alan@contoso.com")

    summary = team.cycle()

    assert summary.counts["delete"] == 1
    assert team.member_names("Team") == {"ada@contoso.com"}
    assert team.cycle().requests == 0


def test_groups_can_be_turned_off(world: World) -> None:
    world.assigned_user("ada@contoso.com")
    world.group("Team", ["ada@contoso.com"])
    world.assign(group="Team")
    world.configure(object_types={"user": True, "group": False})

    summary = world.cycle()

    assert counts(summary) == {"create": 1}
    assert world.groups() == []
