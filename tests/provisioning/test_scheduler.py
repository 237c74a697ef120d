"""The scheduler inside ``scimitar serve``: due apps run on their own, and only those."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import update
from target import SCIMITAR, free_port

from scimitar.db.engine import make_engine, write_transaction
from scimitar.db.migrate import upgrade
from scimitar.directory import store as directory
from scimitar.provisioning import apps
from scimitar.provisioning.scheduler import due_apps
from scimitar.provisioning.tables import provisioning_state
from scimitar.server.tenants import create_key, create_tenant


def _prepare(database_url: str, port: int) -> str:
    """A directory of three assigned users and an app, on, pointing at this very server."""
    engine = make_engine(database_url)
    upgrade(engine)
    create_tenant(engine, "self", None)
    key = create_key(engine, "self", frozenset({"integration-user", "lite-admin"})).secret
    app = apps.add_app(
        engine,
        "Loopback",
        "clarizen-one",
        tenant_url=f"http://127.0.0.1:{port}/scim/v2",
        secret_token=key,
    )
    with write_transaction(engine) as conn:
        for n in range(3):
            user = directory.upsert_user(
                conn, {"userPrincipalName": f"u{n}@example.com", "displayName": f"User {n}"}
            )
            directory.assign(conn, app.id, "user", user.object_id, "User")
    apps.set_status(engine, "Loopback", "on")
    engine.dispose()
    return key


def test_due_apps_are_the_ones_on_and_due_and_not_quarantined(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    upgrade(engine)
    for name in ("off", "due", "later", "quarantined"):
        apps.add_app(
            engine,
            name,
            "generic-scim",
            tenant_url="http://127.0.0.1:9/scim/v2",
            secret_token="t0ken-for-tests",
        )
        if name != "off":
            apps.set_status(engine, name, "on")
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        for name, values in {
            "due": {"next_run": now - timedelta(seconds=1)},
            "later": {"next_run": now + timedelta(minutes=40)},
            "quarantined": {"next_run": None, "quarantine_until": now + timedelta(hours=1)},
        }.items():
            app_id = apps.get_app(conn, name).id
            conn.execute(
                update(provisioning_state)
                .where(provisioning_state.c.app_id == app_id)
                .values(**values)
            )
    assert due_apps(engine, now) == ["due"]
    assert set(due_apps(engine, now + timedelta(hours=2))) == {"due", "later", "quarantined"}
    engine.dispose()


def test_serve_runs_a_due_cycle_by_itself(tmp_path: Path) -> None:
    port = free_port()
    database_url = f"sqlite:///{tmp_path / 'scimitar.db'}"
    key = _prepare(database_url, port)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["SCIMITAR_SCHEDULER_POLL_SECONDS"] = "0.2"
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(SCIMITAR), "serve", "--port", str(port), "--database-url", database_url],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        found: list[str] = []
        while time.monotonic() < deadline and len(found) < 3:
            time.sleep(0.2)
            try:
                answer = httpx.get(
                    f"http://127.0.0.1:{port}/scim/v2/Users",
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=5,
                )
            except httpx.TransportError:
                continue
            if answer.status_code == 200:
                found = [u["userName"] for u in answer.json()["Resources"]]
        assert sorted(found) == ["u0@example.com", "u1@example.com", "u2@example.com"], (
            log.read_text(errors="replace")
        )
        engine = make_engine(database_url)
        with engine.connect() as conn:
            state = conn.execute(provisioning_state.select()).one()
        engine.dispose()
        # The next run is one interval (40 minutes by default) after this one.
        assert state.next_run is not None
        assert state.synced_config_version is not None
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert key not in log.read_text(errors="replace")
