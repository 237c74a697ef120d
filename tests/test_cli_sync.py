"""``scimitar sync`` and ``scimitar provision`` against a real ``scimitar serve`` target."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from sqlalchemy import Engine

from scimitar.cli import main
from scimitar.db.engine import make_engine, write_transaction
from scimitar.db.migrate import upgrade
from scimitar.directory import store
from scimitar.provisioning import apps
from scimitar.provisioning.engine import state
from scimitar.server.tenants import create_key, create_tenant, revoke_key

# The real-target helpers live beside the provisioning tests; this module sits one level up.
sys.path.insert(0, str(Path(__file__).parent / "provisioning"))
from target import SCIMITAR, ScimitarTarget, serve_scimitar

pytestmark = pytest.mark.e2e

APP = "Clarizen One"
COUNT_NAMES = [
    "create",
    "update",
    "disable",
    "delete",
    "stagedDelete",
    "skipped",
    "failure",
    "unchanged",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ScimitarTarget, Engine]]:
    with serve_scimitar(tmp_path_factory.mktemp("sync-target")) as running:
        engine = make_engine(running.database_url)
        yield running, engine
        engine.dispose()


@dataclass
class Setup:
    database_url: str
    engine: Engine
    key: str
    target: ScimitarTarget
    target_engine: Engine

    def sync(self, *args: str) -> Result:
        return CliRunner().invoke(
            main, ["sync", APP, *args, "--database-url", self.database_url], prog_name="scimitar"
        )

    def provision(self, upn: str) -> Result:
        return CliRunner().invoke(
            main,
            ["provision", APP, "--user", upn, "--database-url", self.database_url],
            prog_name="scimitar",
        )

    def user_names(self) -> set[str]:
        answer = httpx.get(
            f"{self.target.scim_url}/Users",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return {u["userName"] for u in answer.json()["Resources"]}


def make_setup(
    tmp_path: Path,
    served: tuple[ScimitarTarget, Engine],
    monkeypatch: pytest.MonkeyPatch,
    role_policy: str | None = None,
) -> Setup:
    target, target_engine = served
    monkeypatch.setenv("SCIMITAR_SECRET_KEY", Fernet.generate_key().decode())
    tenant = f"cli-{uuid.uuid4().hex[:12]}"
    create_tenant(target_engine, tenant, role_policy)
    key = create_key(target_engine, tenant, frozenset({"integration-user", "lite-admin"})).secret
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    engine = make_engine(url)
    upgrade(engine)
    app = apps.add_app(engine, APP, "clarizen-one", tenant_url=target.scim_url, secret_token=key)
    with write_transaction(engine) as conn:
        for name in ("ada", "alan"):
            user = store.upsert_user(conn, {"userPrincipalName": f"{name}@contoso.com"})
            store.assign(conn, app.id, "user", user.object_id, "User")
    return Setup(url, engine, key, target, target_engine)


@pytest.fixture
def setup(
    tmp_path: Path, served: tuple[ScimitarTarget, Engine], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Setup]:
    """A new tenant and engine database; two users assigned to the app."""
    made = make_setup(tmp_path, served, monkeypatch)
    yield made
    made.engine.dispose()


def test_sync_json_prints_exactly_the_summary(setup: Setup) -> None:
    result = setup.sync("--json")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1
    summary = json.loads(result.stdout)
    assert list(summary) == [
        "cycleId",
        "type",
        "dryRun",
        "counts",
        "requests",
        "durationSeconds",
    ]
    assert uuid.UUID(summary["cycleId"])
    assert (summary["type"], summary["dryRun"]) == ("initial", False)
    assert list(summary["counts"]) == COUNT_NAMES
    assert summary["counts"]["create"] == 2
    assert sum(summary["counts"].values()) == 2
    assert summary["requests"] == 4
    assert isinstance(summary["durationSeconds"], float)
    assert summary["durationSeconds"] >= 0
    assert setup.user_names() == {"ada@contoso.com", "alan@contoso.com"}

    again = json.loads(setup.sync("--json").stdout)

    assert again["type"] == "incremental"
    assert (again["requests"], sum(again["counts"].values())) == (0, 0)
    assert again["cycleId"] != summary["cycleId"]


def test_sync_prints_a_summary_for_people(setup: Setup) -> None:
    result = setup.sync()

    assert result.exit_code == 0, result.output
    assert "initial cycle" in result.stdout
    assert "create 2" in result.stdout
    assert "4 request(s)" in result.stdout


def test_sync_dry_run_prints_the_plan_and_writes_nothing(setup: Setup) -> None:
    result = setup.sync("--dry-run")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["create", "success", "user"] for line in lines)
    assert "ada@contoso.com" in result.stdout
    assert "alan@contoso.com" in result.stdout
    assert "dry run of an initial cycle" in result.stdout
    assert setup.user_names() == set()
    as_json = json.loads(setup.sync("--dry-run", "--json").stdout)
    assert as_json["dryRun"] is True
    assert as_json["counts"]["create"] == 2
    assert setup.user_names() == set()


def test_sync_exits_1_when_something_failed(
    tmp_path: Path, served: tuple[ScimitarTarget, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_setup(tmp_path, served, monkeypatch, role_policy="clarizen-one")
    apps.assign(made.engine, APP, user="ada@contoso.com", role="Administrator")
    apps.unassign(made.engine, APP, user="ada@contoso.com", role="User")

    result = made.sync("--json")

    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["counts"]["create"], summary["counts"]["failure"]) == (1, 1)
    human = made.sync()
    assert human.exit_code == 1
    assert "failed: user ada@contoso.com" in human.stdout
    assert "Administrator" in human.stdout
    made.engine.dispose()


def test_sync_exits_3_when_the_app_is_quarantined(setup: Setup) -> None:
    revoke_key(setup.target_engine, setup.key)

    result = setup.sync("--json")

    assert result.exit_code == 3
    assert json.loads(result.stdout)["counts"]["create"] == 0
    again = setup.sync("--json")
    assert again.exit_code == 3
    assert again.stdout == ""
    assert "quarantine" in again.stderr
    assert "app restart" in again.stderr


def test_sync_of_an_unknown_app_fails_cleanly(setup: Setup) -> None:
    result = CliRunner().invoke(
        main, ["sync", "Nope", "--database-url", setup.database_url], prog_name="scimitar"
    )

    assert result.exit_code == 1
    assert "Nope" in result.stderr
    assert "Traceback" not in result.output


def run_with_terminal_stderr(setup: Setup, *args: str) -> tuple[int, str, str]:
    """Run the real ``scimitar sync`` with standard error on a terminal, as a person would."""
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(SCIMITAR), "sync", APP, *args, "--database-url", setup.database_url],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=os.environ.copy(),
        )
        os.close(terminal)
        terminal = -1
        stdout, _ = process.communicate(timeout=60)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    return process.returncode, stdout.decode(), drawn.decode(errors="replace")


def test_the_progress_bar_goes_to_a_terminal_and_never_into_json(setup: Setup) -> None:
    code, stdout, stderr = run_with_terminal_stderr(setup, "--json")

    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["counts"]["create"] == 2
    assert "[" not in stderr  # no bar with --json, even on a terminal

    setup.user_names()
    with write_transaction(setup.engine) as conn:
        store.upsert_user(conn, {"userPrincipalName": "ada@contoso.com", "jobTitle": "Lead"})
    code, stdout, stderr = run_with_terminal_stderr(setup)

    assert code == 0, stderr
    assert "1/1" in stderr
    assert "#" in stderr
    assert "update 1" in stdout
    assert "#" not in stdout


def test_provision_prints_each_step(setup: Setup) -> None:
    result = setup.provision("ada@contoso.com")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "user ada@contoso.com: create success"
    steps = [line.split(":")[0].strip() for line in lines[1:5]]
    assert steps == ["1. import", "2. scoping", "3. matching", "4. export"]
    assert setup.user_names() == {"ada@contoso.com"}

    again = setup.provision("ada@contoso.com")

    assert again.exit_code == 0
    assert "nothing to do" in again.stdout


def test_provision_an_unknown_user_fails_cleanly(setup: Setup) -> None:
    result = setup.provision("nobody@contoso.com")

    assert result.exit_code == 1
    assert "nobody@contoso.com" in result.stderr
    assert result.stdout == ""


def test_sync_refuses_while_another_cycle_holds_the_app(setup: Setup) -> None:
    app = apps.get_app(setup.engine, APP)
    owner = state.acquire_lease(setup.engine, app.id)
    try:
        result = setup.sync("--json")
    finally:
        state.release_lease(setup.engine, app.id, owner)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "another provisioning cycle" in result.stderr
    assert setup.user_names() == set()
    assert setup.sync("--json").exit_code == 0
