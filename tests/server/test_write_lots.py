"""A lot of writes sent as one pipeline on libpq: one transaction, psycopg's own values."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import orjson
import psycopg
import pytest
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads

from scimitar.server.store import write_lots
from scimitar.server.store.async_writes import AsyncWrites, run_allowing_waits
from scimitar.server.store.write_lots import LotFailed, Pipeline

pytestmark = pytest.mark.postgres
T = TypeVar("T")


@pytest.fixture(autouse=True)
def probe_table(postgres_url: str) -> Iterator[None]:
    """The table the lots write to, in this test session's own database."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE lots_probe (id serial PRIMARY KEY, name text UNIQUE NOT NULL,"
            " doc jsonb, seen timestamptz, active boolean)"
        )
    yield
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE lots_probe")


def _on_connection(
    url: str, work: Callable[[psycopg.AsyncConnection[Any]], Coroutine[Any, Any, T]]
) -> T:
    async def main() -> T:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        set_json_loads(orjson.loads, conn)
        set_json_dumps(orjson.dumps, conn)
        try:
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


def test_a_lot_is_one_transaction_with_psycopgs_values(postgres_url: str) -> None:
    insert = (
        "INSERT INTO lots_probe (name, doc, seen, active) VALUES (%(name)s, %(doc)s::JSONB,"
        " %(seen)s::TIMESTAMPTZ, %(active)s) RETURNING id, name, doc, seen, active"
    )
    # One parameter used twice, and a literal percent sign as psycopg writes it.
    rename = (
        "UPDATE lots_probe SET name = %(new)s::text || '%%' WHERE name = %(old)s"
        " OR name = %(new)s RETURNING name"
    )
    seen = dt.datetime(2026, 11, 29, 12, 30, tzinfo=dt.UTC)
    doc = {"userName": "a@example.com", "emails": [{"value": "a@example.com", "primary": True}]}

    async def work(conn: psycopg.AsyncConnection[Any]) -> Any:
        pipeline = Pipeline(conn)
        outcomes = await pipeline.run(
            [
                (insert, {"name": "a", "doc": Jsonb(doc), "seen": seen, "active": True}, True),
                (insert, {"name": "b", "doc": None, "seen": None, "active": None}, True),
                (rename, {"old": "b", "new": "c"}, True),
                ("DELETE FROM lots_probe WHERE name = %(name)s", {"name": "nobody"}, False),
            ]
        )
        cursor = conn.cursor()
        await cursor.execute("SELECT id, name, doc, seen, active FROM lots_probe ORDER BY id")
        stored = await cursor.fetchall()
        await cursor.execute("SELECT count(DISTINCT xmin::text) FROM lots_probe")
        transactions = await cursor.fetchone()
        await cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in await cursor.fetchall()]
        return outcomes, stored, transactions, prepared

    outcomes, stored, transactions, prepared = _on_connection(postgres_url, work)

    first, second, renamed, deleted = outcomes
    assert first == [stored[0]]  # exactly what psycopg's cursor reads back
    assert first[0][1:] == ("a", doc, seen, True)
    assert second[0][1:] == ("b", None, None, None)
    assert renamed == [("c%",)]
    assert deleted == 0
    assert transactions == (1,)
    # Each statement was prepared once on this connection, with $n placeholders.
    assert any("$1::text || '%'" in statement for statement in prepared)


def test_a_failed_statement_fails_the_lot_and_writes_nothing(postgres_url: str) -> None:
    insert = "INSERT INTO lots_probe (name) VALUES (%(name)s)"

    async def work(conn: psycopg.AsyncConnection[Any]) -> Any:
        pipeline = Pipeline(conn)
        with pytest.raises(LotFailed):
            await pipeline.run([(insert, {"name": n}, False) for n in ("x", "y", "x", "z")])
        # The connection is fit for the next lot.
        after = await pipeline.run([(insert, {"name": "after"}, False)])
        cursor = conn.cursor()
        await cursor.execute("SELECT name FROM lots_probe")
        return after, await cursor.fetchall()

    after, names = _on_connection(postgres_url, work)
    assert after == [1]
    assert names == [("after",)]


def test_past_the_prepared_limit_statements_go_unprepared(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_lots, "MOST_PREPARED", 0)
    insert = "INSERT INTO lots_probe (name) VALUES (%(name)s) RETURNING name"

    async def work(conn: psycopg.AsyncConnection[Any]) -> Any:
        outcomes = await Pipeline(conn).run([(insert, {"name": "u"}, True)])
        cursor = conn.cursor()
        await cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        return outcomes, await cursor.fetchone()

    assert _on_connection(postgres_url, work) == ([[("u",)]], (0,))


def test_a_statement_that_cannot_be_prepared_still_runs_through_psycopg(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL cannot type ``$1 + $2`` on its own; psycopg sends the types. No write
    of scimitar's is such a statement, but if one were, it would run and say so."""
    writer = AsyncWrites(postgres_url, {})

    async def main() -> list[tuple[Any, ...]]:
        try:
            sql = "SELECT %(x)s + %(y)s"
            return await run_allowing_waits(lambda: writer.write_returning(sql, {"x": 2, "y": 3}))
        finally:
            writer.close()

    with caplog.at_level(logging.WARNING, logger=write_lots.__name__):
        assert asyncio.run(main()) == [(5,)]
    assert "cannot prepare SELECT $1 + $2" in caplog.text
