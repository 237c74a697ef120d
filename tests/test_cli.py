"""The command line: tenants, keys and the schema, through click and as a real process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from scimitar import __version__
from scimitar.cli import LazyGroup, main
from scimitar.db.engine import make_engine
from scimitar.db.migrate import current_revision, head_revision

KEY = re.compile(r"scimitar_(?P<id>[0-9a-f]{16})_[A-Za-z0-9_-]{43,}")
SCIMITAR = Path(sys.executable).with_name("scimitar")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(main, list(args), prog_name="scimitar")


def key_id(key: str) -> str:
    match = KEY.fullmatch(key.strip())
    assert match is not None, f"not an API key: {key!r}"
    return match["id"]


def ok(*args: str) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def fails(*args: str, exit_code: int = 1) -> Result:
    result = run(*args)
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return result


def test_version() -> None:
    assert ok("--version").stdout.strip() == f"scimitar, version {__version__}"


def test_help_lists_every_command_family() -> None:
    help_text = ok("--help").stdout
    for family in ("serve", "db", "tenant", "token"):
        assert re.search(rf"^\s+{family}\s", help_text, re.MULTILINE), family


def test_token_create_prints_only_the_key(db_url: str) -> None:
    ok("tenant", "create", "acme", "--role-policy", "clarizen-one", "--database-url", db_url)
    result = ok("token", "create", "--tenant", "acme", "--database-url", db_url)
    key = KEY.fullmatch(result.stdout.rstrip("\n"))
    assert key is not None, result.stdout
    assert result.stdout.count("\n") == 1
    # The id and a reminder go to stderr, where `KEY=$(...)` does not capture them.
    assert key["id"] in result.stderr
    assert "cannot be shown again" in result.stderr


def test_token_list_one_key_a_line_id_first(db_url: str) -> None:
    ok("tenant", "create", "acme", "--database-url", db_url)
    ok("tenant", "create", "globex corp", "--database-url", db_url)
    first = ok("token", "create", "--tenant", "acme", "--database-url", db_url).stdout
    second = ok(
        "token",
        "create",
        "--tenant",
        "globex corp",
        "--permissions",
        "lite-admin",
        "--database-url",
        db_url,
    ).stdout
    first_id, second_id = key_id(first), key_id(second)
    ok("token", "revoke", second_id, "--database-url", db_url)

    lines = ok("token", "list", "--database-url", db_url).stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [first_id, second_id]
    first_fields, second_fields = (line.split("\t") for line in lines)
    assert first_fields[1:3] == ["acme", "integration-user,lite-admin"]
    assert first_fields[4] == "active"
    assert second_fields[1:3] == ["globex corp", "lite-admin"]
    assert second_fields[4].startswith("revoked ")
    # Neither key's secret is ever shown again.
    listing = "\n".join(lines)
    assert first.strip() not in listing
    assert second.strip() not in listing


def test_revoke_prints_the_id_even_given_the_whole_key(db_url: str) -> None:
    ok("tenant", "create", "acme", "--database-url", db_url)
    key = ok("token", "create", "--tenant", "acme", "--database-url", db_url).stdout.strip()
    result = ok("token", "revoke", key, "--database-url", db_url)
    assert result.stdout == f"revoked API key {key_id(key)}\n"
    assert key not in result.output


def test_every_command_brings_an_empty_database_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert ok("token", "list", "--database-url", url).stdout == ""
    engine = make_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_db_upgrade_reports_what_it_did(db_url: str) -> None:
    head = head_revision()
    assert ok("db", "upgrade", "--database-url", db_url).stdout == (
        f"database schema upgraded to revision {head}\n"
    )
    assert ok("db", "upgrade", "--database-url", db_url).stdout == (
        f"database schema already up to date (revision {head})\n"
    )


def test_database_url_comes_from_the_environment(db_url: str) -> None:
    env = {"SCIMITAR_DATABASE_URL": db_url}
    assert run("tenant", "create", "acme", env=env).exit_code == 0
    # The same tenant again, now named through --database-url: the same database.
    result = fails("tenant", "create", "acme", "--database-url", db_url)
    assert result.stderr == "Error: a tenant named 'acme' already exists\n"


def test_unknown_tenant_is_one_line_and_exit_1(db_url: str) -> None:
    result = fails("token", "create", "--tenant", "nobody", "--database-url", db_url)
    assert result.stderr.startswith("Error: no tenant named 'nobody'")
    assert result.stderr.count("\n") == 1


def test_unknown_key_is_one_line_and_exit_1(db_url: str) -> None:
    result = fails("token", "revoke", "0123456789abcdef", "--database-url", db_url)
    assert "no API key with id '0123456789abcdef'" in result.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [("--permissions", "lite-admin,superuser"), ("--role-policy", "okta")],
)
def test_bad_option_values_are_usage_errors(db_url: str, option: str, value: str) -> None:
    command = (
        ["tenant", "create", "acme"]
        if option == "--role-policy"
        else ["token", "create", "--tenant", "acme"]
    )
    result = fails(*command, option, value, "--database-url", db_url, exit_code=2)
    assert f"Invalid value for '{option}'" in result.stderr


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://user:hunter2@127.0.0.1:1/none", "connection"),
        ("mysql://user:hunter2@127.0.0.1/none", "scimitar supports sqlite:// and postgresql://"),
        ("not a url", "Could not parse"),
    ],
)
def test_database_problems_are_one_line_without_the_password(url: str, reason: str) -> None:
    result = fails("token", "list", "--database-url", url)
    assert result.stderr.startswith("Error: cannot use the database ")
    assert reason in result.stderr
    assert "hunter2" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_unexpected_errors_are_one_line_not_a_traceback() -> None:
    @click.command()
    def boom() -> None:
        raise RuntimeError("disk on fire\nsecond line")

    group = LazyGroup(lazy={})
    group.add_command(boom)
    result = CliRunner().invoke(group, ["boom"])
    assert result.exit_code == 1
    assert result.stderr == "Error: disk on fire\n"


def test_console_script_prints_the_key_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'real.db'}"

    def scimitar(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCIMITAR), *args, "--database-url", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    created = scimitar("tenant", "create", "acme")
    assert created.returncode == 0, created.stderr
    issued = scimitar("token", "create", "--tenant", "acme")
    assert issued.returncode == 0, issued.stderr
    assert KEY.fullmatch(issued.stdout.rstrip("\n")), issued.stdout
    assert issued.stdout.count("\n") == 1

    missing = scimitar("token", "create", "--tenant", "nobody")
    assert missing.returncode == 1
    assert missing.stdout == ""
    assert missing.stderr.startswith("Error: no tenant named 'nobody'")
    assert "Traceback" not in missing.stderr


def test_python_dash_m_runs_the_same_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scimitar", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == f"scimitar, version {__version__}"
