"""Apps on SQLite and PostgreSQL: adding, settings and config versions, status, state."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, Table, insert, select, update

from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory import store as directory
from scimitar.provisioning import apps as registry
from scimitar.provisioning.app_settings import AppSettings, validate_settings
from scimitar.provisioning.apps import AppError, DuplicateApp, UnknownApp
from scimitar.provisioning.gallery import CLARIZEN_ONE, DEFAULT_ACCESS, GENERIC_SCIM
from scimitar.provisioning.mappings import Mapping, set_mapping
from scimitar.provisioning.scoping import parse_filter
from scimitar.provisioning.secrets import KEY_ENV
from scimitar.provisioning.tables import (
    apps,
    provisioning_escrows,
    provisioning_staged,
    provisioning_state,
)

TOKEN = "clarizen-api-key-0123456789"
TARGET = "http://127.0.0.1:8000/scim/v2"


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # PostgreSQL databases keep their key in the user's data folder; tests use their own.
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())


@pytest.fixture
def name() -> str:
    return f"clarizen-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def app(engine: Engine, name: str) -> registry.App:
    return registry.add_app(engine, name, "clarizen-one", tenant_url=TARGET, secret_token=TOKEN)


def _state(engine: Engine, app_id: int) -> dict[str, object]:
    with read_transaction(engine) as conn:
        row = conn.execute(
            select(provisioning_state).where(provisioning_state.c.app_id == app_id)
        ).one()
    return dict(row._mapping)


def test_an_added_app_starts_off_with_the_gallery_defaults(engine: Engine, name: str) -> None:
    added = registry.add_app(
        engine,
        f"  {name} ",
        "clarizen-one",
        data_center="eu-sandbox",
        secret_token=f" {TOKEN}\n",
        notification_email="ops@contoso.com",
    )
    assert added.name == name
    assert added.status == "off"
    assert added.config_version == 1
    assert added.tenant_url == "https://serviceseu.clarizentb.com/scim/v2"
    assert added.settings.mappings == dict(CLARIZEN_ONE.default_mappings)
    assert added.settings.roles == CLARIZEN_ONE.roles
    assert added.settings.scope == "assigned"
    assert added.settings.interval_minutes == 40
    assert added.settings.deletion_threshold == 500
    assert added.notifies
    assert registry.get_app(engine, name) == added
    state = _state(engine, added.id)
    assert state["watermark"] == 0
    assert state["synced_config_version"] is None
    assert state["failed_cycles"] == 0
    assert state["deletes_released"] is False


def test_the_token_is_stored_encrypted_and_never_shown(engine: Engine, app: registry.App) -> None:
    with read_transaction(engine) as conn:
        stored = conn.execute(select(apps.c.secret_token).where(apps.c.id == app.id)).scalar_one()
    assert TOKEN not in stored
    assert registry.secret_token(engine, app) == TOKEN
    assert TOKEN not in repr(app)
    assert TOKEN not in repr(registry.get_app(engine, app.name))


def test_several_apps_may_come_from_one_gallery_entry(engine: Engine, name: str) -> None:
    first = registry.add_app(
        engine, f"{name}-test", "clarizen-one", tenant_url=TARGET, secret_token=TOKEN
    )
    second = registry.add_app(
        engine, f"{name}-prod", "clarizen-one", data_center="us-prod", secret_token="another"
    )
    assert first.id != second.id
    names = [a.name for a in registry.list_apps(engine)]
    assert names.index(f"{name}-prod") < names.index(f"{name}-test")
    assert registry.secret_token(engine, second) == "another"


def test_a_duplicate_name_is_refused(engine: Engine, app: registry.App) -> None:
    with pytest.raises(DuplicateApp, match="already exists"):
        registry.add_app(engine, app.name, "generic-scim", tenant_url=TARGET, secret_token=TOKEN)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/scim/v2", "must be an http"),
        ("javascript:alert(1)", "must be an http"),
        ("https:///scim/v2", "must be an http"),
        ("servicesapp2.clarizen.com/scim/v2", "must be an http"),
        ("https://user:pw@example.com/scim/v2", "must not carry credentials"),
        ("https://example.com/scim/v2?x=1", "query or fragment"),
        ("https://example.com:port/scim", "not a valid URL"),
    ],
)
def test_tenant_urls_must_be_http(engine: Engine, name: str, url: str, message: str) -> None:
    with pytest.raises(AppError, match=message):
        registry.add_app(engine, name, "generic-scim", tenant_url=url, secret_token=TOKEN)
    with pytest.raises(UnknownApp):
        registry.get_app(engine, name)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gallery": "salesforce", "tenant_url": TARGET}, "no gallery app 'salesforce'"),
        ({"gallery": "generic-scim", "data_center": "us-prod"}, "has no data centers"),
        ({"gallery": "clarizen-one", "data_center": "mars"}, "choose one of: us-prod"),
        ({"gallery": "clarizen-one"}, "either a tenant URL or a data center"),
        (
            {"gallery": "clarizen-one", "tenant_url": TARGET, "data_center": "us-prod"},
            "not both",
        ),
        ({"gallery": "clarizen-one", "tenant_url": TARGET, "secret_token": "  "}, "is empty"),
        ({"gallery": "clarizen-one", "tenant_url": TARGET, "secret_token": "a\nb"}, "control"),
        (
            {"gallery": "clarizen-one", "tenant_url": TARGET, "notification_email": "ops"},
            "not an e-mail address",
        ),
    ],
)
def test_add_refuses_bad_input(
    engine: Engine, name: str, kwargs: dict[str, str], message: str
) -> None:
    arguments = {"secret_token": TOKEN, **kwargs}
    with pytest.raises(AppError, match=message):
        registry.add_app(engine, name, **arguments)


def test_mapping_scoping_and_scope_changes_make_the_next_cycle_initial(
    engine: Engine, app: registry.App
) -> None:
    title = Mapping("title", "constant", "Staff")
    changed, warnings = registry.update_settings(
        engine,
        app.name,
        lambda s: replace(
            s, mappings={**s.mappings, "user": set_mapping(s.mappings["user"], title)}
        ),
    )
    assert warnings == []
    assert changed.config_version == 2
    sales = parse_filter(["Department EQUALS Sales"])
    scoped, _ = registry.update_settings(
        engine, app.name, lambda s: replace(s, scoping_filters={"user": (sales,), "group": ()})
    )
    assert scoped.config_version == 3
    # Attribute names in clauses take Entra's spelling.
    assert scoped.settings.scoping_filters["user"][0].clauses[0].attribute == "department"
    widened, _ = registry.update_settings(engine, app.name, lambda s: replace(s, scope="all"))
    assert widened.config_version == 4
    slower, _ = registry.update_settings(
        engine, app.name, lambda s: replace(s, interval_minutes=60, deletion_threshold=None)
    )
    assert slower.config_version == 4
    stored = registry.get_app(engine, app.name)
    assert stored == slower
    assert stored.settings.interval_minutes == 60
    assert stored.settings.deletion_threshold is None


def test_invalid_settings_change_nothing(engine: Engine, app: registry.App) -> None:
    for edit, message in [
        (lambda s: replace(s, interval_minutes=0), "interval"),
        (lambda s: replace(s, object_types={"user": False, "group": True}), "only groups can"),
        (lambda s: replace(s, roles=()), "needs a role besides Default Access"),
        (lambda s: replace(s, roles=("User", "user")), "listed twice"),
        (lambda s: replace(s, roles=("User", DEFAULT_ACCESS)), "every app has Default Access"),
        (lambda s: replace(s, deletion_threshold=0), "deletion threshold"),
        (lambda s: replace(s, allowed_actions={"user": ("purge",)}), "unknown user action"),
        (lambda s: replace(s, mappings={**s.mappings, "user": ()}), "user mappings: userName"),
    ]:
        with pytest.raises(AppError, match=message):
            registry.update_settings(engine, app.name, edit)
    assert registry.get_app(engine, app.name) == app


def test_settings_json_round_trip_and_defaults_for_missing_keys() -> None:
    settings, _ = validate_settings(AppSettings.for_gallery(GENERIC_SCIM), GENERIC_SCIM)
    settings = replace(settings, allowed_actions={"user": ("create", "update"), "group": ()})
    assert AppSettings.from_json(settings.to_json()) == settings
    old_row = {"roles": ["User"]}
    restored = AppSettings.from_json(old_row)
    assert restored.scope == "assigned"
    assert restored.allows("user", "delete")
    assert restored.object_types == {"user": True, "group": True}


def test_start_and_stop(engine: Engine, app: registry.App) -> None:
    started = registry.set_status(engine, app.name, "on")
    assert started.status == "on"
    assert _state(engine, app.id)["next_run"] is not None
    assert registry.set_status(engine, app.name, "off").status == "off"
    assert registry.get_app(engine, app.name).status == "off"
    with pytest.raises(AppError, match="on or off"):
        registry.set_status(engine, app.name, "paused")  # type: ignore[arg-type]


def _troubled(engine: Engine, app_id: int) -> None:
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        conn.execute(
            update(provisioning_state)
            .where(provisioning_state.c.app_id == app_id)
            .values(
                watermark=42,
                synced_config_version=1,
                quarantine_until=now + timedelta(hours=2),
                quarantine_reason="too many failures",
                failed_cycles=3,
            )
        )
        conn.execute(
            insert(provisioning_escrows).values(
                app_id=app_id,
                object_type="user",
                source_id="u1",
                attempts=2,
                next_attempt=now + timedelta(hours=1),
                error_code="TooManyRequests",
            )
        )
        conn.execute(
            insert(provisioning_staged).values(
                app_id=app_id, object_type="user", source_id="u2", action="delete", staged_at=now
            )
        )


def _count(engine: Engine, table: Table, app_id: int) -> int:
    with read_transaction(engine) as conn:
        return len(conn.execute(select(table).where(table.c.app_id == app_id)).all())


def test_restart_clears_quarantine_and_retries_escrows_now(
    engine: Engine, app: registry.App
) -> None:
    _troubled(engine, app.id)
    registry.restart(engine, app.name)
    state = _state(engine, app.id)
    assert state["quarantine_until"] is None
    assert state["failed_cycles"] == 0
    assert state["watermark"] == 42  # an ordinary restart continues incrementally
    with read_transaction(engine) as conn:
        due = conn.execute(
            select(provisioning_escrows.c.next_attempt).where(
                provisioning_escrows.c.app_id == app.id
            )
        ).scalar_one()
    assert due.replace(tzinfo=UTC) <= datetime.now(UTC)
    assert _count(engine, provisioning_staged, app.id) == 1


def test_a_full_restart_starts_over(engine: Engine, app: registry.App) -> None:
    _troubled(engine, app.id)
    registry.restart(engine, app.name, full=True)
    state = _state(engine, app.id)
    assert state["watermark"] == 0
    assert state["synced_config_version"] is None
    assert state["quarantine_until"] is None
    assert _count(engine, provisioning_escrows, app.id) == 0
    assert _count(engine, provisioning_staged, app.id) == 0


def test_allow_deletes_releases_the_staged_deletions(engine: Engine, app: registry.App) -> None:
    assert registry.allow_deletes(engine, app.name) == 0
    _troubled(engine, app.id)
    assert registry.allow_deletes(engine, app.name) == 1
    state = _state(engine, app.id)
    assert state["deletes_released"] is True
    assert state["quarantine_until"] is None


def test_roles_include_default_access(app: registry.App) -> None:
    assert registry.app_roles(app)[-1] == DEFAULT_ACCESS
    assert registry.resolve_role(app, "superuser") == "Superuser"
    assert registry.resolve_role(app, "default access") == DEFAULT_ACCESS
    with pytest.raises(AppError, match="its roles are: User, Administrator"):
        registry.resolve_role(app, "Owner")


def test_unknown_app(engine: Engine) -> None:
    with pytest.raises(UnknownApp, match="no app named 'nope'"):
        registry.get_app(engine, "nope")
    with pytest.raises(UnknownApp):
        registry.set_status(engine, "nope", "on")


def _people(engine: Engine, suffix: str) -> tuple[str, str]:
    upn = f"ann.{suffix}@contoso.com"
    group = f"Sales {suffix}"
    with write_transaction(engine) as conn:
        directory.upsert_user(conn, {"userPrincipalName": upn, "accountEnabled": True})
        directory.upsert_group(conn, {"displayName": group})
    return upn, group


def test_assign_and_unassign(engine: Engine, app: registry.App) -> None:
    upn, group = _people(engine, uuid.uuid4().hex[:8])
    result = registry.assign(engine, app.name, user=upn.upper(), role="user")
    assert result.role == "User"
    assert result.warning is None
    assert result.principal == f"user {upn}"
    refused = registry.assign(engine, app.name, group=group, role="Superuser")
    assert refused.warning is not None
    assert "accepts only the User role" in refused.warning
    default = registry.assign(engine, app.name, user=upn, role=DEFAULT_ACCESS)
    assert default.warning is not None
    assert "NotEffectivelyEntitled" in default.warning
    with read_transaction(engine) as conn:
        roles = sorted(a.role for a in directory.assignments_for_app(conn, app.id))
    assert roles == [DEFAULT_ACCESS, "Superuser", "User"]
    assert registry.unassign(engine, app.name, user=upn).count == 2
    with pytest.raises(AppError, match="is not assigned"):
        registry.unassign(engine, app.name, user=upn)
    with pytest.raises(AppError, match="its roles are"):
        registry.assign(engine, app.name, user=upn, role="Owner")
    with pytest.raises(AppError, match=r"no user 'ghost@contoso\.com'"):
        registry.assign(engine, app.name, user="ghost@contoso.com", role="User")
    with pytest.raises(AppError, match="not both"):
        registry.assign(engine, app.name, user=upn, group=group, role="User")
