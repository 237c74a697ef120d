"""Apps: adding them from the gallery, their settings, status and provisioning state.

An app's configuration lives in the ``settings`` JSON column, read into
``AppSettings`` (``app_settings.py``). Changing what decides who is provisioned or
what is written (mappings, scoping filters, scope, enabled object types, group
flattening) bumps ``config_version``; the engine compares it with the version it
last synced, so the next cycle is an initial one, as Entra starts over after such
a change.

The secret token is stored encrypted (``secrets.py``) and is never part of an
``App``: ``secret_token()`` decrypts it for the one caller that needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, Engine, Row, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory import store as directory
from scimitar.directory.model import DirectoryError
from scimitar.provisioning.app_settings import AppError as AppError
from scimitar.provisioning.app_settings import AppSettings as AppSettings
from scimitar.provisioning.app_settings import (
    check_email,
    check_name,
    check_tenant_url,
    check_token,
    validate_settings,
)
from scimitar.provisioning.gallery import (
    DEFAULT_ACCESS,
    GalleryApp,
    UnknownGalleryApp,
    gallery_app,
)
from scimitar.provisioning.secrets import decrypt_token, encrypt_token
from scimitar.provisioning.tables import (
    apps,
    provisioning_escrows,
    provisioning_staged,
    provisioning_state,
)

Status = Literal["on", "off"]


class UnknownApp(AppError, LookupError):
    """No app has the given name."""


class DuplicateApp(AppError):
    """An app with the given name already exists."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class App:
    """An app as stored, without its secret token."""

    id: int
    name: str
    gallery: str
    tenant_url: str
    notification_email: str | None
    status: Status
    settings: AppSettings
    config_version: int

    @property
    def gallery_app(self) -> GalleryApp:
        return gallery_app(self.gallery)

    @property
    def notifies(self) -> bool:
        """Whether failures are e-mailed: an address is set and the option is on."""
        return self.notification_email is not None and self.settings.notify_on_failure


@dataclass(frozen=True, slots=True)
class ProvisioningStatus:
    """An app's sync state as ``app show`` reports it."""

    watermark: int
    synced_config_version: int | None
    next_run: datetime | None
    quarantine_until: datetime | None
    quarantine_reason: str | None
    failed_cycles: int
    deletes_released: bool
    staged_deletions: int
    escrows: int

    @property
    def quarantined(self) -> bool:
        """Whether cycles are held back now (a quarantine that has run out no longer counts)."""
        return self.quarantine_until is not None and self.quarantine_until > _utcnow()


# -- reading --------------------------------------------------------------------------


@contextmanager
def _reading(source: Engine | Connection) -> Iterator[Connection]:
    if isinstance(source, Connection):
        yield source
    else:
        with read_transaction(source) as conn:
            yield conn


def _app(row: Row[*tuple[Any, ...]]) -> App:
    return App(
        id=row.id,
        name=row.name,
        gallery=row.gallery,
        tenant_url=row.tenant_url,
        notification_email=row.notification_email,
        status=cast(Status, row.status),
        settings=AppSettings.from_json(row.settings),
        config_version=row.config_version,
    )


_APP_COLUMNS = (
    apps.c.id,
    apps.c.name,
    apps.c.gallery,
    apps.c.tenant_url,
    apps.c.notification_email,
    apps.c.status,
    apps.c.settings,
    apps.c.config_version,
)


def get_app(source: Engine | Connection, name: str) -> App:
    """Return the app called ``name`` or raise ``UnknownApp``."""
    with _reading(source) as conn:
        row = conn.execute(select(*_APP_COLUMNS).where(apps.c.name == name.strip())).first()
    if row is None:
        raise UnknownApp(f"no app named {name.strip()!r}; `scimitar app list` shows the apps")
    return _app(row)


def get_app_by_id(source: Engine | Connection, app_id: int) -> App:
    """Return the app with id ``app_id`` or raise ``UnknownApp``."""
    with _reading(source) as conn:
        row = conn.execute(select(*_APP_COLUMNS).where(apps.c.id == app_id)).first()
    if row is None:
        raise UnknownApp(f"no app with id {app_id}")
    return _app(row)


