"""Who gets provisioned: assignments and roles, Default Access, scope "all", nested groups,
scoping filters, disabled accounts, and a directory imported from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import World, counts
from scimitar.directory import importer
from scimitar.provisioning.scoping import parse_filter

pytestmark = pytest.mark.e2e


def user_names(world: World) -> set[str]:
    return {u["userName"] for u in world.users()}


def test_an_imported_json_organisation_is_provisioned(world: World, tmp_path: Path) -> None:
    org = {
        "users": [
            {
                "userPrincipalName": "ada@contoso.com",
                "displayName": "Ada Lovelace",
                "givenName": "Ada",
                "surname": "Lovelace",
                "mail": "ada@contoso.com",
                "mailNickname": "ada",
                "jobTitle": "Engineer",
                "department": "R&D",
                "employeeId": "E1",
            },
            {
                "userPrincipalName": "alan@contoso.com",
                "displayName": "Alan Turing",
                "manager": "ada@contoso.com",
            },
            {"userPrincipalName": "grace@contoso.com", "displayName": "Grace Hopper"},
        ],
        "groups": [
            {"displayName": "Engineering", "members": ["ada@contoso.com", "alan@contoso.com"]},
            {"displayName": "Everyone", "members": ["grace@contoso.com", {"group": "Engineering"}]},
        ],
    }
    path = tmp_path / "org.json"
    path.write_text(json.dumps(org))
    report = importer.import_file(world.engine, path)
    assert (report.users.created, report.groups.created) == (3, 2)
    world.assign(group="Engineering")

    summary = world.cycle()

    assert summary.type == "initial"
    assert counts(summary) == {"create": 3}, summary.failures  # two users and the group
    assert user_names(world) == {"ada@contoso.com", "alan@contoso.com"}
    ada = world.target_user("ada@contoso.com")
    assert ada["title"] == "Engineer"
    assert ada["name"] == {
        "givenName": "Ada",
        "familyName": "Lovelace",
        "formatted": "Ada Lovelace",
    }
    assert ada["emails"] == [{"type": "work", "value": "ada@contoso.com"}]
    assert ada["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {
        "employeeNumber": "E1",
        "department": "R&D",
    }
    assert ada["roles"] == [{"primary": True, "value": "User"}]
    alan = world.target_user("alan@contoso.com")
    assert alan["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"] == {
        "value": ada["id"]
    }
    assert world.member_names("Engineering") == {"ada@contoso.com", "alan@contoso.com"}
    assert [g["displayName"] for g in world.groups()] == ["Engineering"]


# -- scope by role ---------------------------------------------------------------------


def test_a_user_assigned_with_the_user_role_is_created(world: World) -> None:
    world.assigned_user("ada@contoso.com")
    world.user("alan@contoso.com")  # not assigned

    summary = world.cycle()

    assert counts(summary) == {"create": 1}
    assert summary.requests == 2  # the matching GET, the POST
    assert user_names(world) == {"ada@contoso.com"}
    link = world.link("ada@contoso.com")
    assert link is not None
    assert link.origin == "created"
    assert link.target_id == world.target_user("ada@contoso.com")["id"]


def test_members_of_a_group_assigned_with_the_user_role_are_created(world: World) -> None:
    world.user("ada@contoso.com")
    world.user("alan@contoso.com")
    world.group("Staff", ["ada@contoso.com", "alan@contoso.com"])
    world.assign(group="Staff")

    summary = world.cycle()

    assert counts(summary) == {"create": 3}
    assert user_names(world) == {"ada@contoso.com", "alan@contoso.com"}
    assert world.member_names("Staff") == {"ada@contoso.com", "alan@contoso.com"}


def test_default_access_only_is_skipped_and_logged_not_effectively_entitled(world: World) -> None:
    world.user("ada@contoso.com")
    world.assign(user="ada@contoso.com", role="Default Access")
    world.user("alan@contoso.com")
    world.group("Lobby", ["alan@contoso.com"])
    world.assign(group="Lobby", role="Default Access")

    summary = world.cycle()

    assert counts(summary) == {"skipped": 2}
    assert summary.requests == 0
    assert world.users() == []
    assert world.groups() == []
    skipped = world.logs(status="skipped")
    by_user = {e.source_identity.display_name: e for e in skipped if e.object_type == "user"}
    assert set(by_user) == {"ada@contoso.com", "alan@contoso.com"}
    for entry in by_user.values():
        assert entry.error_code == "NotEffectivelyEntitled"
        assert "Default Access" in (entry.reason or "")


def test_default_access_beside_a_real_role_still_provisions(world: World) -> None:
    world.user("ada@contoso.com")
    world.assign(user="ada@contoso.com", role="Default Access")
    world.assign(user="ada@contoso.com", role="User")

    summary = world.cycle()

    assert counts(summary) == {"create": 1}
    assert world.target_user("ada@contoso.com")["roles"] == [{"primary": True, "value": "User"}]


def test_unassigned_users_and_groups_cost_nothing(world: World) -> None:
    world.user("ada@contoso.com")
    world.group("Staff", ["ada@contoso.com"])

    summary = world.cycle()

    assert summary.requests == 0
    assert counts(summary) == {}
    assert world.users() == []
    assert world.groups() == []
    assert world.logs() == []


def test_scope_all_provisions_unassigned_users_and_groups(world: World) -> None:
    world.user("ada@contoso.com")
    world.user("alan@contoso.com", accountEnabled=False)
    world.group("Staff", ["ada@contoso.com"])
    world.configure(scope="all")

    summary = world.cycle()

    assert summary.exit_code == 0, summary.failures
    assert user_names(world) == {"ada@contoso.com"}  # disabled accounts are never created
    assert world.member_names("Staff") == {"ada@contoso.com"}


# -- nested groups ---------------------------------------------------------------------


@pytest.fixture
def nested(world: World) -> World:
    """Outer (assigned) holds ada and the group Inner, which holds alan."""
    world.user("ada@contoso.com")
    world.user("alan@contoso.com")
    world.group("Inner", ["alan@contoso.com"])
    world.group("Outer", ["ada@contoso.com", "group:Inner"])
    world.assign(group="Outer")
    return world


def test_an_assigned_group_brings_only_its_direct_members(nested: World) -> None:
    summary = nested.cycle()

    assert summary.exit_code == 0, summary.failures
    assert user_names(nested) == {"ada@contoso.com"}
    assert nested.member_names("Outer") == {"ada@contoso.com"}
    assert [g["displayName"] for g in nested.groups()] == ["Outer"]


def test_flattening_nested_groups_brings_nested_members(nested: World) -> None:
    nested.configure(flatten_nested_groups=True)

    summary = nested.cycle()

    assert summary.exit_code == 0, summary.failures
    assert user_names(nested) == {"ada@contoso.com", "alan@contoso.com"}
    assert nested.member_names("Outer") == {"ada@contoso.com", "alan@contoso.com"}


def test_turning_flattening_on_later_adds_the_nested_members(nested: World) -> None:
    nested.cycle()
    nested.configure(flatten_nested_groups=True)

    summary = nested.cycle()

    assert summary.type == "initial"  # a scope change starts over
    assert counts(summary) == {"create": 1, "update": 1, "unchanged": 1}  # Outer gains alan
    assert nested.member_names("Outer") == {"ada@contoso.com", "alan@contoso.com"}


def test_a_nesting_cycle_terminates(world: World) -> None:
    world.user("ada@contoso.com")
    world.user("alan@contoso.com")
    world.group("A", ["ada@contoso.com"])
    world.group("B", ["alan@contoso.com", "group:A"])
    world.group("A", ["ada@contoso.com", "group:B"])  # A in B in A
    world.assign(group="A")
    world.configure(flatten_nested_groups=True)

    summary = world.cycle()

    assert summary.exit_code == 0, summary.failures
    assert user_names(world) == {"ada@contoso.com", "alan@contoso.com"}
    assert world.member_names("A") == {"ada@contoso.com", "alan@contoso.com"}
    # On demand walks the nesting upwards from the user: that walk ends too.
    on_demand = world.cycle(only_user="alan@contoso.com")
    assert on_demand.exit_code == 0
    assert on_demand.requests == 0


# -- scoping filters -------------------------------------------------------------------


@pytest.fixture
def staff(world: World) -> World:
    """Three assigned users from different departments."""
    world.assigned_user("ada@contoso.com", department="Sales", employeeId="E100")
    world.assigned_user("alan@contoso.com", department="Engineering", employeeId="X7")
    world.assigned_user("grace@contoso.com", department="sales")
    return world


def scoped(world: World, *filters: list[str]) -> set[str]:
    world.configure(scoping_filters={"user": tuple(parse_filter(f) for f in filters), "group": ()})
    summary = world.cycle()
    assert summary.exit_code == 0, summary.failures
    return user_names(world)


def test_scoping_filter_equals(staff: World) -> None:
    # EQUALS is case-sensitive, as Entra documents it: "sales" is not "Sales".
    assert scoped(staff, ["department EQUALS Sales"]) == {"ada@contoso.com"}
    skipped = staff.logs(status="skipped")
    assert sorted(e.source_identity.display_name for e in skipped) == [
        "alan@contoso.com",
        "grace@contoso.com",
    ]
    assert all("scoping filters" in (e.reason or "") for e in skipped)


def test_scoping_filter_is_not_null(staff: World) -> None:
    assert scoped(staff, ["employeeId IS NOT NULL"]) == {"ada@contoso.com", "alan@contoso.com"}


def test_scoping_filter_regex_match(staff: World) -> None:
    assert scoped(staff, ["employeeId REGEX MATCH ^E[0-9]+$"]) == {"ada@contoso.com"}


def test_scoping_clauses_and_filters_or(staff: World) -> None:
    found = scoped(
        staff,
        ["department EQUALS sales", "employeeId IS NULL"],  # grace
        ["department ENDS_WITH ing"],  # alan
    )
    assert found == {"grace@contoso.com", "alan@contoso.com"}


def test_leaving_the_scoping_filter_disables_the_user(staff: World) -> None:
    assert scoped(staff, ["department EQUALS Sales"]) == {"ada@contoso.com"}
    staff.user("ada@contoso.com", department="Support")

    summary = staff.cycle()

    assert counts(summary) == {"disable": 1}
    assert summary.requests == 1
    assert staff.target_user("ada@contoso.com")["active"] is False


# -- disabled accounts -----------------------------------------------------------------


def test_disabled_users_are_never_created(world: World) -> None:
    world.assigned_user("ada@contoso.com", accountEnabled=False)

    summary = world.cycle()

    assert counts(summary) == {"skipped": 1}
    assert summary.requests == 0
    assert world.users() == []
    (entry,) = world.logs()
    assert "disabled" in (entry.reason or "")
