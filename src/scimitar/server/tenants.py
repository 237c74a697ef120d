"""Administer SCIM target tenants and their API keys (what `scimitar tenant`/`token` run).

An API key reads ``scimitar_<key id>_<secret>``. The key id is public: it is the
primary key of ``api_keys``, printed by ``token list`` and used to revoke the key.
The secret is 256 random bits of which only a SHA-256 digest is stored. The fixed
prefix lets secret scanners (GitHub's, trufflehog, gitleaks) spot a leaked key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from scimitar.db.engine import read_transaction, write_transaction
from scimitar.server.policy import POLICIES
from scimitar.server.tables import api_keys, tenants

KEY_PREFIX = "scimitar_"
INTEGRATION_USER = "integration-user"
LITE_ADMIN = "lite-admin"
# Clarizen One's tutorial: the provisioning account needs "Integration User and Lite
# Admin permissions". A key may carry fewer, to model an account that lacks one.
PERMISSIONS = frozenset({INTEGRATION_USER, LITE_ADMIN})
ROLE_POLICIES = frozenset(POLICIES)
MAX_TENANT_NAME = 200  # tenants.name is String(200)
_KEY_ID_BYTES = 8  # 16 hex digits: the public half, unique by primary key
MAX_KEY_ID = 32  # api_keys.id is String(32)
_SECRET_BYTES = 32  # 256 bits: the private half


class AdminError(Exception):
    """A tenant or key operation was refused; the message says why and what to do."""


class UnknownTenant(AdminError):
    """No tenant has the given name."""


class DuplicateTenant(AdminError):
    """A tenant with the given name already exists."""


class UnknownKey(AdminError):
    """No API key has the given id."""


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created API key; ``secret`` is the whole bearer token, shown only once."""

    key_id: str
    # Kept out of repr() so that logging or printing the object never leaks the key.
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """What ``token list`` shows about a key (never its secret: only its hash is stored)."""

    key_id: str
    tenant_name: str
    permissions: frozenset[str]
    created: datetime
    revoked: datetime | None


def split_key(key: str) -> tuple[str, str] | None:
    """Split ``scimitar_<key id>_<secret>`` into (key id, secret); None if it is not one."""
    if not key.startswith(KEY_PREFIX):
        return None
    # The key id is hex, so the first "_" after the prefix ends it; the secret
    # (URL-safe base64) may itself contain "_".
    key_id, sep, secret = key[len(KEY_PREFIX) :].partition("_")
    if not sep or not key_id or not secret or len(key_id) > MAX_KEY_ID:
        return None
    return key_id, secret


def hash_secret(secret: str) -> str:
    """Return the stored digest of a key's secret half.

    SHA-256 without salt or stretching is right here: the secret is 256 bits from
    ``secrets``, not a human-chosen password, so guessing it is hopeless however fast
    the hash, and a slow KDF (bcrypt, argon2) would only add milliseconds to every
    request, which each authenticate with one digest.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def format_permissions(permissions: frozenset[str]) -> str:
    """Return the stored (and printed) form: sorted, comma-separated."""
    return ",".join(sorted(permissions))


@lru_cache(maxsize=64)
def parse_permissions(stored: str) -> frozenset[str]:
    """Parse the stored comma-separated permissions (cached: there are few distinct values)."""
    return frozenset(p for p in stored.split(",") if p)


def check_permissions(permissions: frozenset[str]) -> None:
    """Raise ``AdminError`` naming any permission scimitar does not know."""
    unknown = permissions - PERMISSIONS
    if unknown:
        raise AdminError(
            f"unknown permission(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(sorted(PERMISSIONS))}"
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite hands DateTime(timezone=True) back naive; every stored moment is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def create_tenant(engine: Engine, name: str, role_policy: str | None) -> int:
    """Create a SCIM target tenant and return its id."""
    name = name.strip()
    if not name:
        raise AdminError("a tenant needs a non-empty name")
    if len(name) > MAX_TENANT_NAME:
        raise AdminError(f"a tenant name is at most {MAX_TENANT_NAME} characters")
    if role_policy is not None and role_policy not in ROLE_POLICIES:
        raise AdminError(
            f"unknown role policy {role_policy!r}; known: {', '.join(sorted(ROLE_POLICIES))}"
        )
    try:
        with write_transaction(engine) as conn:
            tenant_id = conn.execute(
                insert(tenants)
                .values(name=name, role_policy=role_policy, created=_now())
                .returning(tenants.c.id)
            ).scalar_one()
    except IntegrityError:
        # The unique constraint, not a prior SELECT, decides: two racing creates cannot both win.
        raise DuplicateTenant(f"a tenant named {name!r} already exists") from None
    return int(tenant_id)


def create_key(engine: Engine, tenant_name: str, permissions: frozenset[str]) -> IssuedKey:
    """Issue a new API key for the tenant; only the hash of its secret is stored."""
    check_permissions(permissions)
    tenant_name = tenant_name.strip()  # as create_tenant stored it
    key_id = secrets.token_hex(_KEY_ID_BYTES)
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    with write_transaction(engine) as conn:
        tenant_id = conn.execute(
            select(tenants.c.id).where(tenants.c.name == tenant_name)
        ).scalar_one_or_none()
        if tenant_id is None:
            raise UnknownTenant(
                f"no tenant named {tenant_name!r}; create it with `scimitar tenant create`"
            )
        conn.execute(
            insert(api_keys).values(
                id=key_id,
                tenant_id=tenant_id,
                secret_hash=hash_secret(secret),
                permissions=format_permissions(permissions),
                created=_now(),
                revoked=None,
            )
        )
    return IssuedKey(key_id=key_id, secret=f"{KEY_PREFIX}{key_id}_{secret}")


def list_keys(engine: Engine) -> list[KeyInfo]:
    """Return every key, oldest first, revoked ones included."""
    query = (
        select(
            api_keys.c.id,
            tenants.c.name,
            api_keys.c.permissions,
            api_keys.c.created,
            api_keys.c.revoked,
        )
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .order_by(api_keys.c.created, api_keys.c.id)
    )
    with read_transaction(engine) as conn:
        rows = conn.execute(query).all()
    return [
        KeyInfo(
            key_id=row.id,
            tenant_name=row.name,
            permissions=parse_permissions(row.permissions),
            created=_aware(row.created),
            revoked=_aware(row.revoked) if row.revoked is not None else None,
        )
        for row in rows
    ]


def revoke_key(engine: Engine, key_id: str) -> None:
    """Revoke a key; it fails its very next request. Revoking twice keeps the first time.

    The whole key is accepted too (someone who finds a leaked key can revoke it
    as is), and is never echoed back.
    """
    parts = split_key(key_id)
    if parts is not None:
        key_id = parts[0]
    with write_transaction(engine) as conn:
        found = conn.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first()
        if found is None:
            raise UnknownKey(f"no API key with id {key_id!r}; `scimitar token list` shows them")
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked.is_(None))
            .values(revoked=_now())
        )
