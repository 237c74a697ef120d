"""An app's configuration (``AppSettings``) and the checks every configured value passes.

``AppSettings`` is what the ``settings`` JSON column of ``apps`` holds: scope,
cycle interval, deletion guard, allowed actions, roles, mappings and scoping
filters. ``validate_settings`` normalises and checks a whole configuration
against its gallery entry; the ``check_*`` functions check an app's other fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from scimitar.provisioning.gallery import DEFAULT_ACCESS, GalleryApp
from scimitar.provisioning.mappings import (
    OBJECT_TYPES,
    Mapping,
    MappingError,
    ObjectType,
    canonical_source,
    validate_mappings,
)
from scimitar.provisioning.scoping import ScopingClause, ScopingError, ScopingFilter

Scope = Literal["assigned", "all"]
Action = Literal["create", "update", "delete"]
ACTIONS: Final[tuple[Action, ...]] = ("create", "update", "delete")
DEFAULT_INTERVAL_MINUTES: Final = 40  # Entra's cycle: "approximately every 40 minutes"
# Entra Connect and Cloud Sync default their accidental-deletion threshold to 500.
DEFAULT_DELETION_THRESHOLD: Final = 500
MAX_INTERVAL_MINUTES: Final = 7 * 24 * 60
MAX_NAME: Final = 200  # apps.name is String(200)
MAX_URL: Final = 2048  # apps.tenant_url is String(2048)
MAX_EMAIL: Final = 320  # apps.notification_email is String(320)
MAX_TOKEN: Final = 8192
MAX_ROLE: Final = 200
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AppError(Exception):
    """An app operation was refused; the message says why and what to do."""


def _default_actions() -> dict[ObjectType, tuple[Action, ...]]:
    return {"user": ACTIONS, "group": ACTIONS}


@dataclass(frozen=True)
class AppSettings:
    """Everything an administrator configures about an app besides its credentials."""

    scope: Scope = "assigned"
    interval_minutes: int = DEFAULT_INTERVAL_MINUTES
    flatten_nested_groups: bool = False
    # None: no accidental-deletion guard.
    deletion_threshold: int | None = DEFAULT_DELETION_THRESHOLD
    skip_out_of_scope_deletions: bool = False
    notify_on_failure: bool = True  # takes effect when the app has a notification e-mail
    allowed_actions: dict[ObjectType, tuple[Action, ...]] = field(default_factory=_default_actions)
    roles: tuple[str, ...] = ()
    mappings: dict[ObjectType, tuple[Mapping, ...]] = field(
        default_factory=lambda: {"user": (), "group": ()}
    )
    scoping_filters: dict[ObjectType, tuple[ScopingFilter, ...]] = field(
        default_factory=lambda: {"user": (), "group": ()}
    )
    # Which object types are provisioned; only groups can be turned off, as in Entra.
    object_types: dict[ObjectType, bool] = field(
        default_factory=lambda: {"user": True, "group": True}
    )

    @classmethod
    def for_gallery(cls, app: GalleryApp) -> AppSettings:
        """Return a new app's settings: Entra's defaults and the gallery entry's presets."""
        return cls(roles=app.roles, mappings=dict(app.default_mappings))

    def allows(self, kind: ObjectType, action: Action) -> bool:
        return action in self.allowed_actions.get(kind, ())

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "interval_minutes": self.interval_minutes,
            "flatten_nested_groups": self.flatten_nested_groups,
            "deletion_threshold": self.deletion_threshold,
            "skip_out_of_scope_deletions": self.skip_out_of_scope_deletions,
            "notify_on_failure": self.notify_on_failure,
            "allowed_actions": {k: list(v) for k, v in self.allowed_actions.items()},
            "roles": list(self.roles),
            "mappings": {k: [m.to_json() for m in v] for k, v in self.mappings.items()},
            "scoping_filters": {
                k: [f.to_json() for f in v] for k, v in self.scoping_filters.items()
            },
            "object_types": dict(self.object_types),
        }

    @classmethod
    def from_json(cls, data: Any) -> AppSettings:
        """Read stored settings; a key left out takes its default (older rows lack newer keys)."""
        if not isinstance(data, dict):
            raise AppError("the app's stored settings are not a JSON object")
        defaults = cls()
        try:
            return cls(
                scope=data.get("scope", defaults.scope),
                interval_minutes=int(data.get("interval_minutes", defaults.interval_minutes)),
                flatten_nested_groups=bool(data.get("flatten_nested_groups", False)),
                deletion_threshold=data.get("deletion_threshold", defaults.deletion_threshold),
                skip_out_of_scope_deletions=bool(data.get("skip_out_of_scope_deletions", False)),
                notify_on_failure=bool(data.get("notify_on_failure", True)),
                allowed_actions={
                    kind: tuple(data.get("allowed_actions", {}).get(kind, ACTIONS))
                    for kind in OBJECT_TYPES
                },
                roles=tuple(data.get("roles", ())),
                mappings={
                    kind: tuple(
                        Mapping.from_json(m) for m in data.get("mappings", {}).get(kind, ())
                    )
                    for kind in OBJECT_TYPES
                },
                scoping_filters={
                    kind: tuple(
                        ScopingFilter.from_json(f)
                        for f in data.get("scoping_filters", {}).get(kind, ())
                    )
                    for kind in OBJECT_TYPES
                },
                object_types={
                    kind: bool(data.get("object_types", {}).get(kind, True))
                    for kind in OBJECT_TYPES
                },
            )
        except (MappingError, ScopingError, TypeError, ValueError, AttributeError) as exc:
            raise AppError(f"the app's stored settings are damaged: {exc}") from exc

    def affects_sync(self, other: AppSettings) -> bool:
        """Return whether going from ``other`` to these settings needs an initial cycle."""
        return (
            self.mappings != other.mappings
            or self.scoping_filters != other.scoping_filters
            or self.scope != other.scope
            or self.object_types != other.object_types
            or self.flatten_nested_groups != other.flatten_nested_groups
        )


