"""Bearer-key authentication and the Clarizen One account permissions."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from scimitar.scim.errors import Forbidden, Unauthorized
from scimitar.server.auth import Principal, authenticate, require_permissions
from scimitar.server.store.connections import transaction
from scimitar.server.tenants import (
    PERMISSIONS,
    IssuedKey,
    create_key,
    create_tenant,
    revoke_key,
)


@pytest.fixture
def tenant(engine: Engine) -> str:
    name = f"tenant-{uuid.uuid4().hex[:10]}"
    create_tenant(engine, name, "clarizen-one")
    return name


@pytest.fixture
def issued(engine: Engine, tenant: str) -> IssuedKey:
    return create_key(engine, tenant, PERMISSIONS)


def _authenticate(engine: Engine, authorization: str | None) -> Principal:
    # The server's own transaction: SQLite's driver connection, or SQLAlchemy's.
    with transaction(engine, write=False) as db:
        return authenticate(db, authorization)


def _refusal(engine: Engine, authorization: str | None) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        _authenticate(engine, authorization)
    assert caught.value.status == 401
    return caught.value


def test_valid_key_names_its_tenant(engine: Engine, tenant: str, issued: IssuedKey) -> None:
    principal = _authenticate(engine, f"Bearer {issued.secret}")
    assert principal.tenant_name == tenant
    assert principal.role_policy == "clarizen-one"
    assert principal.key_id == issued.key_id
    assert principal.permissions == PERMISSIONS


@pytest.mark.parametrize("template", ["bearer {key}", "BEARER {key}", "  Bearer   {key}  "])
def test_scheme_is_case_insensitive_and_spaces_tolerated(
    engine: Engine, issued: IssuedKey, template: str
) -> None:
    principal = _authenticate(engine, template.format(key=issued.secret))
    assert principal.key_id == issued.key_id


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "authentication required"),
        ("", "authentication required"),
        ("Bearer", "empty"),
        ("Bearer    ", "empty"),
        ("Basic dXNlcjpwYXNz", "Bearer scheme"),
        ("Bearer not-a-scimitar-key", "not a scimitar API key"),
        ("Bearer scimitar_", "not a scimitar API key"),
        ("Bearer scimitar_abcdef", "not a scimitar API key"),
        ("Bearer scimitar_0000000000000000_nope", "unknown or invalid API key"),
        (f"Bearer scimitar_{'a' * 40}_secret", "not a scimitar API key"),
    ],
)
def test_malformed_or_unknown_headers_are_401(
    engine: Engine, header: str | None, detail: str
) -> None:
    error = _refusal(engine, header)
    assert detail in error.detail
    assert "Authorization: Bearer <API key>" in error.detail


def test_key_without_scheme_says_to_add_bearer_and_never_echoes_it(
    engine: Engine, issued: IssuedKey
) -> None:
    error = _refusal(engine, issued.secret)
    assert "'Bearer '" in error.detail
    assert issued.secret not in error.detail


def test_wrong_secret_for_a_real_key_id_is_401(engine: Engine, issued: IssuedKey) -> None:
    forged = f"scimitar_{issued.key_id}_{'A' * 43}"
    error = _refusal(engine, f"Bearer {forged}")
    assert "unknown or invalid API key" in error.detail
    assert forged not in error.detail


def test_revoked_key_is_refused_at_once(engine: Engine, issued: IssuedKey) -> None:
    assert _authenticate(engine, f"Bearer {issued.secret}").key_id == issued.key_id
    revoke_key(engine, issued.key_id)
    error = _refusal(engine, f"Bearer {issued.secret}")
    assert f"API key {issued.key_id} has been revoked" in error.detail
    assert issued.secret not in error.detail


def _principal(permissions: frozenset[str]) -> Principal:
    return Principal(1, "acme", None, "0123456789abcdef", permissions)


def test_both_permissions_pass() -> None:
    require_permissions(_principal(PERMISSIONS))


@pytest.mark.parametrize(
    ("permissions", "detail"),
    [
        (frozenset({"integration-user"}), "lacks the Lite Admin permission"),
        (frozenset({"lite-admin"}), "lacks the Integration User permission"),
        (frozenset(), "lacks the Integration User and Lite Admin permissions"),
    ],
)
def test_missing_permission_is_403_naming_it(permissions: frozenset[str], detail: str) -> None:
    with pytest.raises(Forbidden) as caught:
        require_permissions(_principal(permissions))
    assert caught.value.status == 403
    assert detail in caught.value.detail


def test_over_http_revoked_key_401_and_partial_account_403(
    app_client: TestClient, engine: Engine, tenant: str, issued: IssuedKey
) -> None:
    headers = {"Authorization": f"Bearer {issued.secret}"}
    assert app_client.get("/scim/v2/Users", headers=headers).status_code == 200
    revoke_key(engine, issued.key_id)
    refused = app_client.get("/scim/v2/Users", headers=headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]

    lacking = create_key(engine, tenant, frozenset({"integration-user"}))
    forbidden = app_client.get(
        "/scim/v2/Users", headers={"Authorization": f"Bearer {lacking.secret}"}
    )
    assert forbidden.status_code == 403
    assert "Lite Admin" in forbidden.json()["detail"]
