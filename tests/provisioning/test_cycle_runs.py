"""Ways to run a cycle: dry runs, provisioning on demand, and the logs a real cycle leaves."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from conftest import APP, ENTERPRISE, World, counts
from scimitar.cli.logs import logs as logs_command

pytestmark = pytest.mark.e2e


# -- dry run ---------------------------------------------------------------------------


def test_a_dry_run_plans_everything_and_writes_nothing(world: World) -> None:
    world.assigned_user("boss@contoso.com")
    world.assigned_user("ada@contoso.com", manager="boss@contoso.com")
    world.user("grace@contoso.com")
    world.group("Team", ["ada@contoso.com", "grace@contoso.com"])
    world.assign(group="Team")

    plan = world.cycle(dry_run=True)

    assert plan.dry_run
    assert plan.to_json()["dryRun"] is True
    assert counts(plan) == {"create": 4}
    assert set(plan.requests_by_method) == {"GET"}  # matching lookups only
    assert world.users() == []
    assert world.groups() == []
    assert world.logs() == []  # a plan is printed, not stored
    planned = {(e.action, e.object_type, e.source_identity.display_name) for e in plan.planned}
    assert planned == {
        ("create", "user", "boss@contoso.com"),
        ("create", "user", "ada@contoso.com"),
        ("create", "user", "grace@contoso.com"),
        ("create", "group", "Team"),
    }
    assert all((e.reason or "").startswith("dry run") for e in plan.planned)

    real = world.cycle()

    assert real.type == "initial"  # the dry run moved no watermark
    assert counts(real) == {"create": 4}
    assert len(world.users()) == 3


def test_a_dry_run_of_changes_sends_no_write(world: World) -> None:
    for upn in ("ada@contoso.com", "alan@contoso.com", "grace@contoso.com"):
        world.assigned_user(upn, jobTitle="Engineer")
    world.group("Team", ["ada@contoso.com", "alan@contoso.com"])
    world.assign(group="Team")
    world.cycle()
    before = (world.users(), world.groups())
    world.user("ada@contoso.com", jobTitle="Boss")
    world.unassign(user="alan@contoso.com")  # still in Team: stays
    world.unassign(user="grace@contoso.com")
    world.group("Team", ["ada@contoso.com"], displayName="Crew")

    plan = world.cycle(dry_run=True)

    # ada: title; alan: out of the group, now unassigned; Crew: renamed and shrunk
    assert counts(plan) == {"update": 2, "disable": 2}
    assert plan.requests == 0
    assert (world.users(), world.groups()) == before
    actions = {(e.action, e.source_identity.display_name) for e in plan.planned}
    assert actions == {
        ("update", "ada@contoso.com"),
        ("disable", "alan@contoso.com"),
        ("disable", "grace@contoso.com"),
        ("update", "Crew"),
    }
    groups = [e for e in plan.planned if e.object_type == "group"]
    changed = sorted(p.display_name for e in groups for p in e.modified_properties)
    assert changed == ["displayName", "members"]

    real = world.cycle()

    assert counts(real) == counts(plan)
    assert world.target_group("Crew")["displayName"] == "Crew"


# -- provision on demand ---------------------------------------------------------------


def test_provisioning_on_demand_creates_that_user_alone_and_adds_it_to_its_groups(
    world: World,
) -> None:
    world.user("ada@contoso.com")
    world.group("Team", ["ada@contoso.com"])
    world.assign(group="Team")
    world.cycle()
    world.user("alan@contoso.com")
    world.user("grace@contoso.com")
    world.group("Team", ["ada@contoso.com", "alan@contoso.com", "grace@contoso.com"])
    world.assigned_user("linus@contoso.com")

    summary = world.cycle(only_user="alan@contoso.com")

    assert counts(summary) == {"create": 1, "update": 1}, summary.failures
    assert {u["userName"] for u in world.users()} == {"ada@contoso.com", "alan@contoso.com"}
    assert world.member_names("Team") == {"ada@contoso.com", "alan@contoso.com"}
    user_entry, group_entry = summary.planned
    assert (user_entry.action, user_entry.status) == ("create", "success")
    steps = [s.provisioning_step_type for s in user_entry.provisioning_steps]
    assert steps == ["import", "scoping", "matching", "export"]
    assert (group_entry.object_type, group_entry.action) == ("group", "update")

    rest = world.cycle()  # the others wait for the next cycle, which still sees them

    assert rest.type == "incremental"
    assert counts(rest) == {"create": 2, "update": 1, "unchanged": 1}, rest.failures
    assert world.member_names("Team") == {
        "ada@contoso.com",
        "alan@contoso.com",
        "grace@contoso.com",
    }
    assert world.cycle().requests == 0


def test_provisioning_on_demand_creates_a_missing_group_with_that_user_only(
    world: World,
) -> None:
    world.user("ada@contoso.com")
    world.user("alan@contoso.com")
    world.group("Team", ["ada@contoso.com", "alan@contoso.com"])
    world.assign(group="Team")

    summary = world.cycle(only_user="ada@contoso.com")

    assert counts(summary) == {"create": 2}
    assert world.member_names("Team") == {"ada@contoso.com"}


def test_provisioning_on_demand_deletes_no_group(world: World) -> None:
    world.assigned_user("ada@contoso.com")
    world.group("Team", ["ada@contoso.com"])
    world.assign(group="Team")
    world.cycle()
    world.unassign(group="Team")
    world.user("ada@contoso.com", jobTitle="Lead")

    summary = world.cycle(only_user="ada@contoso.com")

    assert counts(summary) == {"update": 1}
    assert [g["displayName"] for g in world.groups()] == ["Team"]
    assert counts(world.cycle()) == {"delete": 1, "unchanged": 1}  # the next cycle does it
    assert world.groups() == []


def test_provisioning_on_demand_an_out_of_scope_user_explains_why(world: World) -> None:
    world.user("ada@contoso.com", department="Sales")
    world.assign(user="ada@contoso.com", role="Default Access")

    summary = world.cycle(only_user="ada@contoso.com")

    assert summary.requests == 0
    (entry,) = summary.planned
    assert entry.status == "skipped"
    assert entry.error_code == "NotEffectivelyEntitled"


def test_provisioning_on_demand_an_unknown_user_is_refused(world: World) -> None:
    with pytest.raises(LookupError, match=r"nobody@contoso\.com"):
        world.cycle(only_user="nobody@contoso.com")


def test_provisioning_on_demand_sets_the_manager_when_it_exists(world: World) -> None:
    world.assigned_user("boss@contoso.com")
    world.cycle()
    world.assigned_user("ada@contoso.com", manager="boss@contoso.com")

    summary = world.cycle(only_user="ada@contoso.com")

    assert counts(summary) == {"create": 1}
    boss = world.target_user("boss@contoso.com")
    assert world.target_user("ada@contoso.com")[ENTERPRISE]["manager"]["value"] == boss["id"]


# -- logs in three formats -------------------------------------------------------------


def run_logs(world: World, *args: str) -> str:
    result = CliRunner().invoke(
        logs_command, [APP, *args, "--database-url", world.database_url], prog_name="scimitar logs"
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def logged(world: World) -> World:
    """A cycle that created two users and a group, and skipped one user."""
    world.assigned_user("ada@contoso.com", jobTitle="Engineer")
    world.assigned_user("alan@contoso.com")
    world.user("grace@contoso.com")
    world.assign(user="grace@contoso.com", role="Default Access")
    world.group("Team", ["ada@contoso.com"])
    world.assign(group="Team")
    summary = world.cycle()
    assert counts(summary) == {"create": 3, "skipped": 1}
    return world


def test_logs_as_a_table(logged: World) -> None:
    lines = run_logs(logged).splitlines()

    assert lines[0].split() == ["TIME", "ACTION", "STATUS", "TYPE", "SOURCE", "TARGET", "ERROR"]
    rows = {line.split()[4]: line.split()[1:4] for line in lines[1:]}
    assert rows == {
        "ada@contoso.com": ["create", "success", "user"],
        "alan@contoso.com": ["create", "success", "user"],
        "grace@contoso.com": ["other", "skipped", "user"],
        "Team": ["create", "success", "group"],
    }
    (grace,) = [line for line in lines if "grace@contoso.com" in line]
    assert "NotEffectivelyEntitled" in grace


def test_logs_as_json(logged: World) -> None:
    entries = json.loads(run_logs(logged, "--format", "json"))

    assert len(entries) == 4
    ada = next(e for e in entries if e["sourceIdentity"]["displayName"] == "ada@contoso.com")
    assert (ada["action"], ada["status"], ada["objectType"]) == ("create", "success", "user")
    assert ada["targetIdentity"]["id"] == logged.target_user("ada@contoso.com")["id"]
    assert {"id", "cycleId", "changeId", "jobId", "activityDateTime", "durationInMilliseconds"} <= (
        set(ada)
    )
    assert [s["provisioningStepType"] for s in ada["provisioningSteps"]] == [
        "import",
        "scoping",
        "matching",
        "export",
    ]
    title = next(p for p in ada["modifiedProperties"] if p["displayName"] == "title")
    assert title["newValue"] == "Engineer"
    skipped = json.loads(run_logs(logged, "--format", "json", "--status", "skipped"))
    assert [(e["errorCode"], e["sourceIdentity"]["displayName"]) for e in skipped] == [
        ("NotEffectivelyEntitled", "grace@contoso.com")
    ]


def test_logs_as_csv(logged: World) -> None:
    rows = list(csv.DictReader(io.StringIO(run_logs(logged, "--format", "csv"))))

    assert len(rows) == 4
    assert {r["action"] for r in rows} == {"create", "other"}
    assert {r["status"] for r in rows} == {"success", "skipped"}
    alan = next(
        r for r in rows if json.loads(r["sourceIdentity"])["displayName"] == "alan@contoso.com"
    )
    assert json.loads(alan["targetIdentity"])["id"] == logged.target_user("alan@contoso.com")["id"]
    assert len({r["cycleId"] for r in rows}) == 1
    only_ada = list(
        csv.DictReader(
            io.StringIO(run_logs(logged, "--format", "csv", "--user", "ada@contoso.com"))
        )
    )
    assert len(only_ada) == 1
