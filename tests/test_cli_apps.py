"""``scimitar app``: the command group through click, on a real SQLite database."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from scimitar.cli.apps import app as app_group
from scimitar.db.engine import make_engine, write_transaction
from scimitar.db.migrate import upgrade
from scimitar.directory import store as directory
from scimitar.provisioning import apps as registry
from scimitar.provisioning.tables import provisioning_state

# The real-target helpers live beside the provisioning tests (which import them as
# `target`, pytest putting their folder on sys.path); this module sits one level up.
sys.path.insert(0, str(Path(__file__).parent / "provisioning"))
from target import serve_scimitar

TOKEN = "api-key-do-not-print-0123456789"


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-apps') / 'scimitar.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def name() -> str:
    return f"clarizen-{uuid.uuid4().hex[:8]}"


def run(db_url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(
        app_group, [*args, "--database-url", db_url], prog_name="scimitar app", input=input
    )


def ok(db_url: str, *args: str, input: str | None = None) -> Result:
    result = run(db_url, *args, input=input)
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    return result


def fails(db_url: str, *args: str) -> Result:
    result = run(db_url, *args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return result


@pytest.fixture
def added(db_url: str, name: str) -> str:
    ok(
        db_url,
        "add",
        name,
        "--gallery",
        "clarizen-one",
        "--data-center",
        "us-sandbox",
        "--secret-token",
        TOKEN,
    )
    return name


def test_add_list_and_show_never_print_the_token(db_url: str, name: str) -> None:
    result = ok(
        db_url,
        "add",
        name,
        "--gallery",
        "clarizen-one",
        "--data-center",
        "eu-prod",
        "--secret-token",
        TOKEN,
        "--notification-email",
        "ops@contoso.com",
    )
    assert f"added app '{name}' (Clarizen One, https://serviceseu1.clarizen.com/scim/v2)" in (
        result.stdout
    )
    assert "provisioning is off" in result.stdout
    listed = ok(db_url, "list").stdout.splitlines()
    assert f"{name}\tclarizen-one\toff\thttps://serviceseu1.clarizen.com/scim/v2" in listed
    shown = ok(db_url, "show", name).stdout
    assert "secret token: stored encrypted, never shown" in shown
    assert "notification e-mail: ops@contoso.com (failures e-mailed)" in shown
    assert "roles: User, Administrator," in shown
    assert "user mappings (23):" in shown
    assert "  userName <- userPrincipalName  [matching 1]" in shown
    assert "next cycle: initial" in shown
    document = json.loads(ok(db_url, "show", name, "--json").stdout)
    assert document["settings"]["scope"] == "assigned"
    assert document["roles"][-1] == "Default Access"
    assert TOKEN not in json.dumps(document)


def test_the_token_is_prompted_for_when_left_out(db_url: str, name: str) -> None:
    result = ok(
        db_url,
        "add",
        name,
        "--gallery",
        "generic-scim",
        "--tenant-url",
        "http://127.0.0.1:9/scim/v2",
        input=f"{TOKEN}\n",
    )
    assert "Secret token:" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--gallery", "clarizen-one", "--tenant-url", "ftp://x/scim"), "must be an http"),
        (("--gallery", "generic-scim", "--data-center", "us-prod"), "has no data centers"),
        (("--gallery", "clarizen-one"), "either a tenant URL or a data center"),
    ],
)
def test_add_errors(db_url: str, name: str, args: tuple[str, ...], message: str) -> None:
    result = fails(db_url, "add", name, *args, "--secret-token", TOKEN)
    assert message in result.stderr


def test_duplicate_and_unknown_apps(db_url: str, added: str) -> None:
    result = fails(
        db_url,
        "add",
        added,
        "--gallery",
        "clarizen-one",
        "--data-center",
        "us-prod",
        "--secret-token",
        TOKEN,
    )
    assert "already exists" in result.stderr
    assert "no app named 'missing'" in fails(db_url, "show", "missing").stderr


def test_assign_checks_roles_and_warns_of_refused_ones(db_url: str, added: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    upn, group = f"bo.{suffix}@contoso.com", f"Finance {suffix}"
    engine = make_engine(db_url)
    with write_transaction(engine) as conn:
        directory.upsert_user(conn, {"userPrincipalName": upn, "accountEnabled": True})
        directory.upsert_group(conn, {"displayName": group})
    engine.dispose()
    result = ok(db_url, "assign", added, "--user", upn, "--role", "User")
    assert result.stdout == f"assigned user {upn} to '{added}' with the role User\n"
    result = ok(db_url, "assign", added, "--group", group, "--role", "time & expense user")
    assert "with the role Time & Expense user" in result.stdout
    assert "warning: Clarizen One accepts only the User role" in result.stderr
    bad = fails(db_url, "assign", added, "--user", upn, "--role", "Owner")
    assert "its roles are: User, Administrator" in bad.stderr
    assert "Default Access" in bad.stderr
    result = ok(db_url, "unassign", added, "--group", group)
    assert f"unassigned group {group} from '{added}' (1 role(s))" in result.stdout
    assert "is not assigned" in fails(db_url, "unassign", added, "--group", group).stderr


def test_mapping_set_list_remove(db_url: str, added: str) -> None:
    result = ok(db_url, "mapping", "set", added, "--target", "nickName", "--source", "MAILNICKNAME")
    assert result.stdout.splitlines()[0] == "user mapping saved: nickName <- mailNickname"
    assert "the next cycle is an initial one" in result.stdout
    result = ok(
        db_url,
        "mapping",
        "set",
        added,
        "--target",
        'emails[type eq "work"].value',
        "--matching-precedence",
        "1",
        "--apply",
        "create",
        "--default",
        "none@x.org",
    )
    assert "[matching 1, on create only, default 'none@x.org']" in result.stdout
    listed = ok(db_url, "mapping", "list", added).stdout.splitlines()
    assert "userName <- userPrincipalName  [matching 2]" in listed
    assert "nickName <- mailNickname" in listed
    everything = ok(db_url, "mapping", "list", added, "--all").stdout
    assert "name.honorificPrefix (String, not mapped)" in everything
    assert "nickName (String, not mapped)" not in everything
    ok(db_url, "mapping", "remove", added, "--target", "nickName")
    assert "nickName <-" not in ok(db_url, "mapping", "list", added).stdout
    groups = ok(db_url, "mapping", "list", added, "--object", "group").stdout.splitlines()
    assert groups == [
        "displayName <- displayName  [matching 1]",
        "externalId <- objectId",
        "members <- members",
    ]


def test_mapping_errors_name_the_problem(db_url: str, added: str) -> None:
    unknown = fails(db_url, "mapping", "set", added, "--target", "titel", "--source", "jobTitle")
    assert "did you mean 'title'" in unknown.stderr
    expression = fails(
        db_url, "mapping", "set", added, "--target", "title", "--expression", "Left([jobTitle], "
    )
    assert "expression for title:" in expression.stderr
    required = fails(db_url, "mapping", "remove", added, "--target", "userName")
    assert "userName is required" in required.stderr
    usage = run(
        db_url, "mapping", "set", added, "--target", "title", "--source", "a", "--constant", "b"
    )
    assert usage.exit_code == 2
    warned = ok(db_url, "mapping", "set", added, "--target", "nickName", "--source", "badgeName")
    assert "warning: 'badgeName' is not a standard user attribute" in warned.stderr


def test_mapping_export_import_and_restore(db_url: str, added: str, tmp_path: Path) -> None:
    ok(db_url, "mapping", "set", added, "--target", "title", "--constant", "Staff")
    ok(db_url, "scoping-filter", "add", added, "--clause", "department EQUALS Sales")
    exported = tmp_path / "mappings.json"
    ok(db_url, "mapping", "export", added, "--output", str(exported))
    document = json.loads(exported.read_text())
    assert document["user"]["scopingFilters"][0]["clauses"][0]["value"] == "Sales"
    ok(db_url, "mapping", "restore-defaults", added)
    assert "title <- jobTitle" in ok(db_url, "mapping", "list", added).stdout
    assert "none" in ok(db_url, "scoping-filter", "list", added).stdout
    result = ok(db_url, "mapping", "import", added, str(exported))
    assert "imported user and group mappings" in result.stdout
    assert "title <- constant 'Staff'" in ok(db_url, "mapping", "list", added).stdout
    assert "(department EQUALS Sales)" in ok(db_url, "scoping-filter", "list", added).stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert "is not JSON" in fails(db_url, "mapping", "import", added, str(bad)).stderr
    bad.write_text("{}")
    assert "not a mappings file" in fails(db_url, "mapping", "import", added, str(bad)).stderr


def test_scoping_filters(db_url: str, added: str) -> None:
    result = ok(
        db_url,
        "scoping-filter",
        "add",
        added,
        "--clause",
        "department EQUALS Sales",
        "--clause",
        "jobTitle is not null",
    )
    assert "added user scoping filter: (department EQUALS Sales) AND (jobTitle IS NOT NULL)" in (
        result.stdout
    )
    ok(db_url, "scoping-filter", "add", added, "--clause", "employeeId Greater_Than 1000")
    listed = ok(db_url, "scoping-filter", "list", added).stdout.splitlines()
    assert listed[1:] == [
        "  1. (department EQUALS Sales) AND (jobTitle IS NOT NULL)",
        "  2. (employeeId Greater_Than 1000)",
    ]
    ok(db_url, "scoping-filter", "remove", added, "1")
    listed = ok(db_url, "scoping-filter", "list", added).stdout.splitlines()
    assert listed[1:] == ["  1. (employeeId Greater_Than 1000)"]
    assert (
        "there is no user scoping filter 5"
        in fails(db_url, "scoping-filter", "remove", added, "5").stderr
    )
    bad = fails(db_url, "scoping-filter", "add", added, "--clause", "department LIKE Sales")
    assert "no scoping operator" in bad.stderr
    ok(db_url, "scoping-filter", "clear", added)
    assert "none" in ok(db_url, "scoping-filter", "list", added).stdout


def test_set_changes_only_what_is_given(db_url: str, added: str) -> None:
    result = ok(
        db_url,
        "set",
        added,
        "--scope",
        "all",
        "--interval",
        "15",
        "--deletion-threshold",
        "off",
        "--allow",
        "user:create,update",
        "--allow",
        "group:none",
        "--no-provision-groups",
        "--add-role",
        "Reviewer",
        "--remove-role",
        "superuser",
        "--notification-email",
        "it@contoso.com",
    )
    assert "the next cycle is an initial one" in result.stdout
    shown = json.loads(ok(db_url, "show", added, "--json").stdout)
    settings = shown["settings"]
    assert settings["scope"] == "all"
    assert settings["interval_minutes"] == 15
    assert settings["deletion_threshold"] is None
    assert settings["allowed_actions"] == {"user": ["create", "update"], "group": []}
    assert settings["object_types"] == {"user": True, "group": False}
    assert "Reviewer" in settings["roles"]
    assert "Superuser" not in settings["roles"]
    assert shown["notificationEmail"] == "it@contoso.com"
    ok(db_url, "set", added, "--deletion-threshold", "25", "--secret-token", TOKEN)
    shown = json.loads(ok(db_url, "show", added, "--json").stdout)
    assert shown["settings"]["deletion_threshold"] == 25
    assert shown["settings"]["interval_minutes"] == 15
    assert run(db_url, "set", added, "--deletion-threshold", "0").exit_code == 2
    assert run(db_url, "set", added, "--allow", "user:purge").exit_code == 2
    assert (
        "no role 'owner' to remove" in fails(db_url, "set", added, "--remove-role", "Owner").stderr
    )


def _quarantine(db_url: str, name: str) -> None:
    engine = make_engine(db_url)
    app_id = registry.get_app(engine, name).id
    with write_transaction(engine) as conn:
        conn.execute(
            update(provisioning_state)
            .where(provisioning_state.c.app_id == app_id)
            .values(
                quarantine_until=datetime.now(UTC) + timedelta(hours=1),
                quarantine_reason="401 from the target: the secret token was refused",
            )
        )
    engine.dispose()


def test_status_commands(db_url: str, added: str) -> None:
    assert ok(db_url, "start", added).stdout == f"provisioning of '{added}' is on\n"
    assert f"{added}\tclarizen-one\ton\t" in ok(db_url, "list").stdout
    _quarantine(db_url, added)
    assert f"{added}\tclarizen-one\tquarantined\t" in ok(db_url, "list").stdout
    assert ": 401 from the target" in ok(db_url, "show", added).stdout
    assert "retried next cycle" in ok(db_url, "restart", added).stdout
    assert f"{added}\tclarizen-one\ton\t" in ok(db_url, "list").stdout
    assert "the next cycle is an initial one" in ok(db_url, "restart", added, "--full").stdout
    assert "no deletions were held" in ok(db_url, "allow-deletes", added).stdout
    assert ok(db_url, "stop", added).stdout == f"provisioning of '{added}' is off\n"


def test_test_connection_reports_an_unreachable_target(db_url: str, name: str) -> None:
    ok(
        db_url,
        "add",
        name,
        "--gallery",
        "generic-scim",
        "--tenant-url",
        "http://127.0.0.1:9/scim/v2",
        "--secret-token",
        TOKEN,
    )
    result = fails(db_url, "test-connection", name)
    assert "127.0.0.1" in result.stderr
    assert TOKEN not in result.stderr


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with serve_scimitar(tmp_path_factory.mktemp("target")) as served:
        tenant = served.tenant("acme", role_policy="clarizen-one")
        yield served.scim_url, served.key(tenant)


@pytest.mark.e2e
def test_test_connection_against_scimitar_serve(
    db_url: str, name: str, target: tuple[str, str]
) -> None:
    url, key = target
    ok(db_url, "add", name, "--gallery", "clarizen-one", "--tenant-url", url, "--secret-token", key)
    result = ok(db_url, "test-connection", name)
    assert result.stdout.startswith(f"Connected to {url}")
    ok(db_url, "set", name, "--secret-token", "scimitar_0000000000000000_wrong")
    refused = fails(db_url, "test-connection", name)
    assert "401" in refused.stderr or "token" in refused.stderr
