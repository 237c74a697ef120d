"""Fixtures for the directory tests: the backend's database with an empty directory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select

from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory.tables import (
    app_role_assignments,
    directory_groups,
    directory_members,
    directory_sequence,
    directory_tombstones,
    directory_users,
)

TABLES = (
    directory_members,
    app_role_assignments,
    directory_tombstones,
    directory_users,
    directory_groups,
)


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The session's database (SQLite or PostgreSQL) with the directory emptied.

    The change counter is left as it is: numbers only ever grow, which is what
    the tests check, and other tests sharing the database may rely on it.
    """
    with write_transaction(engine) as conn:
        for table in TABLES:
            conn.execute(delete(table))
    return engine


@pytest.fixture
def snapshot(db: Engine) -> Callable[[], dict[str, Any]]:
    """Return a function listing every directory row and the counter (to prove nothing moved)."""

    def take() -> dict[str, Any]:
        with read_transaction(db) as conn:
            state: dict[str, Any] = {
                table.name: sorted(map(repr, conn.execute(select(table)).all())) for table in TABLES
            }
            state["sequence"] = conn.execute(select(directory_sequence.c.value)).scalar()
        return state

    return take
