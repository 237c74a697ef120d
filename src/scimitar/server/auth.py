"""Bearer-key authentication: from an ``Authorization`` header to the tenant it acts for.

Every request looks its key up again (one primary-key read) instead of caching it,
so a revoked key fails its very next request, in every worker process.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from scimitar.scim.errors import Forbidden, Unauthorized
from scimitar.server.store.db import Db
from scimitar.server.tables import api_keys, tenants
from scimitar.server.tenants import (
    INTEGRATION_USER,
    KEY_PREFIX,
    LITE_ADMIN,
    hash_secret,
    parse_permissions,
    split_key,
)

# What a SCIM client (Entra ID's "Secret Token" box included) must send.
_HOW = "send 'Authorization: Bearer <API key>' with a key from `scimitar token create`"
# The names Clarizen One's tutorial gives the permissions, for 403 details.
_PERMISSION_NAMES = {INTEGRATION_USER: "Integration User", LITE_ADMIN: "Lite Admin"}
_REQUIRED = (INTEGRATION_USER, LITE_ADMIN)

_LOOKUP = (
    select(
        api_keys.c.secret_hash,
        api_keys.c.permissions,
        api_keys.c.revoked,
        tenants.c.id,
        tenants.c.name,
        tenants.c.role_policy,
    )
    .join(tenants, tenants.c.id == api_keys.c.tenant_id)
    .where(api_keys.c.id == bindparam("key_id"))
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a valid key: its tenant and the permissions of its account."""

    tenant_id: int
    tenant_name: str
    role_policy: str | None
    key_id: str
    permissions: frozenset[str]


def bearer_key(authorization: str | None) -> str:
    """Return the key from an ``Authorization: Bearer <key>`` header value.

    The scheme is matched case-insensitively (RFC 7235 §2.1; RFC 6750 §2.1).
    """
    if authorization is None or not authorization.strip():
        raise Unauthorized(f"authentication required: {_HOW}")
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        # Nothing of the header is echoed: a key sent without its scheme sits in `scheme`.
        if scheme.startswith(KEY_PREFIX):
            raise Unauthorized(f"the API key must follow the word 'Bearer ': {_HOW}")
        raise Unauthorized(f"the Authorization header must use the Bearer scheme: {_HOW}")
    key = key.strip()
    if not key:
        raise Unauthorized(f"the bearer token is empty: {_HOW}")
    return key


def authenticate(db: Db, authorization: str | None) -> Principal:
    """Resolve the ``Authorization`` header to a ``Principal`` or raise ``Unauthorized``."""
    parts = split_key(bearer_key(authorization))
    if parts is None:
        raise Unauthorized(
            "the bearer token is not a scimitar API key (they read scimitar_<id>_<secret>): " + _HOW
        )
    key_id, secret = parts
    row = db.first(_LOOKUP, {"key_id": key_id})
    if row is None:
        raise Unauthorized(f"unknown or invalid API key: {_HOW}")
    secret_hash, permissions, revoked, tenant_id, tenant_name, role_policy = row
    # compare_digest: how long the comparison takes says nothing about the stored hash.
    if not hmac.compare_digest(secret_hash, hash_secret(secret)):
        raise Unauthorized(f"unknown or invalid API key: {_HOW}")
    if revoked is not None:
        # The id is public (`token list` prints it); naming it tells the admin which to replace.
        raise Unauthorized(f"API key {key_id} has been revoked; issue a new one")
    return Principal(
        tenant_id=tenant_id,
        tenant_name=tenant_name,
        role_policy=role_policy,
        key_id=key_id,
        permissions=parse_permissions(permissions),
    )


def require_permissions(principal: Principal) -> None:
    """Raise ``Forbidden`` naming each permission the key's account lacks."""
    missing = [_PERMISSION_NAMES[p] for p in _REQUIRED if p not in principal.permissions]
    if not missing:
        return
    names = " and ".join(missing)
    plural = "permissions" if len(missing) > 1 else "permission"
    raise Forbidden(
        f"the account behind this API key lacks the {names} {plural}; "
        f"provisioning needs both Integration User and Lite Admin"
    )
