"""Shared fixtures: real databases (SQLite and PostgreSQL) and an in-process SCIM client.

PostgreSQL tests run against the server on 127.0.0.1:5432 (or
``$SCIMITAR_TEST_POSTGRES_URL``). They skip when it does not answer, unless
``SCIMITAR_REQUIRE_POSTGRES`` is set (CI sets it): then they fail.

Each test gets its own tenant, so tests share one database per backend and per
xdist worker without seeing each other's data; that is also the tenant isolation
the server promises.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from scimitar.db.engine import make_engine
from scimitar.db.migrate import upgrade
from scimitar.server.app import create_app
from scimitar.settings import Settings
from scimtest import Scim, new_tenant

POSTGRES_ADMIN_URL = os.environ.get(
    "SCIMITAR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _postgres_answers() -> str | None:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).strip()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The PostgreSQL server's admin URL; skip (or fail in CI) when it does not answer."""
    problem = _postgres_answers()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} does not answer: {problem}"
        if os.environ.get("SCIMITAR_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session (dropped at the end)."""
    name = f"scimitar_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'scimitar.db'}"


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database URL, once per backend."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
    else:
        url = request.getfixturevalue("sqlite_url")
    migrating = make_engine(url)
    upgrade(migrating)
    migrating.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app_client(database_url: str) -> Iterator[TestClient]:
    """An in-process client for the whole application on the backend under test."""
    app = create_app(Settings.from_env(database_url))
    with TestClient(app, base_url="http://testserver") as client:
        yield client
    app.state["engine"].dispose()


@pytest.fixture
def scim(app_client: TestClient, engine: Engine) -> Scim:
    """A SCIM client for a fresh tenant on the backend under test."""
    tenant, token = new_tenant(engine)
    return Scim(app_client, token, tenant)
