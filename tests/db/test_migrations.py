"""Migrations: an empty or older database comes up to date, and matches the tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, select

import scimitar.directory.tables
import scimitar.provisioning.tables
import scimitar.server.tables  # noqa: F401  (registers every table on the metadata)
from scimitar.db.engine import make_engine
from scimitar.db.metadata import metadata
from scimitar.db.migrate import _config, current_revision, head_revision, upgrade
from scimitar.server.tables import tenants


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield engine
        engine.dispose()
        return
    admin: str = request.getfixturevalue("postgres_admin_url")
    name = f"scimitar_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(admin.rsplit("/", 1)[0] + f"/{name}")
    yield engine
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_empty_database_comes_up_to_date_and_matches_the_tables(empty_engine: Engine) -> None:
    assert upgrade(empty_engine) is True
    assert current_revision(empty_engine) == head_revision()
    assert upgrade(empty_engine) is False  # already current: nothing to do
    with empty_engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_an_older_database_keeps_its_data(empty_engine: Engine) -> None:
    command.upgrade(_config(empty_engine), "0001")
    with empty_engine.begin() as conn:
        conn.execute(tenants.insert().values(name="kept", created=datetime.now(UTC)))
    assert upgrade(empty_engine) is True
    with empty_engine.connect() as conn:
        assert conn.execute(select(tenants.c.name)).scalars().all() == ["kept"]
    assert current_revision(empty_engine) == head_revision()
