"""The worker's PostgreSQL connections: a dropped one fails one request at most, then comes back."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from starlette.testclient import TestClient

from scimitar.db.engine import make_engine
from scimitar.db.migrate import upgrade
from scimitar.server.app import create_app
from scimitar.settings import Settings
from scimtest import Scim, new_tenant

pytestmark = pytest.mark.postgres


@pytest.fixture
def own_client(postgres_url: str) -> Iterator[TestClient]:
    """An application of its own, so killing its connection disturbs no other test."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    app = create_app(Settings.from_env(postgres_url))
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as client:
        yield client


def _terminate_server_connections(admin_url: str, database: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'scimitar-server'",
            (database,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_dropped_connection_fails_one_request_then_reconnects(
    own_client: TestClient, postgres_url: str, postgres_admin_url: str
) -> None:
    engine = make_engine(postgres_url)
    try:
        tenant, token = new_tenant(engine)
    finally:
        engine.dispose()
    scim = Scim(own_client, token, tenant)
    user = scim.create_user("dropped.connection@example.com")

    assert _terminate_server_connections(postgres_admin_url, postgres_url.rsplit("/", 1)[1]) >= 1

    failed = scim.request("GET", f"/Users/{user['id']}")
    assert failed.status_code == 500
    body = failed.json()
    assert body["status"] == "500"
    assert "Traceback" not in failed.text
    assert "psycopg" not in failed.text
    again = scim.get(f"/Users/{user['id']}")
    assert again.status_code == 200
    assert again.json()["userName"] == "dropped.connection@example.com"
    # The connections that run writes (``async_writes``) were dropped as well; the
    # idle ones PostgreSQL closed are noticed before use, and fail no request.
    patched = scim.request(
        "PATCH",
        f"/Users/{user['id']}",
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Back"}],
        },
    )
    assert patched.status_code == 200, patched.text
    assert scim.get(f"/Users/{user['id']}").json()["displayName"] == "Back"
    created = scim.create_user("after.the.drop@example.com")
    assert created["userName"] == "after.the.drop@example.com"
