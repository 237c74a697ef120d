"""A request's one write on PostgreSQL, run without holding up the worker's other requests.

A write in autocommit answers only once PostgreSQL has flushed its commit to the
WAL, and a worker that waited for that inline did nothing else meanwhile: on the
benchmark machine PATCH and create kept 1.3 of its 2 cores busy, and with
``synchronous_commit = off`` (which loses recent commits in a crash, so scimitar
never sets it) the same server served 1.7x the PATCHes and 2x the creates.

So the one write of a single-write request (a user's create or PATCH) goes to one
of a few asynchronous connections, and the request waits for it on the event loop
while the worker serves other requests on its ordinary connection. Everything
else stays inline (see ``connections.py`` for why); whole transactions on these
connections were measured too, and served fewer member adds (docs/architecture.md).

The request's code stays synchronous: the route runs it with ``run_allowing_waits``
(a greenlet, as SQLAlchemy's asyncio extension does), and ``write`` suspends it
there until the statement has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import set_json_dumps, set_json_loads
from sqlalchemy.util import await_, greenlet_spawn
from sqlalchemy.util.concurrency import in_greenlet

T = TypeVar("T")

# Writes of one worker waiting for their commits at once; more wait for a connection.
# On the benchmark machine (2 cores, 2 workers, wrk with 32 connections) PATCH served
# 2,025 req/s with 2, 2,470 with 4 and 2,417 with 8.
CONNECTIONS = 4


async def run_allowing_waits(work: Callable[[], T]) -> T:
    """Run ``work()`` so that its writes can wait on the event loop (``write``)."""
    return await greenlet_spawn(work)


def can_wait() -> bool:
    """Whether the code running now was started by ``run_allowing_waits``."""
    return in_greenlet()


class AsyncWrites:
    """A few asynchronous connections of one worker, each running one write at a time."""

    def __init__(self, conninfo: str, options: dict[str, Any]) -> None:
        self._conninfo = conninfo
        self._options = options  # psycopg.connect's keyword arguments
        # Each idle connection with its one cursor: a new cursor per statement cost a
        # sixth of the statement's CPU.
        self._idle: list[psycopg.AsyncCursor[Any]] = []
        self._slots = asyncio.Semaphore(CONNECTIONS)
        self._loop: asyncio.AbstractEventLoop | None = None

    def write(self, sql: str, params: dict[str, Any]) -> int:
        """Run one write statement in autocommit and return its row count.

        Called from synchronous code that ``run_allowing_waits`` started: it is
        suspended, not blocked, until the statement has committed.
        """
        count: int = await_(self._write(sql, params, returning=False))
        return count

    def write_returning(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one write statement as ``write`` does and return its RETURNING rows."""
        rows: list[tuple[Any, ...]] = await_(self._write(sql, params, returning=True))
        return rows

    async def _write(self, sql: str, params: dict[str, Any], *, returning: bool) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (tests start one per client): the old loop's
            # connections and semaphore cannot be used from it.
            self.close()
            self._loop = loop
            self._slots = asyncio.Semaphore(CONNECTIONS)
        async with self._slots:
            cursor = self._idle_cursor() or await self._connect()
            try:
                await cursor.execute(sql, params)
                return await cursor.fetchall() if returning else cursor.rowcount
            finally:
                self._give_back(cursor)

    def _idle_cursor(self) -> psycopg.AsyncCursor[Any] | None:
        """The cursor of an idle connection still open at both ends, or None.

        PostgreSQL tells a session it ends (a restart, ``pg_terminate_backend``) with
        a message on its socket; an idle connection with anything to read is dropped
        rather than failing the request that would have used it next.
        """
        while self._idle:
            cursor = self._idle.pop()
            # poll, not select: a busy worker's descriptors can pass select's limit of 1024.
            waiting = select.poll()
            waiting.register(cursor.connection.fileno(), select.POLLIN)
            if not waiting.poll(0):
                return cursor
            _close_now(cursor)
        return None

    async def _connect(self) -> psycopg.AsyncCursor[Any]:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, **self._options
        )
        set_json_loads(orjson.loads, conn)
        set_json_dumps(orjson.dumps, conn)
        return conn.cursor()

    def _give_back(self, cursor: psycopg.AsyncCursor[Any]) -> None:
        # A statement interrupted midway (a lost connection, a cancelled request)
        # leaves the connection broken or busy: it is dropped, and another opened later.
        conn = cursor.connection
        if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            _close_now(cursor)
        else:
            self._idle.append(cursor)

    def close(self) -> None:
        """Close the idle connections (at shutdown, or when the event loop changed)."""
        for cursor in self._idle:
            _close_now(cursor)
        self._idle.clear()


def _close_now(cursor: psycopg.AsyncCursor[Any]) -> None:
    """Close a cursor's connection without awaiting: libpq sends one message, waits for none."""
    with contextlib.suppress(Exception):
        cursor.connection.pgconn.finish()
