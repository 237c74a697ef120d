"""Send a lot of write statements to PostgreSQL as one pipeline, committed by one Sync.

Written on libpq (psycopg's ``pgconn``) rather than psycopg's pipeline mode: that
mode sends each statement as it is executed, and waits on the event loop once per
statement, and on the benchmark machine it cost the client 112-163 µs a statement
where this costs 33-59 µs (``bench/write_lots.py``, docs/benchmarks.md).
Parameters are still dumped, and rows loaded, by psycopg's adapters
(``Transformer``), so values come back exactly as psycopg's cursors return them.

The statements carry no BEGIN: everything a pipeline sends before its Sync runs as
one implicit transaction, which PostgreSQL commits at the Sync, or rolls back
whole if any statement failed (the protocol's "extended query" rule).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import pq
from psycopg.abc import Buffer
from psycopg.adapt import PyFormat, Transformer

log = logging.getLogger(__name__)

# Prepared statements one connection keeps; past this, statements are sent unprepared.
MOST_PREPARED = 256

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")


@dataclass(frozen=True, slots=True)
class _Statement:
    """A statement in libpq's form: ``$n`` placeholders, and which name each one is."""

    sql: bytes
    names: tuple[str, ...]


_statements: dict[str, _Statement] = {}


def _statement(sql: str) -> _Statement:
    """``sql`` with psycopg's ``%(name)s`` placeholders, converted once."""
    found = _statements.get(sql)
    if found is None:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match[1]
            if name is None:  # "%%", a literal percent sign
                return "%"
            if name not in names:
                names.append(name)
            return f"${names.index(name) + 1}"

        found = _Statement(_PLACEHOLDER.sub(number, sql).encode(), tuple(names))
        if len(_statements) < 1024:
            _statements[sql] = found
    return found


class LotFailed(Exception):
    """A statement of the lot failed, so PostgreSQL rolled the whole lot back."""


class Pipeline:
    """Runs lots of statements on one connection that nothing else uses meanwhile."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._transformer = Transformer.from_context(conn)  # the connection's adapters
        self._prepared: dict[bytes, bytes] = {}

    async def run(
        self, statements: list[tuple[str, dict[str, Any], bool]]
    ) -> list[int | list[tuple[Any, ...]]]:
        """Run ``(sql, params, returning)`` statements in one transaction.

        Returns each one's RETURNING rows when ``returning``, else its row count.
        Raises ``LotFailed`` when a statement failed (nothing was written), and
        psycopg's ``OperationalError`` when the connection broke (what was written
        is unknown).
        """
        pgconn = self._conn.pgconn
        converted = [(_statement(sql), params) for sql, params, _returning in statements]
        for statement, _params in converted:
            if statement.sql not in self._prepared:
                await self._prepare(pgconn, statement)
        results = await self._pipelined(pgconn, converted)
        if any(result.status == pq.ExecStatus.FATAL_ERROR for result in results):
            raise LotFailed
        return [
            self._rows(result) if returning else int(result.command_tuples or 0)
            for result, (_sql, _params, returning) in zip(results, statements, strict=True)
        ]

    async def _prepare(self, pgconn: pq.abc.PGconn, statement: _Statement) -> None:
        """Prepare a statement this connection has not run yet, in a round trip of its own.

        On its own, so that a statement that cannot be prepared fails alone, and a
        name is only kept once PostgreSQL has it.
        """
        if len(self._prepared) >= MOST_PREPARED:
            return
        name = b"scimitar_%d" % len(self._prepared)
        pgconn.enter_pipeline_mode()
        pgconn.send_prepare(name, statement.sql)
        results = await self._synced(pgconn)
        if results[0].status == pq.ExecStatus.FATAL_ERROR:
            # A statement no write of scimitar's should be: its lots then fall back
            # to psycopg's cursors (slower, but the requests are answered right).
            message = results[0].error_message.decode(errors="replace").strip()
            log.warning("cannot prepare %s: %s", statement.sql.decode()[:200], message)
            raise LotFailed
        self._prepared[statement.sql] = name

    async def _pipelined(
        self, pgconn: pq.abc.PGconn, statements: list[tuple[_Statement, dict[str, Any]]]
    ) -> list[pq.abc.PGresult]:
        # Every value is dumped before anything is sent: a value psycopg cannot adapt
        # then fails the lot cleanly, and its request gets psycopg's error on its own.
        try:
            dumped = [self._dumped(statement, params) for statement, params in statements]
        except psycopg.Error as error:
            raise LotFailed from error
        pgconn.enter_pipeline_mode()
        for (statement, _params), values in zip(statements, dumped, strict=True):
            name = self._prepared.get(statement.sql)
            if name is None:
                pgconn.send_query_params(statement.sql, values)
            else:
                pgconn.send_query_prepared(name, values)
        return await self._synced(pgconn)

    def _dumped(self, statement: _Statement, params: dict[str, Any]) -> Sequence[Buffer | None]:
        # Text parameters, their types left to PostgreSQL: a statement prepared once
        # then takes any values (binary ones would have to match the prepared types).
        values = [params[name] for name in statement.names]
        return self._transformer.dump_sequence(values, [PyFormat.TEXT] * len(values))

    async def _synced(self, pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
        """Send the Sync, then return each command's result, in order, up to it."""
        pgconn.pipeline_sync()
        while pgconn.flush():  # the socket's buffer is full: wait until it drains
            await _ready(pgconn.socket, writing=True)
        results = await self._results(pgconn)
        pgconn.exit_pipeline_mode()
        return results

    async def _results(self, pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
        """Each command's result, in order, up to the Sync."""
        results: list[pq.abc.PGresult] = []
        while True:
            while pgconn.is_busy():
                await _ready(pgconn.socket, writing=False)
                pgconn.consume_input()
            result = pgconn.get_result()
            if result is None:  # the end of one statement's results
                continue
            if result.status == pq.ExecStatus.PIPELINE_SYNC:
                return results
            results.append(result)

    def _rows(self, result: pq.abc.PGresult) -> list[tuple[Any, ...]]:
        self._transformer.set_pgresult(result)
        return self._transformer.load_rows(0, result.ntuples, tuple)


async def _ready(socket: int, *, writing: bool) -> None:
    """Wait until the connection's socket can be read (or written)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        # The loop may call this again before the waiting task runs and removes it.
        if not ready.done():
            ready.set_result(None)

    if writing:
        loop.add_writer(socket, wake)
    else:
        loop.add_reader(socket, wake)
    try:
        await ready
    finally:
        if writing:
            loop.remove_writer(socket)
        else:
            loop.remove_reader(socket)