# -- validation -----------------------------------------------------------------------


def check_name(name: str) -> str:
    """Return an app name stripped, or raise ``AppError``."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        raise AppError(f"an app name has 1 to {MAX_NAME} printable characters")
    return name


def check_tenant_url(url: str) -> str:
    """Return a tenant URL normalised (no trailing slash), or raise ``AppError``."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError as exc:
        raise AppError(f"the tenant URL {url!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise AppError(
            f"the tenant URL {url!r} must be an http(s) URL such as "
            "https://servicesapp2.clarizen.com/scim/v2 (http:// only for a local test target)"
        )
    if parts.username is not None or parts.password is not None:
        raise AppError("the tenant URL must not carry credentials; give them as --secret-token")
    if parts.query or parts.fragment:
        raise AppError(f"the tenant URL {url!r} must not have a query or fragment")
    if len(url) > MAX_URL:
        raise AppError(f"the tenant URL is longer than {MAX_URL} characters")
    return url.rstrip("/")


def check_token(token: str) -> str:
    """Return a secret token without surrounding whitespace, or raise ``AppError``."""
    token = token.strip()
    if not token:
        raise AppError("the secret token is empty: generate an API key in the app and give it")
    if len(token) > MAX_TOKEN or any(ord(ch) < 32 or ord(ch) == 127 for ch in token):
        # It is sent as an HTTP header value, which cannot hold control characters.
        raise AppError("the secret token has control characters or is too long; paste it again")
    return token


def check_email(address: str | None) -> str | None:
    """Return a notification address (None or empty clears it), or raise ``AppError``."""
    if address is None or not address.strip():
        return None
    address = address.strip()
    if len(address) > MAX_EMAIL or not _EMAIL.fullmatch(address):
        raise AppError(f"{address!r} is not an e-mail address")
    return address


def _check_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    checked = []
    for role in roles:
        role = role.strip()
        if not role or len(role) > MAX_ROLE:
            raise AppError(f"a role name has 1 to {MAX_ROLE} characters")
        if role.casefold() == DEFAULT_ACCESS.casefold():
            raise AppError(f"every app has {DEFAULT_ACCESS}; it is not added as a role")
        if role.casefold() in seen:
            raise AppError(f"the role {role!r} is listed twice")
        seen.add(role.casefold())
        checked.append(role)
    if not checked:
        raise AppError(
            f"an app needs a role besides {DEFAULT_ACCESS}: assignments with {DEFAULT_ACCESS} "
            "alone entitle no one to provisioning"
        )
    return tuple(checked)


def _check_filters(
    kind: ObjectType, filters: tuple[ScopingFilter, ...]
) -> tuple[tuple[ScopingFilter, ...], list[str]]:
    warnings: list[str] = []
    checked = []
    for scoping_filter in filters:
        clauses = []
        for clause in scoping_filter.clauses:
            attribute, known = canonical_source(kind, clause.attribute)
            if not known:
                warnings.append(
                    f"scoping filters test {attribute!r}, which is not a standard {kind} "
                    f"attribute: only {kind}s with that extra attribute can pass the clause"
                )
            clauses.append(ScopingClause(attribute, clause.operator, clause.value))
        checked.append(ScopingFilter(tuple(clauses)))
    return tuple(checked), warnings


def validate_settings(settings: AppSettings, app: GalleryApp) -> tuple[AppSettings, list[str]]:
    """Check settings for a gallery app; return them normalised, and warnings to show."""
    if settings.scope not in ("assigned", "all"):
        raise AppError(f"scope must be assigned or all, not {settings.scope!r}")
    if not 1 <= settings.interval_minutes <= MAX_INTERVAL_MINUTES:
        raise AppError(f"the interval is 1 to {MAX_INTERVAL_MINUTES} minutes")
    threshold = settings.deletion_threshold
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1
    ):
        raise AppError("the deletion threshold is a whole number of 1 or more (or off)")
    if not settings.object_types.get("user", True):
        # Entra: "While you can disable groups from your mappings, disabling users isn't supported."
        raise AppError("user provisioning cannot be disabled; only groups can")
    for kind, actions in settings.allowed_actions.items():
        unknown = set(actions) - set(ACTIONS)
        if unknown:
            raise AppError(
                f"unknown {kind} action(s) {', '.join(sorted(unknown))}; use {', '.join(ACTIONS)}"
            )
    warnings: list[str] = []
    mappings: dict[ObjectType, tuple[Mapping, ...]] = {}
    filters: dict[ObjectType, tuple[ScopingFilter, ...]] = {}
    for kind in OBJECT_TYPES:
        try:
            mappings[kind], found = validate_mappings(settings.mappings.get(kind, ()), kind, app)
        except MappingError as exc:
            raise AppError(f"{kind} mappings: {exc}") from None
        warnings.extend(found)
        filters[kind], found = _check_filters(kind, settings.scoping_filters.get(kind, ()))
        warnings.extend(found)
    allowed = {
        kind: tuple(a for a in ACTIONS if a in settings.allowed_actions.get(kind, ()))
        for kind in OBJECT_TYPES
    }
    normalised = replace(
        settings,
        roles=_check_roles(settings.roles),
        mappings=mappings,
        scoping_filters=filters,
        allowed_actions=allowed,
        object_types={kind: settings.object_types.get(kind, True) for kind in OBJECT_TYPES},
    )
    return normalised, warnings
