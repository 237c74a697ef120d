"""A request's one write on PostgreSQL, run without holding up the worker's other requests,
and committed together with the writes of the requests that came with it.

A write in autocommit answers only once PostgreSQL has flushed its commit to the
WAL, and a worker that waited for that inline did nothing else meanwhile: on the
benchmark machine PATCH and create kept 1.3 of its 2 cores busy, and with
``synchronous_commit = off`` (which loses recent commits in a crash, so scimitar
never sets it) the same server served 1.7x the PATCHes and 2x the creates.

So the one write of a single-write request (a user's create or PATCH) goes to one
of two asynchronous connections, and the request waits for it on the event loop
while the worker serves other requests on its ordinary connection. Everything
else stays inline (see ``connections.py`` for why); whole transactions on these
connections were measured too, and served fewer member adds (docs/architecture.md).

The writes that arrive while both connections are busy wait in a queue, and the
next free connection sends all of them as one pipeline (``write_lots``): one round
trip, one transaction and one WAL flush for the lot, where each commit of its own
had cost PostgreSQL more CPU than the statement before it. A lone write is a lot of
one. Each request is still answered only once its write has committed. If any
statement of the lot fails, PostgreSQL has rolled all of them back, and each runs
again on its own on psycopg's cursor, so that one request's error (a taken
userName, say) is that request's alone; if the connection itself broke, whether
the commit happened is unknown, and every request of the lot fails, as a single
write would.

The request's code stays synchronous: the route runs it with ``run_allowing_waits``
(a greenlet, as SQLAlchemy's asyncio extension does), and ``write`` suspends it
there until the statement has committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import psycopg
from psycopg import pq
from psycopg.pq import TransactionStatus
from psycopg.types.json import set_json_dumps, set_json_loads
from sqlalchemy.util import await_, greenlet_spawn
from sqlalchemy.util.concurrency import in_greenlet

from scimitar.server.store.write_lots import LotFailed, Pipeline

T = TypeVar("T")

# Connections of one worker running writes at once; more writes wait for one of them.
CONNECTIONS = 2
# The most writes committed together: a longer lot holds its row locks for longer.
MOST_TOGETHER = 64


async def run_allowing_waits(work: Callable[[], T]) -> T:
    """Run ``work()`` so that its writes can wait on the event loop (``write``)."""
    return await greenlet_spawn(work)


def can_wait() -> bool:
    """Whether the code running now was started by ``run_allowing_waits``."""
    return in_greenlet()


@dataclass(slots=True)
class _Write:
    """One request's statement, and the future its request waits on."""

    sql: str
    params: dict[str, Any]
    returning: bool
    done: asyncio.Future[Any]

    def succeed(self, outcome: Any) -> None:
        if not self.done.done():  # its request may have been cancelled meanwhile
            self.done.set_result(outcome)

    def fail(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)


class _Connection:
    """An asynchronous connection, with the pipeline that runs its lots and a cursor."""

    __slots__ = ("conn", "cursor", "pipeline")

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn
        self.pipeline = Pipeline(conn)
        self.cursor = conn.cursor()  # a new cursor a statement cost a sixth of its CPU

    def idle(self) -> bool:
        """Whether the connection is open and idle at this end (no statement midway)."""
        conn = self.conn
        if conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            return False
        return conn.pgconn.pipeline_status == pq.PipelineStatus.OFF  # else a lot midway

    def usable(self) -> bool:
        """Whether the connection is idle, and open at PostgreSQL's end too.

        PostgreSQL tells a session it ends (a restart, ``pg_terminate_backend``)
        with a message on its socket; an idle connection with anything to read is
        not used, rather than failing the request that would have used it next.
        """
        if not self.idle():
            return False
        # poll, not select: a busy worker's descriptors can pass select's limit of 1024.
        waiting = select.poll()
        waiting.register(self.conn.fileno(), select.POLLIN)
        return not waiting.poll(0)

    def close_now(self) -> None:
        """Close without awaiting: libpq sends one message and waits for none."""
        with contextlib.suppress(Exception):
            self.conn.pgconn.finish()