def list_apps(source: Engine | Connection) -> list[App]:
    """Return every app, by name."""
    with _reading(source) as conn:
        rows = conn.execute(select(*_APP_COLUMNS).order_by(apps.c.name)).all()
    return [_app(row) for row in rows]


def _database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def secret_token(engine: Engine, app: App, database_url: str | None = None) -> str:
    """Return the app's secret token, decrypted (raises ``SecretKeyError`` on a wrong key).

    ``database_url`` locates the key file; it defaults to the engine's own URL.
    """
    with read_transaction(engine) as conn:
        ciphertext = conn.execute(select(apps.c.secret_token).where(apps.c.id == app.id)).scalar()
    if ciphertext is None:
        raise UnknownApp(f"the app {app.name!r} no longer exists")
    return decrypt_token(ciphertext, database_url or _database_url(engine))


def _count(conn: Connection, table: Table, app_id: int) -> int:
    query = select(func.count()).select_from(table).where(table.c.app_id == app_id)
    return conn.execute(query).scalar_one()


def provisioning_status(source: Engine | Connection, app: App) -> ProvisioningStatus:
    """Return the app's sync state, staged deletions and escrows."""
    with _reading(source) as conn:
        row = conn.execute(
            select(provisioning_state).where(provisioning_state.c.app_id == app.id)
        ).first()
        staged = _count(conn, provisioning_staged, app.id)
        escrows = _count(conn, provisioning_escrows, app.id)
    if row is None:
        return ProvisioningStatus(0, None, None, None, None, 0, False, staged, escrows)
    return ProvisioningStatus(
        watermark=row.watermark,
        synced_config_version=row.synced_config_version,
        next_run=_aware(row.next_run),
        quarantine_until=_aware(row.quarantine_until),
        quarantine_reason=row.quarantine_reason,
        failed_cycles=row.failed_cycles,
        deletes_released=row.deletes_released,
        staged_deletions=staged,
        escrows=escrows,
    )


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; they hold UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def app_roles(app: App) -> list[str]:
    """Return the roles an assignment to ``app`` may carry, Default Access last."""
    return [*app.settings.roles, DEFAULT_ACCESS]


def resolve_role(app: App, role: str) -> str:
    """Return ``role`` as the app spells it (any case), or raise ``AppError`` listing roles."""
    wanted = role.strip().casefold()
    for known in app_roles(app):
        if known.casefold() == wanted:
            return known
    raise AppError(
        f"{app.name!r} has no role {role.strip()!r}; its roles are: " + ", ".join(app_roles(app))
    )


# -- writing --------------------------------------------------------------------------


def add_app(
    engine: Engine,
    name: str,
    gallery: str,
    *,
    tenant_url: str | None = None,
    data_center: str | None = None,
    secret_token: str,
    notification_email: str | None = None,
) -> App:
    """Add an app from the gallery, provisioning off (as Entra adds it), and its sync state."""
    name = check_name(name)
    try:
        entry = gallery_app(gallery)
    except UnknownGalleryApp as exc:
        raise AppError(str(exc)) from None
    url = resolve_tenant_url(entry, tenant_url, data_center)
    token = check_token(secret_token)
    email = check_email(notification_email)
    settings, _warnings = validate_settings(AppSettings.for_gallery(entry), entry)
    ciphertext = encrypt_token(token, _database_url(engine))
    moment = _utcnow()
    try:
        with write_transaction(engine) as conn:
            app_id = conn.execute(
                insert(apps)
                .values(
                    name=name,
                    gallery=entry.key,
                    tenant_url=url,
                    secret_token=ciphertext,
                    notification_email=email,
                    status="off",
                    settings=settings.to_json(),
                    config_version=1,
                    created=moment,
                    modified=moment,
                )
                .returning(apps.c.id)
            ).scalar_one()
            conn.execute(
                insert(provisioning_state).values(
                    app_id=app_id,
                    watermark=0,
                    synced_config_version=None,
                    failed_cycles=0,
                    deletes_released=False,
                )
            )
    except IntegrityError:
        if _exists(engine, name):
            raise DuplicateApp(f"an app named {name!r} already exists") from None
        raise
    return App(app_id, name, entry.key, url, email, "off", settings, 1)


