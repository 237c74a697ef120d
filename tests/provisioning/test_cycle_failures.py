"""When the target says no: quarantine on a refused key, escrows and their retries."""

from __future__ import annotations

import pytest

from conftest import World, counts
from scimitar.directory import store
from scimitar.provisioning import apps
from scimitar.provisioning.engine.cycle import Quarantined
from scimitar.provisioning.mappings import Mapping
from scimitar.server.tenants import create_key

pytestmark = pytest.mark.e2e


# -- quarantine ------------------------------------------------------------------------


def test_a_revoked_key_quarantines_the_app_until_it_is_restarted(world: World) -> None:
    world.assigned_user("ada@contoso.com")
    world.cycle()
    world.assigned_user("alan@contoso.com")
    world.revoke_key()

    summary = world.cycle()

    assert summary.quarantined
    assert summary.exit_code == 3
    assert "has been revoked" in (summary.quarantine_reason or "")
    status = apps.provisioning_status(world.engine, world.app)
    assert status.quarantined
    assert status.failed_cycles == 1
    with pytest.raises(Quarantined, match="app restart"):
        world.cycle()

    world.new_key()
    apps.restart(world.engine, "App")
    resumed = world.cycle()

    assert not resumed.quarantined
    assert resumed.exit_code == 0
    assert counts(resumed) == {"create": 1}  # alan, whom the quarantined cycle never reached
    assert {u["userName"] for u in world.users()} == {"ada@contoso.com", "alan@contoso.com"}


def test_a_key_without_admin_rights_quarantines_with_a_reason(world: World) -> None:
    # The seed: the account behind the key needs the Lite Admin permission (a 403).
    weak = create_key(world.target_engine, world.tenant, frozenset({"integration-user"})).secret
    apps.update_connection(world.engine, "App", secret_token=weak)
    world.assigned_user("ada@contoso.com")

    summary = world.cycle()

    assert summary.exit_code == 3
    assert "Lite Admin" in (summary.quarantine_reason or "")
    assert world.users() == []


# -- escrows and retries ---------------------------------------------------------------


def test_a_refused_role_fails_with_the_targets_reason_and_is_retried(
    clarizen_world: World,
) -> None:
    world = clarizen_world
    world.user("ada@contoso.com")
    world.assign(user="ada@contoso.com", role="Administrator")
    world.assigned_user("alan@contoso.com")

    failed = world.cycle()

    assert counts(failed) == {"create": 1, "failure": 1}
    assert failed.exit_code == 1
    (failure,) = failed.failures
    assert failure.source_identity.display_name == "ada@contoso.com"
    assert failure.action == "create"
    assert "Administrator" in (failure.reason or "")
    assert "User" in (failure.reason or "")  # the target says what to do
    assert apps.provisioning_status(world.engine, world.app).escrows == 1
    (logged,) = world.logs(status="failure")
    assert logged.reason == failure.reason
    assert world.find_user("ada@contoso.com") is None

    # No directory change: the incremental cycle retries the escrowed user anyway.
    retried = world.cycle()

    assert retried.type == "incremental"
    assert counts(retried) == {"failure": 1}
    assert retried.requests_by_method == {"GET": 1, "POST": 1}

    world.unassign(user="ada@contoso.com")
    world.assign(user="ada@contoso.com", role="User")
    fixed = world.cycle()

    assert counts(fixed) == {"create": 1}
    assert fixed.exit_code == 0
    assert world.target_user("ada@contoso.com")["roles"] == [{"primary": True, "value": "User"}]
    assert apps.provisioning_status(world.engine, world.app).escrows == 0
    assert world.cycle().requests == 0


def test_a_failed_update_is_retried_until_it_lands(clarizen_world: World) -> None:
    world = clarizen_world
    world.assigned_user("ada@contoso.com", jobTitle="Engineer")
    world.cycle()
    world.assign(user="ada@contoso.com", role="Superuser")
    world.unassign(user="ada@contoso.com")
    world.assign(user="ada@contoso.com", role="Superuser")
    world.user("ada@contoso.com", jobTitle="Lead")

    failed = world.cycle()

    assert counts(failed) == {"failure": 1}
    (failure,) = failed.failures
    assert failure.action == "update"
    assert "Superuser" in (failure.reason or "")
    assert world.target_user("ada@contoso.com")["title"] == "Engineer"  # nothing half-done

    world.unassign(user="ada@contoso.com")
    world.assign(user="ada@contoso.com", role="User")
    fixed = world.cycle()

    assert counts(fixed) == {"update": 1}
    assert fixed.requests == 1
    assert world.target_user("ada@contoso.com")["title"] == "Lead"


def test_an_escrowed_user_taken_out_of_scope_is_no_longer_retried(clarizen_world: World) -> None:
    world = clarizen_world
    world.user("ada@contoso.com")
    world.assign(user="ada@contoso.com", role="Administrator")
    assert counts(world.cycle()) == {"failure": 1}
    world.unassign(user="ada@contoso.com")

    summary = world.cycle()

    assert counts(summary) == {}
    assert summary.requests == 0
    assert apps.provisioning_status(world.engine, world.app).escrows == 0


def test_an_escrowed_user_deleted_from_the_directory_is_no_longer_retried(
    clarizen_world: World,
) -> None:
    world = clarizen_world
    world.user("ada@contoso.com")
    world.assign(user="ada@contoso.com", role="Administrator")
    assert counts(world.cycle()) == {"failure": 1}
    with world.write() as conn:
        store.hard_delete_user(conn, "ada@contoso.com")

    assert counts(world.cycle()) == {}
    assert apps.provisioning_status(world.engine, world.app).escrows == 0


def test_a_user_created_on_retry_joins_its_groups(clarizen_world: World) -> None:
    world = clarizen_world
    world.user("ada@contoso.com")
    world.user("alan@contoso.com")
    world.group("Team", ["ada@contoso.com", "alan@contoso.com"])
    world.assign(group="Team")
    world.assign(user="ada@contoso.com", role="Administrator")
    assert counts(world.cycle()) == {"create": 2, "failure": 1}
    assert world.member_names("Team") == {"alan@contoso.com"}
    world.unassign(user="ada@contoso.com")

    summary = world.cycle()

    assert counts(summary) == {"create": 1, "update": 1}
    assert summary.requests_by_method == {"GET": 1, "POST": 1, "PATCH": 1}
    assert world.member_names("Team") == {"ada@contoso.com", "alan@contoso.com"}


def test_an_expression_that_fails_on_a_users_values_is_a_failure(world: World) -> None:
    world.map_user(
        Mapping("title", "expression", 'FormatDateTime([jobTitle], , "yyyyMMdd", "yyyy-MM-dd")')
    )
    world.assigned_user("ada@contoso.com", jobTitle="20260102")
    world.assigned_user("alan@contoso.com", jobTitle="not a date")

    summary = world.cycle()

    assert counts(summary) == {"create": 1, "failure": 1}
    (failure,) = summary.failures
    assert failure.error_code == "ExpressionFailure"
    assert failure.source_identity.display_name == "alan@contoso.com"
    assert "FormatDateTime" in (failure.reason or "")
    assert world.target_user("ada@contoso.com")["title"] == "2026-01-02"
    assert world.find_user("alan@contoso.com") is None
