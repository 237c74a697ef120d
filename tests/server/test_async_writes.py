"""The worker's single writes on PostgreSQL: run off the request's connection, and the
ones that queue up committed together, each answered as if it had run alone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from scimitar.server.store import async_writes
from scimitar.server.store.async_writes import AsyncWrites, run_allowing_waits

pytestmark = pytest.mark.postgres

INSERT = "INSERT INTO writes_probe (name) VALUES (%(name)s)"
RENAME = "UPDATE writes_probe SET name = %(new)s WHERE name = %(old)s RETURNING id, name"


@pytest.fixture(autouse=True)
def probe_table(postgres_url: str) -> Iterator[None]:
    """The table the writes go to, in this test session's own database."""
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE writes_probe (id serial PRIMARY KEY, name text UNIQUE NOT NULL)")
    yield
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE writes_probe")


def _rows(url: str) -> list[tuple[str, int]]:
    """Each row's name and the transaction that wrote it (``xmin``)."""
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT name, xmin::text::bigint FROM writes_probe ORDER BY name")
        return [(name, int(xmin)) for name, xmin in found.fetchall()]


def _at_once(writer: AsyncWrites, works: list[Callable[[], Any]]) -> list[Any]:
    """Run each work as a request would, all at once; return results or exceptions."""

    async def main() -> list[Any]:
        try:
            return await asyncio.gather(
                *(run_allowing_waits(work) for work in works), return_exceptions=True
            )
        finally:
            writer.close()

    return asyncio.run(main())


def _insert(writer: AsyncWrites, name: str) -> Callable[[], int]:
    return lambda: writer.write(INSERT, {"name": name})


def test_writes_that_queue_up_commit_together(postgres_url: str) -> None:
    writer = AsyncWrites(postgres_url, {})
    names = [f"user-{index:02d}" for index in range(40)]

    results = _at_once(writer, [_insert(writer, name) for name in names])

    assert results == [1] * len(names)
    rows = _rows(postgres_url)
    assert [name for name, _xmin in rows] == names
    # Each of the first CONNECTIONS writes found a free connection and committed
    # alone; the rest queued, and each free connection took them as one transaction.
    transactions = {xmin for _name, xmin in rows}
    assert len(transactions) <= 2 * async_writes.CONNECTIONS
    assert len(transactions) < len(names)


def test_returning_rows_reach_their_own_request(postgres_url: str) -> None:
    writer = AsyncWrites(postgres_url, {})
    names = [f"before-{index:02d}" for index in range(20)]
    _at_once(writer, [_insert(writer, name) for name in names])
    sql = RENAME

    def rename(index: int) -> Callable[[], list[tuple[Any, ...]]]:
        return lambda: writer.write_returning(
            sql, {"old": f"before-{index:02d}", "new": f"after-{index:02d}"}
        )

    missing = lambda: writer.write_returning(sql, {"old": "nobody", "new": "x"})  # noqa: E731
    results = _at_once(writer, [rename(index) for index in range(20)] + [missing])

    assert [rows[0][1] for rows in results[:20]] == [f"after-{i:02d}" for i in range(20)]
    assert results[20] == []
    assert len({xmin for _name, xmin in _rows(postgres_url)}) < 20


def test_one_failing_write_fails_alone(postgres_url: str) -> None:
    """A taken name fails its own request; the writes that came with it still commit."""
    writer = AsyncWrites(postgres_url, {})
    names = [f"user-{index:02d}" for index in range(30)]
    names[17] = names[3]  # the second of these two is refused by the unique index

    results = _at_once(writer, [_insert(writer, name) for name in names])

    failed = [index for index, result in enumerate(results) if isinstance(result, Exception)]
    assert len(failed) == 1
    assert failed[0] in (3, 17)
    assert isinstance(results[failed[0]], psycopg.errors.UniqueViolation)
    assert [result for result in results if not isinstance(result, Exception)] == [1] * 29
    assert sorted(name for name, _xmin in _rows(postgres_url)) == sorted(set(names))


def test_a_connection_lost_in_a_lot_fails_the_lot_and_writes_nothing_twice(
    postgres_url: str,
) -> None:
    """Whether a lot committed is unknown when its connection broke: its requests fail
    (as a single write's would), none of it is run again, and later writes go on."""
    writer = AsyncWrites(postgres_url, {})
    kill = "SELECT pg_terminate_backend(pg_backend_pid())"

    async def main() -> list[Any]:
        # Occupy every connection, one after the other (writes queued at the same
        # moment would share one), so that the next writes queue up as one lot.
        blockers = []
        for _ in range(async_writes.CONNECTIONS):
            sleep = lambda: writer.write("SELECT pg_sleep(0.3)", {})  # noqa: E731
            blockers.append(asyncio.ensure_future(run_allowing_waits(sleep)))
            await asyncio.sleep(0.05)
        lot = [run_allowing_waits(_insert(writer, f"lost-{i}")) for i in range(3)]
        lot.append(run_allowing_waits(lambda: writer.write(kill, {})))
        try:
            return await asyncio.gather(*blockers, *lot, return_exceptions=True)
        finally:
            writer.close()

    results = asyncio.run(main())
    in_lot = results[async_writes.CONNECTIONS :]
    assert all(isinstance(result, psycopg.OperationalError) for result in in_lot), in_lot
    assert _rows(postgres_url) == []

    after = _at_once(writer, [_insert(writer, "after")])
    assert after == [1]
    assert [name for name, _xmin in _rows(postgres_url)] == ["after"]


def test_a_cancelled_request_does_not_stop_the_others(postgres_url: str) -> None:
    writer = AsyncWrites(postgres_url, {})

    async def main() -> list[Any]:
        requests = [
            asyncio.ensure_future(run_allowing_waits(_insert(writer, f"user-{i:02d}")))
            for i in range(12)
        ]
        await asyncio.sleep(0)
        requests[7].cancel()
        try:
            return await asyncio.gather(*requests, return_exceptions=True)
        finally:
            writer.close()

    results = asyncio.run(main())
    assert isinstance(results[7], asyncio.CancelledError)
    assert results[:7] + results[8:] == [1] * 11
    # The cancelled request's write was already on its way: it committed, or did not
    # start; either way the others are all there.
    names = {name for name, _xmin in _rows(postgres_url)}
    assert names - {"user-07"} == {f"user-{i:02d}" for i in range(12)} - {"user-07"}


def test_a_value_psycopg_cannot_send_fails_its_own_request_only(postgres_url: str) -> None:
    writer = AsyncWrites(postgres_url, {})
    works = [_insert(writer, f"user-{index:02d}") for index in range(10)]
    works[4] = lambda: writer.write(INSERT, {"name": object()})

    results = _at_once(writer, works)

    assert isinstance(results[4], psycopg.ProgrammingError)
    assert results[:4] + results[5:] == [1] * 9
    names = [name for name, _xmin in _rows(postgres_url)]
    assert names == [f"user-{index:02d}" for index in range(10) if index != 4]