def _exists(engine: Engine, name: str) -> bool:
    with read_transaction(engine) as conn:
        return conn.execute(select(apps.c.id).where(apps.c.name == name)).first() is not None


def resolve_tenant_url(entry: GalleryApp, tenant_url: str | None, data_center: str | None) -> str:
    """Return the tenant URL given directly or through a data center name."""
    if (tenant_url is None) == (data_center is None):
        raise AppError("give either a tenant URL or a data center, not both or neither")
    if data_center is None:
        return check_tenant_url(cast(str, tenant_url))
    if not entry.data_centers:
        raise AppError(f"{entry.display_name} has no data centers: give its tenant URL")
    try:
        return entry.data_centers[data_center]
    except KeyError:
        raise AppError(
            f"{entry.display_name} has no data center {data_center!r}; choose one of: "
            + ", ".join(entry.data_centers)
        ) from None


@contextmanager
def _changing(engine: Engine, name: str) -> Iterator[tuple[Connection, App]]:
    """Open a write transaction holding the app's row, so edits cannot interleave."""
    with write_transaction(engine) as conn:
        row = conn.execute(
            select(*_APP_COLUMNS).where(apps.c.name == name.strip()).with_for_update()
        ).first()
        if row is None:
            raise UnknownApp(f"no app named {name.strip()!r}; `scimitar app list` shows the apps")
        yield conn, _app(row)


def update_settings(
    engine: Engine, name: str, edit: Callable[[AppSettings], AppSettings]
) -> tuple[App, list[str]]:
    """Apply ``edit`` to the app's settings, validate, and save; return the app and warnings.

    ``config_version`` goes up when the change needs an initial cycle.
    """
    with _changing(engine, name) as (conn, app):
        settings, warnings = validate_settings(edit(app.settings), app.gallery_app)
        version = app.config_version + (1 if settings.affects_sync(app.settings) else 0)
        conn.execute(
            update(apps)
            .where(apps.c.id == app.id)
            .values(settings=settings.to_json(), config_version=version, modified=_utcnow())
        )
    return replace(app, settings=settings, config_version=version), warnings


def update_connection(
    engine: Engine,
    name: str,
    *,
    tenant_url: str | None = None,
    data_center: str | None = None,
    secret_token: str | None = None,
) -> App:
    """Change the app's tenant URL (directly or by data center) and/or its secret token."""
    with _changing(engine, name) as (conn, app):
        values: dict[str, Any] = {"modified": _utcnow()}
        if tenant_url is not None or data_center is not None:
            values["tenant_url"] = resolve_tenant_url(app.gallery_app, tenant_url, data_center)
        if secret_token is not None:
            values["secret_token"] = encrypt_token(check_token(secret_token), _database_url(engine))
        conn.execute(update(apps).where(apps.c.id == app.id).values(**values))
    return replace(app, tenant_url=values.get("tenant_url", app.tenant_url))


def set_notification_email(engine: Engine, name: str, address: str | None) -> App:
    """Set (or, with None or "", clear) the address provisioning failures are e-mailed to."""
    email = check_email(address)
    with _changing(engine, name) as (conn, app):
        conn.execute(
            update(apps)
            .where(apps.c.id == app.id)
            .values(notification_email=email, modified=_utcnow())
        )
    return replace(app, notification_email=email)


def _save_state(conn: Connection, app_id: int, **values: Any) -> None:
    conn.execute(
        update(provisioning_state).where(provisioning_state.c.app_id == app_id).values(**values)
    )


def set_status(engine: Engine, name: str, status: Status) -> App:
    """Turn provisioning on or off; turning it on schedules a cycle right away."""
    if status not in ("on", "off"):
        raise AppError(f"provisioning status is on or off, not {status!r}")
    with _changing(engine, name) as (conn, app):
        if app.status == status:
            return app
        moment = _utcnow()
        conn.execute(update(apps).where(apps.c.id == app.id).values(status=status, modified=moment))
        if status == "on":
            _save_state(conn, app.id, next_run=moment)
    return replace(app, status=status)


