"""``scimitar directory``: import, delete, restore, purge and list, in-process and as a process."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from scimitar.cli import COMMANDS
from scimitar.cli.directory import directory
from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory import store

DATA = Path(__file__).with_name("data")
SCIMITAR = Path(sys.executable).with_name("scimitar")


@pytest.fixture
def cli(db: Engine, database_url: str) -> CliRunnerFor:
    return CliRunnerFor(database_url)


class CliRunnerFor:
    """Run ``scimitar directory ...`` in-process against one database."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            directory,
            [*args, "--database-url", self.database_url],
            prog_name="scimitar directory",
        )

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def fails(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert result.stdout == ""
        return result.stderr


def test_import_prints_what_it_did(cli: CliRunnerFor) -> None:
    assert cli.ok("import", str(DATA / "org.json")).splitlines() == [
        "users: 3 created, 0 updated, 0 restored, 0 unchanged, 0 soft-deleted",
        "groups: 3 created, 0 updated, 0 unchanged, 0 deleted",
        "memberships: 5 added, 0 removed",
    ]
    assert cli.ok("import", str(DATA / "org.json")).splitlines()[0] == (
        "users: 0 created, 0 updated, 0 restored, 3 unchanged, 0 soft-deleted"
    )


def test_import_replace_soft_deletes_what_the_file_lacks(cli: CliRunnerFor) -> None:
    cli.ok("import", str(DATA / "org.json"))
    out = cli.ok("import", "--replace", str(DATA / "users.csv"))
    assert "users: 3 created, 0 updated, 0 restored, 0 unchanged, 3 soft-deleted" in out
    assert "groups: 0 created, 0 updated, 0 unchanged, 3 deleted" in out
    deleted = cli.ok("list", "--deleted")
    assert [line.split()[0] for line in deleted.splitlines()] == [
        "ada@contoso.com",
        "alan@contoso.com",
        "grace@contoso.com",
    ]


def test_a_bad_file_is_one_clear_error_and_changes_nothing(cli: CliRunnerFor, db: Engine) -> None:
    error = cli.fails("import", str(DATA / "bad" / "bad-boolean.json"))
    assert error.startswith("Error: bad-boolean.json: rejected (1 problem), nothing imported:")
    assert "users[3].accountEnabled (line 9)" in error
    with read_transaction(db) as conn:
        assert store.iter_users(conn) == []


def test_a_missing_file_is_refused_by_click(cli: CliRunnerFor, tmp_path: Path) -> None:
    result = cli.run("import", str(tmp_path / "nope.json"))
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_delete_restore_and_hard_delete(cli: CliRunnerFor, db: Engine) -> None:
    cli.ok("import", str(DATA / "org.json"))
    assert cli.ok("delete", "--user", "ADA@contoso.com").startswith("soft-deleted ada@contoso.com;")
    listed = cli.ok("list")
    assert "ada@contoso.com" not in listed
    assert "grace@contoso.com" in listed
    assert "ada@contoso.com" in cli.ok("list", "--deleted")
    assert cli.ok("restore", "--user", "ada@contoso.com") == "restored ada@contoso.com\n"
    assert "ada@contoso.com" in cli.ok("list")
    assert cli.ok("delete", "--user", "ada@contoso.com", "--hard") == (
        "deleted ada@contoso.com for good\n"
    )
    with read_transaction(db) as conn:
        assert store.find_user(conn, "ada@contoso.com") is None
    assert "no user 'ada@contoso.com'" in cli.fails("restore", "--user", "ada@contoso.com")
    assert "no user 'nobody@x.com'" in cli.fails("delete", "--user", "nobody@x.com")


def test_list_shows_enabled_state_and_groups(cli: CliRunnerFor) -> None:
    cli.ok("import", str(DATA / "org.json"))
    lines = cli.ok("list").splitlines()
    assert [line.split()[0] for line in lines] == [
        "ada@contoso.com",
        "alan@contoso.com",
        "grace@contoso.com",
    ]
    assert lines[0].endswith("disabled")
    assert lines[1].endswith("enabled")
    groups = cli.ok("list", "--groups").splitlines()
    assert [line.split()[0] for line in groups] == ["Engineering", "Everyone", "Research"]
    assert groups[0].endswith("2 members")


def test_purge_removes_only_old_soft_deletes(cli: CliRunnerFor, db: Engine) -> None:
    cli.ok("import", str(DATA / "org.json"))
    with write_transaction(db) as conn:
        store.soft_delete_user(conn, "ada@contoso.com", store.utcnow() - timedelta(days=40))
        store.soft_delete_user(conn, "alan@contoso.com")
    assert cli.ok("purge") == "purged 1 deleted object\n"
    assert cli.ok("purge", "--retention-days", "0") == "purged 1 deleted object\n"
    assert cli.ok("purge") == "purged 0 deleted objects\n"
    with read_transaction(db) as conn:
        assert [u.user_principal_name for u in store.iter_users(conn)] == ["grace@contoso.com"]


@pytest.mark.skipif("directory" not in COMMANDS, reason="`scimitar directory` not registered yet")
def test_scimitar_directory_import_as_a_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'directory.db'}"

    def scimitar(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCIMITAR), "directory", *args, "--database-url", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    done = scimitar("import", str(DATA / "org.json"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("users: 3 created")
    bad = scimitar("import", str(DATA / "bad" / "syntax.json"))
    assert bad.returncode == 1
    assert "line 4: not valid JSON" in bad.stderr
    assert "Traceback" not in bad.stderr
    listed = scimitar("list")
    assert listed.stdout.count("@contoso.com") == 3
