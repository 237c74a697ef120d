"""Bearer-key authentication: from an ``Authorization`` header to the tenant it acts for.

Every request checks its key against the database, so a revoked key fails its very
next request, in every worker process. The first request of a key reads it (one
primary-key read, joined to its tenant); on PostgreSQL, where that read is a round
trip, later requests remember the key's tenant and permissions (``KeyCache``) and
check only that the key is still valid, inside their first statement
(``store/postgres.py``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from scimitar.scim.errors import Forbidden, Unauthorized
from scimitar.server.store.db import Db
from scimitar.server.store.postgres import PsycopgDb
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


class KeyCache:
    """What this worker learned of keys that passed a full check: their principals.

    A cached principal is never trusted alone: the request still checks that its key
    is unrevoked, within its first statement. Keyed by the secret's digest too, so a
    wrong secret with a known id is looked up (and refused) in full.
    """

    LIMIT = 10_000  # keys; a worker serving more starts again from empty

    def __init__(self) -> None:
        self._principals: dict[tuple[str, str], Principal] = {}

    def get(self, key_id: str, secret_hash: str) -> Principal | None:
        return self._principals.get((key_id, secret_hash))

    def remember(self, secret_hash: str, principal: Principal) -> None:
        if len(self._principals) >= self.LIMIT:
            self._principals.clear()
        self._principals[principal.key_id, secret_hash] = principal

    def forget(self, key_id: str) -> None:
        for cached in [k for k in self._principals if k[0] == key_id]:
            del self._principals[cached]


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


def authenticate(db: Db, authorization: str | None, keys: KeyCache | None = None) -> Principal:
    """Resolve the ``Authorization`` header to a ``Principal`` or raise ``Unauthorized``.

    With ``keys`` (PostgreSQL), a key checked before is returned from there and its
    validity checked by ``db``'s next statement (``PsycopgDb.expect_key``).
    """
    parts = split_key(bearer_key(authorization))
    if parts is None:
        raise Unauthorized(
            "the bearer token is not a scimitar API key (they read scimitar_<id>_<secret>): " + _HOW
        )
    key_id, secret = parts
    given_hash = hash_secret(secret)
    if keys is not None and isinstance(db, PsycopgDb):
        known = keys.get(key_id, given_hash)
        if known is not None:
            db.expect_key(key_id, given_hash)
            return known
    row = db.first(_LOOKUP, {"key_id": key_id})
    if row is None:
        raise Unauthorized(f"unknown or invalid API key: {_HOW}")
    secret_hash, permissions, revoked, tenant_id, tenant_name, role_policy = row
    # compare_digest: how long the comparison takes says nothing about the stored hash.
    if not hmac.compare_digest(secret_hash, given_hash):
        raise Unauthorized(f"unknown or invalid API key: {_HOW}")
    if revoked is not None:
        # The id is public (`token list` prints it); naming it tells the admin which to replace.
        raise Unauthorized(f"API key {key_id} has been revoked; issue a new one")
    principal = Principal(
        tenant_id=tenant_id,
        tenant_name=tenant_name,
        role_policy=role_policy,
        key_id=key_id,
        permissions=parse_permissions(permissions),
    )
    if keys is not None:
        keys.remember(given_hash, principal)
    return principal


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
