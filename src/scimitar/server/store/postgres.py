"""The store's ``Db`` on a psycopg cursor, and the key check that rides along a statement.

Statements are SQLAlchemy's, compiled once for PostgreSQL and run on psycopg
directly: SQLAlchemy's execution layer cost about as much CPU per statement as
psycopg itself.

A request's API key is checked against the database on every request (so a revoked
key fails its very next request, in every worker), but a key this worker has
already checked fully (``auth.KeyCache``) is checked inside the request's first
statement rather than in a round trip of its own:

- a SELECT becomes ``SELECT alive, q.* FROM (key check) LEFT JOIN LATERAL (the
  SELECT) q``: the key's state and the rows in one answer;
- a plain ``INSERT ... VALUES`` becomes ``INSERT ... SELECT ... WHERE (key check)``:
  nothing is written for a dead key, and the row count says so;
- an ``UPDATE ... WHERE ... RETURNING`` (``write_returning``) gets the check in its
  ``WHERE``: nothing is written, and no row returned, for a dead key;
- any other statement first runs the check on its own.

A dead key raises ``KeyNoLongerValid`` before any of the statement's rows are used
(``ScimService`` then answers 401). Comparing the stored digest in SQL needs no
constant-time care: the digest is SHA-256 of a 256-bit secret, and timing can at
most tell how many leading bytes of a digest the caller guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

from scimitar.server.store.async_writes import AsyncWrites
from scimitar.server.store.db import Params

_KEY_ALIVE = (
    "SELECT EXISTS (SELECT 1 FROM api_keys WHERE api_keys.id = %(key__id)s"
    " AND api_keys.secret_hash = %(key__hash)s AND api_keys.revoked IS NULL)"
)
# ``row_number() OVER ()`` numbers the rows in the order the inner SELECT sorted them,
# and the outer ORDER BY keeps it; ``__n`` is NULL in the one row a key check gives
# when the inner SELECT found nothing.
_CHECKED_SELECT = (
    "SELECT key_check.alive, found.* FROM ({alive}) AS key_check (alive)"
    " LEFT JOIN LATERAL (SELECT row_number() OVER () AS __n, inner_rows.*"
    " FROM ({sql}) AS inner_rows) AS found ON true ORDER BY found.__n"
)
_PLAIN_INSERT = re.compile(r"^(INSERT INTO \S+ \([^)]*\)) VALUES \((.*)\)$", re.DOTALL)
# The statement's own WHERE is the first one: SET clauses here hold no subquery.
_UPDATE_RETURNING = re.compile(r"^(UPDATE \S+ SET .*?) WHERE (.*?) (RETURNING .*)$", re.DOTALL)


class KeyNoLongerValid(Exception):
    """The key that a cached check trusted was revoked (or deleted) since."""


class _PgCompiled:
    """A statement compiled for psycopg: named parameters, IN lists as arrays."""

    __slots__ = (
        "checked_sql",
        "checked_update",
        "defaults",
        "documents",
        "expanding",
        "sql",
        "statement",
    )

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.statement = statement
        # Parameters bound to a JSON document (not JSON paths, which are text arrays).
        self.documents = {
            name
            for name, bind in compiled.binds.items()
            if isinstance(bind.type, JSON) and not isinstance(bind.type, JSON.JSONPathType)
        }
        self.defaults = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if bind.value is not None or bind.callable is not None
        }
        self.expanding = {name for name, bind in compiled.binds.items() if bind.expanding}
        sql = compiled.string
        for name in self.expanding:  # one array parameter instead of N placeholders
            sql = sql.replace(f"IN (__[POSTCOMPILE_{name}])", f"= ANY(%({name})s)")
        self.sql = sql
        self.checked_sql = _with_key_check(sql, compiled.isinsert)
        self.checked_update = _update_with_key_check(sql) if compiled.isupdate else None

    def bind(self, params: Params | None) -> dict[str, Any]:
        values = {**self.defaults, **(params or {})}
        for name, value in values.items():
            if name in self.expanding:
                values[name] = list(value)
            elif name in self.documents and value is not None:
                values[name] = Jsonb(value)
        return values


def _with_key_check(sql: str, is_insert: bool) -> str | None:
    """The statement carrying the key check, or None when it cannot carry one."""
    if sql.startswith("SELECT "):
        return _CHECKED_SELECT.format(alive=_KEY_ALIVE, sql=sql)
    plain = _PLAIN_INSERT.match(sql) if is_insert else None
    if plain is not None:
        return f"{plain[1]} SELECT {plain[2]} WHERE ({_KEY_ALIVE})"
    return None


def _update_with_key_check(sql: str) -> str | None:
    """An ``UPDATE ... WHERE ... RETURNING`` that writes and returns nothing for a dead key."""
    update = _UPDATE_RETURNING.match(sql)
    if update is None:
        return None
    statement, where, returning = update.groups()
    return f"{statement} WHERE ({where}) AND ({_KEY_ALIVE}) {returning}"


class PsycopgDb:
    """``Db`` on a psycopg cursor, with statements compiled once."""

    dialect_name = "postgresql"
    _cache: dict[int, _PgCompiled] = {}

    def __init__(self, cursor: psycopg.Cursor[Any], dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self._key: dict[str, str] | None = None
        # Where a single write runs instead, when it may wait for its commit without
        # holding up the worker (``async_writes``).
        self.writer: AsyncWrites | None = None

    def _compiled(self, statement: Executable) -> _PgCompiled:
        found = self._cache.get(id(statement))
        if found is None or found.statement is not statement:
            found = _PgCompiled(statement, self.dialect)
            if len(self._cache) < 1024:
                self._cache[id(statement)] = found
        return found

    # -- the key check --------------------------------------------------------------------

    def expect_key(self, key_id: str, key_hash: str) -> None:
        """Check this key (id and secret digest) with the next statement."""
        self._key = {"key__id": key_id, "key__hash": key_hash}

    def settle_key(self) -> None:
        """Run a pending key check on its own (no statement came to carry it)."""
        key, self._key = self._key, None
        if key is None:
            return
        row = self.cursor.execute(_KEY_ALIVE, key).fetchone()
        if row is None or not row[0]:
            raise KeyNoLongerValid

    def _take_key(self, compiled: _PgCompiled) -> dict[str, str] | None:
        """The pending key check, if this statement carries it (else it is run now)."""
        if self._key is None:
            return None
        if compiled.checked_sql is None:
            self.settle_key()
            return None
        key, self._key = self._key, None
        return key

    # -- statements -----------------------------------------------------------------------

    def rows(self, statement: Executable, params: Params | None = None) -> list[tuple[Any, ...]]:
        compiled = self._compiled(statement)
        key = self._take_key(compiled)
        if key is None:
            return self.cursor.execute(compiled.sql, compiled.bind(params)).fetchall()
        assert compiled.checked_sql is not None
        found = self.cursor.execute(compiled.checked_sql, {**compiled.bind(params), **key})
        rows = found.fetchall()
        if not rows[0][0]:
            raise KeyNoLongerValid
        return [row[2:] for row in rows if row[1] is not None]

    def first(self, statement: Executable, params: Params | None = None) -> tuple[Any, ...] | None:
        if self._key is not None:
            found = self.rows(statement, params)
            return found[0] if found else None
        compiled = self._compiled(statement)
        return self.cursor.execute(compiled.sql, compiled.bind(params)).fetchone()

    def run(self, statement: Executable, params: Params | Sequence[Params] | None = None) -> int:
        compiled = self._compiled(statement)
        if isinstance(params, Sequence):
            self.settle_key()
            if not params:
                return 0
            self.cursor.executemany(compiled.sql, [compiled.bind(p) for p in params])
            return self.cursor.rowcount
        key = self._take_key(compiled)
        sql, values = compiled.sql, compiled.bind(params)
        if key is not None:
            assert compiled.checked_sql is not None
            sql, values = compiled.checked_sql, {**values, **key}
        if self.writer is None:
            written = self.cursor.execute(sql, values).rowcount
        else:
            written = self.writer.write(sql, values)
        if key is not None and written == 0:  # a plain INSERT writes its row unless the key is dead
            raise KeyNoLongerValid
        return written

    def write_returning(self, statement: Executable, params: Params) -> list[tuple[Any, ...]]:
        """Run an ``UPDATE ... RETURNING`` and return its rows, carrying a pending key check.

        No rows can mean a dead key as well as no row matched: the key check then
        stays pending, for the caller's next statement to settle.
        """
        compiled = self._compiled(statement)
        assert compiled.checked_update is not None, "an UPDATE ... WHERE ... RETURNING"
        key, self._key = self._key, None
        sql, values = compiled.sql, compiled.bind(params)
        if key is not None:
            sql, values = compiled.checked_update, {**values, **key}
        if self.writer is None:
            rows = self.cursor.execute(sql, values).fetchall()
        else:
            rows = self.writer.write_returning(sql, values)
        if not rows:
            self._key = key
        return rows
