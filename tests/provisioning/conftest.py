"""Fixtures for the engine's end-to-end tests: a real ``scimitar serve`` target, a fresh world each.

One ``scimitar serve`` process runs per test session (per xdist worker). Every
test gets a ``World``: its own target tenant and key on that server, its own
engine-side SQLite database in ``tmp_path`` with the "App" (Clarizen One
gallery entry) pointing at the tenant, and helpers to write the directory, run
cycles and look at the target over HTTP, as an administrator would with curl.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Connection, Engine
from target import ScimitarTarget, serve_scimitar

from scimitar.db.engine import make_engine, read_transaction, write_transaction
from scimitar.db.migrate import upgrade
from scimitar.directory import store as directory
from scimitar.directory.model import DirectoryGroup, DirectoryUser
from scimitar.directory.rows import require_group, require_user
from scimitar.provisioning import apps
from scimitar.provisioning.app_settings import AppSettings
from scimitar.provisioning.engine import state
from scimitar.provisioning.engine.cycle import Summary, run_cycle
from scimitar.provisioning.logs import LogEntry, query_logs
from scimitar.provisioning.mappings import Mapping, set_mapping
from scimitar.scim.filter import render_value
from scimitar.server.tenants import create_key, create_tenant, revoke_key

APP = "App"
ALL_PERMISSIONS = frozenset({"integration-user", "lite-admin"})
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture(scope="session")
def scim_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScimitarTarget]:
    """One real ``scimitar serve`` process (SQLite) for the whole session."""
    with serve_scimitar(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="session")
def target_engine(scim_target: ScimitarTarget) -> Iterator[Engine]:
    """The target's own database, for creating tenants and keys faster than the CLI."""
    engine = make_engine(scim_target.database_url)
    yield engine
    engine.dispose()


