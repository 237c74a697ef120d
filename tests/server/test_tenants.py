"""Tenant and API-key administration: what `scimitar tenant` and `scimitar token` rely on."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from scimitar.db.engine import make_engine, read_transaction
from scimitar.db.migrate import upgrade
from scimitar.server.tables import api_keys
from scimitar.server.tenants import (
    PERMISSIONS,
    AdminError,
    DuplicateTenant,
    KeyInfo,
    UnknownKey,
    UnknownTenant,
    create_key,
    create_tenant,
    list_keys,
    revoke_key,
    split_key,
)

KEY_SHAPE = re.compile(r"scimitar_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43,})")


def _name() -> str:
    return f"tenant-{uuid.uuid4().hex[:10]}"


def _key_info(engine: Engine, key_id: str) -> KeyInfo:
    return next(key for key in list_keys(engine) if key.key_id == key_id)


def test_create_tenant_returns_distinct_ids(engine: Engine) -> None:
    first = create_tenant(engine, _name(), None)
    second = create_tenant(engine, _name(), "clarizen-one")
    assert first != second


def test_duplicate_tenant_name_is_refused(engine: Engine) -> None:
    name = _name()
    create_tenant(engine, name, None)
    with pytest.raises(DuplicateTenant, match="already exists"):
        create_tenant(engine, name, "clarizen-one")


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_tenant_name_must_be_sensible(engine: Engine, name: str) -> None:
    with pytest.raises(AdminError, match="name"):
        create_tenant(engine, name, None)


def test_unknown_role_policy_names_the_known_ones(engine: Engine) -> None:
    with pytest.raises(AdminError, match=r"unknown role policy 'okta'.*clarizen-one"):
        create_tenant(engine, _name(), "okta")


def test_key_is_long_random_and_self_describing(engine: Engine) -> None:
    tenant = _name()
    create_tenant(engine, tenant, None)
    first = create_key(engine, tenant, PERMISSIONS)
    second = create_key(engine, tenant, PERMISSIONS)
    match = KEY_SHAPE.fullmatch(first.secret)
    assert match is not None, "keys read scimitar_<16 hex id>_<at least 256 random bits>"
    assert match["id"] == first.key_id
    assert first.secret != second.secret
    assert first.key_id != second.key_id
    assert split_key(first.secret) == (first.key_id, match["secret"])


def test_issued_key_repr_hides_the_secret(engine: Engine) -> None:
    tenant = _name()
    create_tenant(engine, tenant, None)
    issued = create_key(engine, tenant, PERMISSIONS)
    assert issued.key_id in repr(issued)
    assert issued.secret not in repr(issued)


def test_only_a_hash_of_the_secret_is_stored(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    upgrade(engine)
    create_tenant(engine, "acme", None)
    issued = create_key(engine, "acme", PERMISSIONS)
    parts = split_key(issued.secret)
    assert parts is not None
    _key_id, secret = parts
    with read_transaction(engine) as conn:
        stored = conn.execute(
            select(api_keys.c.secret_hash).where(api_keys.c.id == issued.key_id)
        ).scalar_one()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    engine.dispose()
    # The database file and its write-ahead log: the secret must be in neither.
    files = list(tmp_path.glob("keys.db*"))
    assert files
    for path in files:
        data = path.read_bytes()
        assert secret.encode() not in data
        assert issued.secret.encode() not in data


def test_key_for_unknown_tenant_is_refused(engine: Engine) -> None:
    with pytest.raises(UnknownTenant, match="no tenant named 'nobody-here'"):
        create_key(engine, "nobody-here", PERMISSIONS)


def test_unknown_permission_is_refused(engine: Engine) -> None:
    tenant = _name()
    create_tenant(engine, tenant, None)
    with pytest.raises(AdminError, match=r"unknown permission.*superuser"):
        create_key(engine, tenant, frozenset({"lite-admin", "superuser"}))


def test_list_keys_shows_tenant_permissions_and_times(engine: Engine) -> None:
    tenant = _name()
    create_tenant(engine, tenant, None)
    before = datetime.now(UTC)
    full = create_key(engine, tenant, PERMISSIONS)
    partial = create_key(engine, tenant, frozenset({"integration-user"}))
    mine = [key for key in list_keys(engine) if key.tenant_name == tenant]
    assert [key.key_id for key in mine] == [full.key_id, partial.key_id]
    assert mine[0].permissions == PERMISSIONS
    assert mine[1].permissions == frozenset({"integration-user"})
    assert all(key.revoked is None for key in mine)
    assert all(key.created >= before.replace(microsecond=0) for key in mine)
    assert all(key.created.tzinfo is not None for key in mine)


def test_revoke_marks_the_key_and_keeps_the_first_time(engine: Engine) -> None:
    tenant = _name()
    create_tenant(engine, tenant, None)
    issued = create_key(engine, tenant, PERMISSIONS)
    revoke_key(engine, issued.key_id)
    revoked_at = _key_info(engine, issued.key_id).revoked
    assert revoked_at is not None
    revoke_key(engine, issued.key_id)
    assert _key_info(engine, issued.key_id).revoked == revoked_at


def test_revoke_accepts_the_whole_key(engine: Engine) -> None:
    tenant = _name()
    create_tenant(engine, tenant, None)
    issued = create_key(engine, tenant, PERMISSIONS)
    revoke_key(engine, issued.secret)
    assert _key_info(engine, issued.key_id).revoked is not None


def test_revoke_unknown_key_is_an_error(engine: Engine) -> None:
    with pytest.raises(UnknownKey, match="no API key with id '0000000000000000'"):
        revoke_key(engine, "0000000000000000")
