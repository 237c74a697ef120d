"""The engine with its own database on PostgreSQL: one representative life of an app."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine
from target import ScimitarTarget

from conftest import ENTERPRISE, World, counts, make_world
from scimitar.db.engine import make_engine
from scimitar.db.migrate import upgrade
from scimitar.directory import store

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture
def pg_world(
    secret_key: None,
    postgres_admin_url: str,
    scim_target: ScimitarTarget,
    target_engine: Engine,
) -> Iterator[World]:
    """A ``World`` whose engine-side database is a fresh PostgreSQL database."""
    name = f"scimitar_engine_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield from make_world(engine, url, scim_target, target_engine)
    finally:
        engine.dispose()
        with psycopg.connect(postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_app_lives_its_life_on_postgresql(pg_world: World) -> None:
    world = pg_world
    world.assigned_user("boss@contoso.com", jobTitle="CEO")
    world.user("ada@contoso.com", manager="boss@contoso.com", jobTitle="Engineer")
    world.user("alan@contoso.com", department="Sales")
    world.group("Team", ["ada@contoso.com", "alan@contoso.com"])
    world.assign(group="Team")
    world.user("grace@contoso.com")
    world.assign(user="grace@contoso.com", role="Default Access")

    first = world.cycle()

    assert first.type == "initial"
    assert counts(first) == {"create": 4, "skipped": 1}, first.failures
    boss = world.target_user("boss@contoso.com")
    assert world.target_user("ada@contoso.com")[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert world.member_names("Team") == {"ada@contoso.com", "alan@contoso.com"}
    assert world.cycle().requests == 0

    world.user("ada@contoso.com", jobTitle="Lead")
    world.group("Team", ["ada@contoso.com"])
    with world.write() as conn:
        store.hard_delete_user(conn, "boss@contoso.com")

    second = world.cycle()

    assert counts(second) == {"update": 2, "disable": 1, "delete": 1}, second.failures
    ada = world.target_user("ada@contoso.com")
    assert ada["title"] == "Lead"
    assert "manager" not in ada.get(ENTERPRISE, {})
    assert world.target_user("alan@contoso.com")["active"] is False
    assert world.find_user("boss@contoso.com") is None
    assert world.member_names("Team") == {"ada@contoso.com"}
    assert world.cycle().requests == 0
    assert {e.action for e in world.logs()} == {"create", "update", "disable", "delete", "other"}