@dataclass
class World:
    """One test's engine database, app and target tenant, with helpers for both sides."""

    engine: Engine
    database_url: str
    app: apps.App
    target: ScimitarTarget
    target_engine: Engine
    tenant: str
    key: str
    http: httpx.Client

    # -- the directory ---------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with write_transaction(self.engine) as conn:
            yield conn

    def user(self, upn: str, **attributes: Any) -> DirectoryUser:
        """Create or update a directory user (defaults give it a name and a nickname)."""
        alias = upn.split("@")[0]
        with self.write() as conn:
            found = directory.find_user(conn, upn)
            values: dict[str, Any] = {"userPrincipalName": upn}
            if found is None:
                values |= {"displayName": alias.title(), "mailNickname": alias}
            return directory.upsert_user(conn, values | attributes)

    def group(self, name: str, members: Sequence[str] = (), **attributes: Any) -> DirectoryGroup:
        """Create or update (even rename) a group; ``members`` are UPNs or ``group:NAME``."""
        with self.write() as conn:
            found = directory.find_group(conn, name)
            key = {"objectId": found.object_id} if found else {"displayName": name}
            group = directory.upsert_group(conn, key | attributes)
            directory.set_group_members(conn, group.object_id, self._members(conn, members))
            return group

    def _members(self, conn: Connection, members: Sequence[str]) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for member in members:
            if member.startswith("group:"):
                found.append(("group", require_group(conn, member[6:]).object_id))
            else:
                found.append(("user", require_user(conn, member).object_id))
        return found

    def assign(
        self, *, user: str | None = None, group: str | None = None, role: str = "User"
    ) -> None:
        apps.assign(self.engine, APP, user=user, group=group, role=role)

    def unassign(self, *, user: str | None = None, group: str | None = None) -> None:
        apps.unassign(self.engine, APP, user=user, group=group)

    def assigned_user(self, upn: str, **attributes: Any) -> DirectoryUser:
        found = self.user(upn, **attributes)
        self.assign(user=upn)
        return found

    # -- the app -----------------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change the app's settings (as ``scimitar app set`` would)."""
        apps.update_settings(self.engine, APP, lambda s: replace(s, **changes))

    def settings(self) -> AppSettings:
        return apps.get_app(self.engine, APP).settings

    def map_user(self, mapping: Mapping) -> None:
        """Add or replace one user mapping (as ``scimitar app mapping set`` would)."""

        def edit(settings: AppSettings) -> AppSettings:
            users = set_mapping(settings.mappings["user"], mapping)
            return replace(settings, mappings={**settings.mappings, "user": users})

        apps.update_settings(self.engine, APP, edit)

    def cycle(self, *, dry_run: bool = False, only_user: str | None = None) -> Summary:
        return run_cycle(self.engine, self.database_url, APP, dry_run=dry_run, only_user=only_user)

    def logs(self, **filters: Any) -> list[LogEntry]:
        return query_logs(self.engine, self.app.id, **filters)

    def link(self, upn: str) -> state.Link | None:
        with read_transaction(self.engine) as conn:
            user = require_user(conn, upn)
            return state.load_links(conn, self.app.id, "user").get(user.object_id)

    def revoke_key(self) -> None:
        revoke_key(self.target_engine, self.key)

    def new_key(self) -> str:
        """Issue a new key for the tenant and give it to the app."""
        self.key = create_key(self.target_engine, self.tenant, ALL_PERMISSIONS).secret
        apps.update_connection(self.engine, APP, secret_token=self.key)
        self.http.headers["Authorization"] = f"Bearer {self.key}"
        return self.key

    # -- the target, over HTTP -----------------------------------------------------------

    def _ok(self, response: httpx.Response) -> Any:
        assert response.is_success, f"{response.request.method} {response.url}: {response.text}"
        return response.json() if response.content else None

    def users(self) -> list[dict[str, Any]]:
        """Every user in the tenant (tests keep tenants far below one page)."""
        found: list[dict[str, Any]] = self._ok(self.http.get("Users", params={"count": 1000}))[
            "Resources"
        ]
        return found

    def find_user(self, user_name: str) -> dict[str, Any] | None:
        """The tenant's user with this userName (filtered by the target), or None."""
        query = f"userName eq {render_value(user_name)}"
        found = self._ok(self.http.get("Users", params={"filter": query}))["Resources"]
        assert len(found) <= 1, found
        return found[0] if found else None

    def target_user(self, user_name: str) -> dict[str, Any]:
        found = self.find_user(user_name)
        assert found is not None, f"no user {user_name!r} in the target"
        return found

    def get_user(self, target_id: str) -> httpx.Response:
        return self.http.get(f"Users/{target_id}")

    def groups(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._ok(self.http.get("Groups", params={"count": 1000}))[
            "Resources"
        ]
        return found

    def target_group(self, display_name: str) -> dict[str, Any]:
        """The tenant's group with this displayName, members included."""
        query = f"displayName eq {render_value(display_name)}"
        found = self._ok(self.http.get("Groups", params={"filter": query}))["Resources"]
        assert len(found) == 1, f"{len(found)} groups named {display_name!r} in the target"
        group: dict[str, Any] = self._ok(self.http.get(f"Groups/{found[0]['id']}"))
        return group

    def member_names(self, display_name: str) -> set[str]:
        """The userNames of a target group's members."""
        ids = {m["value"] for m in self.target_group(display_name).get("members", [])}
        return {u["userName"] for u in self.users() if u["id"] in ids}

    def post_user(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a user in the target directly, as someone other than the engine."""
        document = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **body}
        created: dict[str, Any] = self._ok(self.http.post("Users", json=document))
        return created


def counts(summary: Summary) -> dict[str, int]:
    """The cycle's non-zero object counts, as ``scimitar sync --json`` reports them."""
    return {name: n for name, n in summary.to_json()["counts"].items() if n}


def make_world(
    engine: Engine,
    database_url: str,
    scim_target: ScimitarTarget,
    target_engine: Engine,
    *,
    role_policy: str | None = None,
) -> Iterator[World]:
    """Create a tenant and key on the target and the app on the engine side; clean up after."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    create_tenant(target_engine, tenant, role_policy)
    key = create_key(target_engine, tenant, ALL_PERMISSIONS).secret
    app = apps.add_app(
        engine, APP, "clarizen-one", tenant_url=scim_target.scim_url, secret_token=key
    )
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/scim+json"}
    with httpx.Client(base_url=scim_target.scim_url + "/", headers=headers, timeout=30) as http:
        yield World(engine, database_url, app, scim_target, target_engine, tenant, key, http)


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encrypt app tokens with a key from the environment (nothing written in $HOME)."""
    monkeypatch.setenv("SCIMITAR_SECRET_KEY", Fernet.generate_key().decode())


@pytest.fixture
def engine_url(tmp_path: Path) -> str:
    """A fresh, migrated engine-side SQLite database for one test."""
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    migrating = make_engine(url)
    upgrade(migrating)
    migrating.dispose()
    return url


@pytest.fixture
def world(
    secret_key: None, engine_url: str, scim_target: ScimitarTarget, target_engine: Engine
) -> Iterator[World]:
    """A fresh tenant, key, engine database and app; the directory starts empty."""
    engine = make_engine(engine_url)
    try:
        yield from make_world(engine, engine_url, scim_target, target_engine)
    finally:
        engine.dispose()


@pytest.fixture
def clarizen_world(
    secret_key: None, engine_url: str, scim_target: ScimitarTarget, target_engine: Engine
) -> Iterator[World]:
    """Like ``world``, on a tenant enforcing Clarizen One's role policy (only "User")."""
    engine = make_engine(engine_url)
    try:
        yield from make_world(
            engine, engine_url, scim_target, target_engine, role_policy="clarizen-one"
        )
    finally:
        engine.dispose()
