"""The server's database connections: one per worker process, used from the event loop.

A worker serves one database request at a time, inline, on one connection it
keeps for good, as a synchronous WSGI worker does; concurrency comes from
``--workers``. Measured on PostgreSQL under wrk, with two workers on two cores
(docs/benchmarks.md), this served 1.4-1.7x the requests of both alternatives:

- psycopg's blocking calls in a thread pool: the event loop and ten threads
  passed the GIL back and forth (1.6 ms of CPU per GET, the GIL held half of it);
- psycopg's asynchronous connections on the event loop: every statement suspends
  the request, and the loop's and psycopg's machinery around each wait cost more
  CPU than the statement.

On SQLite a statement takes microseconds inside the process; on PostgreSQL a
round trip on the local network, during which the other worker and PostgreSQL
use the cores. The price: a slow statement holds up the other requests of its
worker. Run more workers than cores when the database is far away.

One wait is long enough to be worth suspending a request for: a write's commit,
which waits for the WAL flush. The single write of a user's create or PATCH runs
on one of a few asynchronous connections instead (``async_writes``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar

import orjson
import psycopg
from psycopg.types.json import set_json_dumps, set_json_loads
from sqlalchemy import Engine

from scimitar.db.engine import is_sqlite
from scimitar.server.auth import KeyCache
from scimitar.server.store.async_writes import AsyncWrites, can_wait, run_allowing_waits
from scimitar.server.store.db import Db, sqlite_transaction
from scimitar.server.store.postgres import PsycopgDb

CONNECT_OPTIONS: dict[str, Any] = {
    # Seconds to wait for PostgreSQL to accept a connection before the request fails.
    "connect_timeout": 10,
    "application_name": "scimitar-server",  # names the worker's sessions in pg_stat_activity
    # Timestamps then come back in datetime.timezone.utc, not a zoneinfo zone such
    # as Etc/UTC, which costs more to format on every answer.
    "options": "-c TimeZone=UTC",
}
T = TypeVar("T")


class WorkerConnection(Protocol):
    """The database as one worker's request handlers use it."""

    # Keys this worker checked fully, checked again within each request's first
    # statement (PostgreSQL); None where a key lookup costs no round trip (SQLite).
    keys: KeyCache | None

    def transaction(self, *, write: bool, single_write: bool = False) -> AbstractContextManager[Db]:
        """Open a transaction; reads may run without one (see the implementations).

        ``single_write``: the work writes with one statement at most, so where the
        database commits that statement by itself atomically (PostgreSQL), it may
        run without BEGIN and COMMIT.
        """
        ...

    async def run_allowing_waits(self, work: Callable[[], T]) -> T:
        """Run ``work()``, whose single write may wait for its commit without holding
        up the worker (PostgreSQL, see ``async_writes``)."""
        ...

    def close(self) -> None:
        """Close the connection (at shutdown)."""
        ...


def worker_connection(engine: Engine) -> WorkerConnection:
    """Return this worker's connection to ``engine``'s database."""
    if is_sqlite(engine):
        return SqliteConnection(engine)
    return PostgresConnection(engine)


class SqliteConnection:
    """One SQLite connection taken out of the engine's pool for good."""

    def __init__(self, engine: Engine) -> None:
        driver = engine.raw_connection().driver_connection
        assert isinstance(driver, sqlite3.Connection)
        self.conn = driver
        self.dialect = engine.dialect
        self.keys: KeyCache | None = None

    def transaction(self, *, write: bool, single_write: bool = False) -> AbstractContextManager[Db]:
        # A read that turns into a write fails at once in WAL mode when another worker
        # wrote in between (SQLITE_BUSY_SNAPSHOT), so a write always begins as one.
        return sqlite_transaction(self.conn, self.dialect, write)

    async def run_allowing_waits(self, work: Callable[[], T]) -> T:
        # SQLite's commit is a write to a local file, under the database's one write lock.
        return work()

    def close(self) -> None:
        self.conn.close()


class PostgresConnection:
    """One psycopg connection, opened on first use and again whenever it breaks."""

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        self.conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        self._conn: psycopg.Connection[Any] | None = None
        self._cursor: psycopg.Cursor[Any] | None = None
        self.keys: KeyCache | None = KeyCache()
        self.writes = AsyncWrites(self.conninfo, CONNECT_OPTIONS)

    def _connected(self) -> psycopg.Cursor[Any]:
        if self._conn is None or self._conn.broken or self._conn.closed or self._cursor is None:
            self._close_connection()
            conn = psycopg.connect(self.conninfo, autocommit=True, **CONNECT_OPTIONS)
            # orjson, as the engine uses: several times faster than json for every document.
            set_json_loads(orjson.loads, conn)
            set_json_dumps(orjson.dumps, conn)
            self._conn = conn
            # One cursor for every statement: a new one per statement (``conn.execute``)
            # cost as much CPU as running the statement.
            self._cursor = conn.cursor()
        return self._cursor

    @contextmanager
    def transaction(self, *, write: bool, single_write: bool = False) -> Iterator[Db]:
        cursor = self._connected()
        db = PsycopgDb(cursor, self.dialect)
        if single_write and can_wait():
            db.writer = self.writes
        if not write or single_write:
            # Autocommit: no BEGIN and COMMIT round trips. Each statement sees committed
            # data; a page and its total may differ by a write between them, which
            # RFC 7644 does not forbid (it promises no snapshot either). A single write
            # statement is atomic on its own.
            yield db
            return
        cursor.execute("BEGIN")
        try:
            yield db
        except BaseException:
            # A broken connection cannot roll back (it is replaced on next use), and
            # the error that ended the transaction is the one to report.
            with contextlib.suppress(psycopg.Error):
                cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    async def run_allowing_waits(self, work: Callable[[], T]) -> T:
        return await run_allowing_waits(work)

    def _close_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = self._cursor = None

    def close(self) -> None:
        self._close_connection()
        self.writes.close()


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Db]:
    """Open a transaction on a connection of ``engine``'s pool; yield its ``Db``.

    For code outside the server (tests, tools); the server keeps one connection per
    worker instead, as above.
    """
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        if isinstance(driver, sqlite3.Connection):
            with sqlite_transaction(driver, engine.dialect, write) as db:
                yield db
            return
        assert isinstance(driver, psycopg.Connection)
        with driver.transaction(), driver.cursor() as cursor:
            yield PsycopgDb(cursor, engine.dialect)
    finally:
        pooled.close()