class AsyncWrites:
    """Two asynchronous connections of one worker, which run the worker's single writes."""

    def __init__(self, conninfo: str, options: dict[str, Any]) -> None:
        self._conninfo = conninfo
        self._options = options  # psycopg.connect's keyword arguments
        self._idle: list[_Connection] = []
        self._queue: list[_Write] = []
        self._runners: set[asyncio.Task[None]] = set()  # kept, or they could be collected
        self._loop: asyncio.AbstractEventLoop | None = None

    def write(self, sql: str, params: dict[str, Any]) -> int:
        """Run one write statement, commit it, and return its row count.

        Called from synchronous code that ``run_allowing_waits`` started: it is
        suspended, not blocked, until the statement has committed.
        """
        count: int = await_(self._submit(sql, params, returning=False))
        return count

    def write_returning(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one write statement as ``write`` does and return its RETURNING rows."""
        rows: list[tuple[Any, ...]] = await_(self._submit(sql, params, returning=True))
        return rows

    async def _submit(self, sql: str, params: dict[str, Any], *, returning: bool) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (tests start one per client): the old loop's
            # connections and tasks cannot be used from it.
            self.close()
            self._loop = loop
        done: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Write(sql, params, returning, done))
        # A runner takes the whole queue when it starts; one more is started only
        # when none is about to, and no more than there are connections.
        if len(self._queue) == 1 and len(self._runners) < CONNECTIONS:
            self._runners.add(loop.create_task(self._run_queue()))
        return await done

    async def _run_queue(self) -> None:
        try:
            while self._queue:
                lot = self._queue[:MOST_TOGETHER]
                del self._queue[:MOST_TOGETHER]
                try:
                    await self._run(lot)
                except BaseException as error:  # cancelled at shutdown: nobody waits forever
                    for write in lot:
                        write.fail(error)
                    raise
        finally:
            # At once, not in a done callback: a write queued meanwhile must see a
            # free place for a runner, or it would wait for none.
            self._runners.discard(asyncio.current_task())

    async def _run(self, lot: list[_Write]) -> None:
        try:
            connection = self._idle_connection() or await self._connect()
        except Exception as error:
            for write in lot:
                write.fail(error)
            return
        try:
            await self._together(connection, lot)
        finally:
            # A statement interrupted midway (a lost connection, a cancelled task)
            # leaves the connection broken or busy: it is dropped, another opened later.
            # (Its socket is looked at when it is taken again, not now as well.)
            if connection.idle():
                self._idle.append(connection)
            else:
                connection.close_now()

    async def _alone(self, connection: _Connection, write: _Write) -> None:
        """Run one write in autocommit on psycopg's cursor (which raises its real error)."""
        cursor = connection.cursor
        try:
            await cursor.execute(write.sql, write.params)
            outcome = await cursor.fetchall() if write.returning else cursor.rowcount
        except Exception as error:
            write.fail(error)
        else:
            write.succeed(outcome)

    async def _together(self, connection: _Connection, lot: list[_Write]) -> None:
        """Run the lot in one transaction; each write again alone if one of them failed."""
        try:
            outcomes = await connection.pipeline.run(
                [(write.sql, write.params, write.returning) for write in lot]
            )
        except LotFailed:
            # PostgreSQL rolled the whole lot back: none of it was written.
            for write in lot:
                await self._alone(connection, write)
            return
        except psycopg.Error as error:  # the connection broke: what committed is unknown
            for write in lot:
                write.fail(error)
            return
        for write, outcome in zip(lot, outcomes, strict=True):
            write.succeed(outcome)

    def _idle_connection(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                return connection
            connection.close_now()
        return None

    async def _connect(self) -> _Connection:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, **self._options
        )
        set_json_loads(orjson.loads, conn)
        set_json_dumps(orjson.dumps, conn)
        return _Connection(conn)

    def close(self) -> None:
        """Close the idle connections (at shutdown, or when the event loop changed)."""
        for connection in self._idle:
            connection.close_now()
        self._idle.clear()
        for runner in self._runners:
            runner.cancel()
        self._runners.clear()
        self._queue.clear()
