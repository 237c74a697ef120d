"""Incremental cycles: minimal PATCHes, free no-change cycles, disable vs delete, the
accidental-deletion threshold, and manager references."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import ENTERPRISE, World, counts
from scimitar.directory import store
from scimitar.provisioning import apps
from scimitar.provisioning.app_settings import AppSettings
from scimitar.provisioning.mappings import Mapping, remove_mapping

pytestmark = pytest.mark.e2e


@pytest.fixture
def ada(world: World) -> World:
    """ada, assigned and provisioned by a first cycle."""
    world.assigned_user("ada@contoso.com", jobTitle="Engineer", department="R&D")
    first = world.cycle()
    assert counts(first) == {"create": 1}, first.failures
    return world


# -- minimal PATCHes -------------------------------------------------------------------


def test_an_unchanged_directory_costs_no_request(ada: World) -> None:
    summary = ada.cycle()

    assert summary.type == "incremental"
    assert summary.requests == 0
    assert counts(summary) == {}


def test_one_changed_attribute_sends_exactly_one_patch(ada: World) -> None:
    ada.user("ada@contoso.com", jobTitle="Principal Engineer")

    summary = ada.cycle()

    assert counts(summary) == {"update": 1}
    assert summary.requests == 1
    assert summary.requests_by_method == {"PATCH": 1}
    found = ada.target_user("ada@contoso.com")
    assert found["title"] == "Principal Engineer"
    assert found["meta"]["version"] == 'W/"2"'
    (entry,) = ada.logs(action="update")
    assert [(p.display_name, p.old_value, p.new_value) for p in entry.modified_properties] == [
        ("title", "Engineer", "Principal Engineer")
    ]
    assert ada.cycle().requests == 0


def test_a_directory_write_that_changes_no_mapped_value_costs_nothing(ada: World) -> None:
    ada.user("ada@contoso.com", userType="Member")  # not mapped

    summary = ada.cycle()

    assert counts(summary) == {"unchanged": 1}
    assert summary.requests == 0


def test_a_cleared_attribute_is_removed_from_the_target(ada: World) -> None:
    ada.user("ada@contoso.com", department=None)

    summary = ada.cycle()

    assert counts(summary) == {"update": 1}
    assert summary.requests == 1
    assert "department" not in ada.target_user("ada@contoso.com").get(ENTERPRISE, {})


def test_a_full_initial_cycle_over_unchanged_objects_sends_only_nothing(ada: World) -> None:
    ada.configure(flatten_nested_groups=True)  # a scope setting: the next cycle is initial

    summary = ada.cycle()

    assert summary.type == "initial"
    assert counts(summary) == {"unchanged": 1}
    assert summary.requests == 0


def test_a_renamed_user_keeps_its_target_object(ada: World) -> None:
    target_id = ada.target_user("ada@contoso.com")["id"]
    object_id = ada.user("ada@contoso.com").object_id
    with ada.write() as conn:
        store.upsert_user(conn, {"objectId": object_id, "userPrincipalName": "ada.l@contoso.com"})

    summary = ada.cycle()

    assert counts(summary) == {"update": 1}
    assert summary.requests_by_method == {"PATCH": 1}
    assert [(u["id"], u["userName"]) for u in ada.users()] == [(target_id, "ada.l@contoso.com")]


def test_ignore_flow_if_null_or_empty_leaves_the_target_value_alone(world: World) -> None:
    world.map_user(Mapping("title", "expression", "IgnoreFlowIfNullOrEmpty([jobTitle])"))
    world.assigned_user("ada@contoso.com", jobTitle="Engineer")
    assert counts(world.cycle()) == {"create": 1}
    world.user("ada@contoso.com", jobTitle=None, department="R&D")

    summary = world.cycle()

    assert counts(summary) == {"update": 1}
    assert summary.requests == 1
    ada = world.target_user("ada@contoso.com")
    assert ada["title"] == "Engineer"  # not flowed, not cleared
    assert ada[ENTERPRISE]["department"] == "R&D"
    (entry,) = world.logs(action="update")
    assert [p.display_name for p in entry.modified_properties] == [f"{ENTERPRISE}:department"]


def test_removing_a_mapping_stops_the_flow_without_clearing_the_target(ada: World) -> None:
    def without_title(settings: AppSettings) -> AppSettings:
        users = remove_mapping(settings.mappings["user"], "title")
        return replace(settings, mappings={**settings.mappings, "user": users})

    apps.update_settings(ada.engine, "App", without_title)
    ada.user("ada@contoso.com", jobTitle="CTO")

    summary = ada.cycle()

    assert summary.type == "initial"
    assert counts(summary) == {"unchanged": 1}
    assert summary.requests == 0
    assert ada.target_user("ada@contoso.com")["title"] == "Engineer"


# -- disable vs delete -----------------------------------------------------------------


def test_unassigning_disables(ada: World) -> None:
    ada.unassign(user="ada@contoso.com")

    summary = ada.cycle()

    assert counts(summary) == {"disable": 1}
    assert summary.requests_by_method == {"PATCH": 1}
    assert ada.target_user("ada@contoso.com")["active"] is False
    (entry,) = ada.logs(action="disable")
    assert entry.status == "success"
    assert "not assigned" in (entry.reason or "")


def test_reassigning_a_disabled_user_enables_it_again(ada: World) -> None:
    ada.unassign(user="ada@contoso.com")
    ada.cycle()
    ada.assign(user="ada@contoso.com")

    summary = ada.cycle()

    assert counts(summary) == {"update": 1}
    assert summary.requests == 1
    assert ada.target_user("ada@contoso.com")["active"] is True
    assert ada.cycle().requests == 0


def test_soft_deleting_disables_and_restoring_enables(ada: World) -> None:
    with ada.write() as conn:
        store.soft_delete_user(conn, "ada@contoso.com")

    summary = ada.cycle()

    assert counts(summary) == {"disable": 1}
    assert ada.target_user("ada@contoso.com")["active"] is False
    with ada.write() as conn:
        store.restore_user(conn, "ada@contoso.com")
    assert counts(ada.cycle()) == {"update": 1}
    assert ada.target_user("ada@contoso.com")["active"] is True


def test_disabling_the_account_disables_the_target_user(ada: World) -> None:
    ada.user("ada@contoso.com", accountEnabled=False)

    summary = ada.cycle()

    assert counts(summary) == {"disable": 1}
    assert summary.requests == 1
    assert ada.target_user("ada@contoso.com")["active"] is False


def test_a_hard_delete_deletes_the_target_user(ada: World) -> None:
    target_id = ada.target_user("ada@contoso.com")["id"]
    with ada.write() as conn:
        store.hard_delete_user(conn, "ada@contoso.com")

    summary = ada.cycle()

    assert counts(summary) == {"delete": 1}
    assert summary.requests_by_method == {"DELETE": 1}
    assert ada.get_user(target_id).status_code == 404
    (entry,) = ada.logs(action="delete")
    assert entry.target_identity is not None
    assert entry.target_identity.id == target_id
    assert ada.cycle().requests == 0


def test_a_purge_after_soft_delete_deletes_the_disabled_target_user(ada: World) -> None:
    target_id = ada.target_user("ada@contoso.com")["id"]
    with ada.write() as conn:
        store.soft_delete_user(conn, "ada@contoso.com")
    assert counts(ada.cycle()) == {"disable": 1}
    with ada.write() as conn:
        assert store.purge_deleted(conn, store.utcnow(), retention_days=0) == 1

    summary = ada.cycle()

    assert counts(summary) == {"delete": 1}
    assert ada.get_user(target_id).status_code == 404


def test_skip_out_of_scope_deletions_leaves_the_user_active(ada: World) -> None:
    ada.configure(skip_out_of_scope_deletions=True)
    ada.cycle()
    ada.unassign(user="ada@contoso.com")

    summary = ada.cycle()

    assert counts(summary) == {"skipped": 1}
    assert summary.requests == 0
    assert ada.target_user("ada@contoso.com")["active"] is True
    (entry,) = ada.logs(status="skipped")
    assert "skip out-of-scope deletions" in (entry.reason or "")


def test_an_object_deleted_in_the_target_is_created_again(ada: World) -> None:
    target_id = ada.target_user("ada@contoso.com")["id"]
    assert ada.http.delete(f"Users/{target_id}").status_code == 204
    ada.user("ada@contoso.com", jobTitle="CTO")

    summary = ada.cycle()

    assert counts(summary) == {"create": 1}, summary.failures
    recreated = ada.target_user("ada@contoso.com")
    assert recreated["id"] != target_id
    assert recreated["title"] == "CTO"


def test_actions_the_app_does_not_allow_are_skipped(ada: World) -> None:
    ada.configure(allowed_actions={"user": ("create",), "group": ("create", "update", "delete")})
    ada.assigned_user("alan@contoso.com")
    ada.user("ada@contoso.com", jobTitle="CTO")

    summary = ada.cycle()

    assert counts(summary) == {"create": 1, "skipped": 1}
    ada.unassign(user="ada@contoso.com")
    assert counts(ada.cycle()) == {"skipped": 1}
    found = ada.target_user("ada@contoso.com")
    assert (found["title"], found["active"]) == ("Engineer", True)
    reasons = [e.reason or "" for e in ada.logs(status="skipped")]
    assert "does not allow update" in reasons[0]
    assert "does not allow delete" in reasons[1]


# -- the accidental-deletion threshold -------------------------------------------------


def test_deletions_over_the_threshold_are_staged_until_allowed(world: World) -> None:
    for name in ("ada", "alan", "grace"):
        world.assigned_user(f"{name}@contoso.com")
    world.configure(deletion_threshold=1)
    assert counts(world.cycle()) == {"create": 3}
    world.unassign(user="ada@contoso.com")
    with world.write() as conn:
        store.hard_delete_user(conn, "alan@contoso.com")

    held = world.cycle()

    assert counts(held) == {"stagedDelete": 2}
    assert held.requests == 0
    assert len(world.users()) == 3
    assert all(u["active"] for u in world.users())
    staged = world.logs(action="stagedDelete")
    assert {e.status for e in staged} == {"skipped"}
    assert all("allow-deletes" in (e.reason or "") for e in staged)
    assert apps.allow_deletes(world.engine, "App") == 2

    released = world.cycle()

    assert counts(released) == {"disable": 1, "delete": 1}
    assert released.requests_by_method == {"PATCH": 1, "DELETE": 1}
    assert {u["userName"]: u["active"] for u in world.users()} == {
        "ada@contoso.com": False,
        "grace@contoso.com": True,
    }
    assert world.cycle().requests == 0


@pytest.fixture
def held(world: World) -> World:
    """Three users provisioned; ada and alan unassigned; the threshold (1) held both back."""
    for name in ("ada", "alan", "grace"):
        world.assigned_user(f"{name}@contoso.com")
    world.configure(deletion_threshold=1)
    world.cycle()
    world.unassign(user="ada@contoso.com")
    world.unassign(user="alan@contoso.com")
    assert counts(world.cycle()) == {"stagedDelete": 2}
    return world


def test_held_deletions_survive_the_cycles_before_they_are_allowed(held: World) -> None:
    again = held.cycle()  # the next scheduled cycle: nothing new in the directory

    assert counts(again) == {"stagedDelete": 2}
    assert again.requests == 0
    assert apps.allow_deletes(held.engine, "App") == 2
    released = held.cycle()
    assert counts(released) == {"disable": 2}
    assert {u["userName"]: u["active"] for u in held.users()} == {
        "ada@contoso.com": False,
        "alan@contoso.com": False,
        "grace@contoso.com": True,
    }
    entries = held.logs(action="disable")
    assert {e.source_identity.display_name for e in entries} == {
        "ada@contoso.com",
        "alan@contoso.com",
    }


def test_a_held_user_assigned_again_is_not_disabled_when_deletes_are_allowed(
    held: World,
) -> None:
    held.assign(user="ada@contoso.com")
    apps.allow_deletes(held.engine, "App")

    released = held.cycle()

    assert counts(released) == {"unchanged": 1, "disable": 1}
    assert {u["userName"]: u["active"] for u in held.users()} == {
        "ada@contoso.com": True,
        "alan@contoso.com": False,
        "grace@contoso.com": True,
    }


def test_deletions_within_the_threshold_go_at_once(world: World) -> None:
    world.assigned_user("ada@contoso.com")
    world.configure(deletion_threshold=1)
    world.cycle()
    world.unassign(user="ada@contoso.com")

    assert counts(world.cycle()) == {"disable": 1}


# -- manager references ----------------------------------------------------------------


def manager_of(world: World, upn: str) -> str | None:
    value: str | None = world.target_user(upn).get(ENTERPRISE, {}).get("manager", {}).get("value")
    return value


def test_managers_point_at_the_managers_target_id_and_follow_changes(world: World) -> None:
    world.assigned_user("boss@contoso.com")
    world.assigned_user("other@contoso.com")
    world.assigned_user("ada@contoso.com", manager="boss@contoso.com")

    first = world.cycle()

    assert counts(first) == {"create": 3}, first.failures
    ids = {u["userName"]: u["id"] for u in world.users()}
    assert manager_of(world, "ada@contoso.com") == ids["boss@contoso.com"]
    assert manager_of(world, "boss@contoso.com") is None

    world.user("ada@contoso.com", manager="other@contoso.com")
    changed = world.cycle()

    assert counts(changed) == {"update": 1}
    assert changed.requests == 1
    assert manager_of(world, "ada@contoso.com") == ids["other@contoso.com"]

    world.user("ada@contoso.com", manager=None)
    assert counts(world.cycle()) == {"update": 1}
    assert manager_of(world, "ada@contoso.com") is None
    assert world.cycle().requests == 0


def test_a_manager_provisioned_later_is_referenced_once_it_exists(world: World) -> None:
    world.user("boss@contoso.com")
    world.assigned_user("ada@contoso.com", manager="boss@contoso.com")
    assert counts(world.cycle()) == {"create": 1}
    assert manager_of(world, "ada@contoso.com") is None  # the manager is not in the target

    world.assign(user="boss@contoso.com")
    summary = world.cycle()

    assert counts(summary) == {"create": 1, "update": 1}, summary.failures
    boss = world.target_user("boss@contoso.com")
    assert manager_of(world, "ada@contoso.com") == boss["id"]


def test_managers_who_manage_each_other_still_resolve(world: World) -> None:
    world.assigned_user("ada@contoso.com")
    world.assigned_user("alan@contoso.com", manager="ada@contoso.com")
    world.user("ada@contoso.com", manager="alan@contoso.com")

    summary = world.cycle()

    assert counts(summary) == {"create": 2}, summary.failures
    ids = {u["userName"]: u["id"] for u in world.users()}
    assert manager_of(world, "ada@contoso.com") == ids["alan@contoso.com"]
    assert manager_of(world, "alan@contoso.com") == ids["ada@contoso.com"]
    assert world.cycle().requests == 0


def test_a_manager_chain_created_in_one_cycle_resolves(world: World) -> None:
    world.assigned_user("ceo@contoso.com")
    world.assigned_user("vp@contoso.com", manager="ceo@contoso.com")
    world.assigned_user("lead@contoso.com", manager="vp@contoso.com")
    world.assigned_user("dev@contoso.com", manager="lead@contoso.com")

    summary = world.cycle()

    assert counts(summary) == {"create": 4}, summary.failures
    # managers are created top down, so each POST names the manager: no PATCH after
    assert summary.requests_by_method == {"GET": 4, "POST": 4}
    assert {e.action for e in world.logs()} == {"create"}
    ids = {u["userName"]: u["id"] for u in world.users()}
    assert manager_of(world, "vp@contoso.com") == ids["ceo@contoso.com"]
    assert manager_of(world, "lead@contoso.com") == ids["vp@contoso.com"]
    assert manager_of(world, "dev@contoso.com") == ids["lead@contoso.com"]
    assert world.cycle().requests == 0