def restart(engine: Engine, name: str, *, full: bool = False) -> App:
    """Clear quarantine and retry escrowed objects at once; ``full`` also starts over.

    A full restart forgets the watermark and the synced configuration, so the next
    cycle is an initial one over everything in scope, and drops escrows and staged
    deletions, which that cycle recomputes. Links to target objects are kept: they
    are how the engine knows which objects it owns.
    """
    with _changing(engine, name) as (conn, app):
        moment = _utcnow()
        values: dict[str, Any] = {
            "quarantine_until": None,
            "quarantine_reason": None,
            "failed_cycles": 0,
        }
        if app.status == "on":
            values["next_run"] = moment
        if full:
            values.update(watermark=0, synced_config_version=None, deletes_released=False)
            for table in (provisioning_escrows, provisioning_staged):
                conn.execute(table.delete().where(table.c.app_id == app.id))
        else:
            conn.execute(
                update(provisioning_escrows)
                .where(provisioning_escrows.c.app_id == app.id)
                .values(next_attempt=moment)
            )
        _save_state(conn, app.id, **values)
    return app


def allow_deletes(engine: Engine, name: str) -> int:
    """Release the deletions the accidental-deletion threshold held; return how many."""
    with _changing(engine, name) as (conn, app):
        staged = _count(conn, provisioning_staged, app.id)
        values: dict[str, Any] = {"deletes_released": True}
        if staged:
            # Entra: the quarantined job resumes with the next cycle once deletes are allowed.
            values.update(quarantine_until=None, quarantine_reason=None, failed_cycles=0)
            if app.status == "on":
                values["next_run"] = _utcnow()
        _save_state(conn, app.id, **values)
    return staged


# -- assignments ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssignmentResult:
    """What ``assign``/``unassign`` did, for the command line to report."""

    principal: str  # "user alice@contoso.com" or "group Sales"
    role: str | None
    count: int = 1
    warning: str | None = None


def _principal(conn: Connection, user: str | None, group: str | None) -> tuple[str, str, str]:
    if (user is None) == (group is None):
        raise AppError("give either a user (by userPrincipalName) or a group, not both or neither")
    if user is not None:
        found_user = directory.find_user(conn, user.strip())
        if found_user is None:
            raise AppError(f"no user {user.strip()!r} in the directory")
        return "user", found_user.object_id, f"user {found_user.user_principal_name}"
    found_group = directory.find_group(conn, cast(str, group).strip())
    if found_group is None:
        raise AppError(f"no group {cast(str, group).strip()!r} in the directory")
    return "group", found_group.object_id, f"group {found_group.display_name}"


def assign(
    engine: Engine, name: str, *, user: str | None = None, group: str | None = None, role: str
) -> AssignmentResult:
    """Assign a user or group to the app with one of its roles."""
    app = get_app(engine, name)
    role = resolve_role(app, role)
    with write_transaction(engine) as conn:
        kind, object_id, described = _principal(conn, user, group)
        try:
            directory.assign(conn, app.id, kind, object_id, role)
        except DirectoryError as exc:
            raise AppError(str(exc)) from None
    warning = app.gallery_app.refused_roles.get(role)
    if role == DEFAULT_ACCESS:
        warning = (
            f"{DEFAULT_ACCESS} does not entitle provisioning: this {kind} will be skipped and "
            "logged NotEffectivelyEntitled. Assign another role to provision it."
        )
    return AssignmentResult(described, role, 1, warning)


def unassign(
    engine: Engine,
    name: str,
    *,
    user: str | None = None,
    group: str | None = None,
    role: str | None = None,
) -> AssignmentResult:
    """Remove a user's or group's assignment to the app (one role, or all of them)."""
    app = get_app(engine, name)
    resolved = None if role is None else resolve_role(app, role)
    with write_transaction(engine) as conn:
        kind, object_id, described = _principal(conn, user, group)
        count = directory.unassign(conn, app.id, kind, object_id, resolved)
    if count == 0:
        which = f" with the role {resolved}" if resolved else ""
        raise AppError(f"{described} is not assigned to {app.name!r}{which}")
    return AssignmentResult(described, resolved, count)
