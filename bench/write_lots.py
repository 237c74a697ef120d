"""Client CPU a statement: a lot of PATCH-like UPDATEs through psycopg's pipeline mode,
and through scimitar's ``store.write_lots.Pipeline`` (one send, one wait, on libpq).

    .venv/bin/python bench/write_lots.py [--lots 300] [--size 8] [--rounds 2]

Creates a scratch database on the PostgreSQL server (dropped at the end), fills a
table of 100,000 users, then alternates the two ways round by round and prints
each one's client CPU (``time.process_time``) a statement, and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads

from scimitar.server.store.write_lots import Pipeline

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
USERS = 100_000
UPDATE = (
    "UPDATE users SET display_name = %(name)s::VARCHAR, doc = users.doc || %(values)s::JSONB,"
    " version = users.version + 1 WHERE users.id = %(id)s::VARCHAR"
    " AND NOT (users.doc @> %(values)s::JSONB)"
    " RETURNING users.id, users.doc, users.version"
)


def _params() -> dict[str, Any]:
    name = f"Patched {random.random()}"
    return {
        "name": name,
        "values": Jsonb({"displayName": name}),
        "id": f"u{random.randrange(USERS)}",
    }


async def _psycopg_lot(conn: psycopg.AsyncConnection[Any], size: int) -> list[Any]:
    cursors = [conn.cursor() for _ in range(size)]
    async with conn.pipeline():
        for cursor in cursors:
            await cursor.execute(UPDATE, _params())
    return [await cursor.fetchall() for cursor in cursors]


async def _measure(lot: Callable[[], Awaitable[list[Any]]], lots: int, size: int) -> float:
    for _ in range(20):  # warm-up: statements prepared, caches filled
        await lot()
    started = time.process_time()
    for _ in range(lots):
        outcomes = await lot()
        assert [len(rows) for rows in outcomes] == [1] * size
    return (time.process_time() - started) / lots / size * 1e6


async def _run(url: str, lots: int, size: int, rounds: int) -> None:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    set_json_loads(orjson.loads, conn)
    set_json_dumps(orjson.dumps, conn)
    pipeline = Pipeline(conn)
    ways: dict[str, Callable[[], Awaitable[list[Any]]]] = {
        "psycopg pipeline mode": lambda: _psycopg_lot(conn, size),
        "write_lots.Pipeline": lambda: pipeline.run(
            [(UPDATE, _params(), True) for _ in range(size)]
        ),
    }
    figures: dict[str, list[float]] = {name: [] for name in ways}
    for round_number in range(rounds):
        order = list(ways) if round_number % 2 == 0 else list(reversed(ways))
        for name in order:
            figures[name].append(await _measure(ways[name], lots, size))
    await conn.close()
    base = statistics.median(figures["psycopg pipeline mode"])
    for name, values in figures.items():
        median = statistics.median(values)
        rounds_text = ", ".join(f"{value:.1f}" for value in values)
        print(f"{name:24} {median:7.1f} µs a statement ({rounds_text}); {median / base:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lots", type=int, default=300, help="lots measured a round (300)")
    parser.add_argument("--size", type=int, default=8, help="statements a lot (8)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, order alternated (2)")
    parser.add_argument("--pg-admin-url", default=ADMIN_URL)
    args = parser.parse_args()
    name = f"bench_lots_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = args.pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE users (id varchar PRIMARY KEY, display_name varchar,"
                " doc jsonb NOT NULL, version integer NOT NULL)"
            )
            conn.execute(
                "INSERT INTO users SELECT 'u' || g, 'User ' || g,"
                " jsonb_build_object('userName', 'user' || g, 'displayName', 'User ' || g), 1"
                " FROM generate_series(0, %s) AS g",
                (USERS - 1,),
            )
            conn.execute("VACUUM ANALYZE users")
        asyncio.run(_run(url, args.lots, args.size, args.rounds))
    finally:
        with psycopg.connect(args.pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
