"""The store's view of a connection: run a statement, get plain rows back.

Statements are always built with SQLAlchemy Core, and compiled once per dialect;
they then run on the driver's own connection (sqlite3 or psycopg). An indexed
SQLite lookup takes about 2 µs, and SQLAlchemy's connection, transaction and
result machinery around it took 40 µs more; on PostgreSQL it cost about as much
CPU as psycopg itself. Rows come back as tuples; ``parse_*`` below turn SQLite's
text values (JSON, timestamps) into what psycopg returns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import JSON, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

Params = Mapping[str, Any]
# What a unique-constraint violation raises, whichever driver ran the statement.
INTEGRITY_ERRORS = (IntegrityError, sqlite3.IntegrityError, psycopg.errors.IntegrityError)


class Db(Protocol):
    """A connection inside a transaction, as the store uses it."""

    dialect_name: str

    def rows(self, statement: Executable, params: Params | None = None) -> list[tuple[Any, ...]]:
        """Run a SELECT and return every row."""
        ...

    def first(self, statement: Executable, params: Params | None = None) -> tuple[Any, ...] | None:
        """Run a SELECT and return its first row, or None."""
        ...

    def run(self, statement: Executable, params: Params | Sequence[Params] | None = None) -> int:
        """Run a write (several when ``params`` is a list); return the rows it touched."""
        ...


class _Compiled:
    """A statement compiled for SQLite: its SQL, parameter order, defaults, IN lists."""

    __slots__ = ("defaults", "expanding", "names", "sql", "statement")

    def __init__(self, statement: Executable, dialect: Dialect) -> None:
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.statement = statement  # kept so its id() cannot be reused while cached
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        self.defaults = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if bind.value is not None or bind.callable is not None
        }
        self.expanding = {name for name, bind in compiled.binds.items() if bind.expanding}

    def bind(self, params: Params | None) -> tuple[str, list[Any]]:
        given = params or {}
        values = [_to_sqlite(given[n] if n in given else self.defaults.get(n)) for n in self.names]
        if not self.expanding:
            return self.sql, values
        # `IN (__[POSTCOMPILE_ids])` becomes one placeholder per element.
        sql = self.sql
        flat: list[Any] = []
        for name, value in zip(self.names, values, strict=True):
            if name in self.expanding:
                items = list(given[name])
                marks = ", ".join("?" * len(items)) if items else "NULL"
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", marks, 1)
                flat += [_to_sqlite(item) for item in items]
            else:
                flat.append(value)
        return sql, flat


def _to_sqlite(value: Any) -> Any:
    """Store values the way SQLAlchemy's SQLite types do, so both paths agree."""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


class SqliteDb:
    """``Db`` on the sqlite3 connection itself, with statements compiled once."""

    dialect_name = "sqlite"
    _cache: dict[int, _Compiled] = {}

    def __init__(self, conn: sqlite3.Connection, dialect: Dialect) -> None:
        self.conn = conn
        self.dialect = dialect

    def _compiled(self, statement: Executable) -> _Compiled:
        found = self._cache.get(id(statement))
        if found is None or found.statement is not statement:
            found = _Compiled(statement, self.dialect)
            if len(self._cache) < 1024:  # module-level statements; one-off ones are not kept
                self._cache[id(statement)] = found
        return found

    def rows(self, statement: Executable, params: Params | None = None) -> list[tuple[Any, ...]]:
        sql, values = self._compiled(statement).bind(params)
        return self.conn.execute(sql, values).fetchall()

    def first(self, statement: Executable, params: Params | None = None) -> tuple[Any, ...] | None:
        sql, values = self._compiled(statement).bind(params)
        row: tuple[Any, ...] | None = self.conn.execute(sql, values).fetchone()
        return row

    def run(self, statement: Executable, params: Params | Sequence[Params] | None = None) -> int:
        compiled = self._compiled(statement)
        if isinstance(params, Sequence):
            batch = [compiled.bind(p) for p in params]
            if not batch:
                return 0
            return self.conn.executemany(batch[0][0], [values for _sql, values in batch]).rowcount
        sql, values = compiled.bind(params)
        return self.conn.execute(sql, values).rowcount


class _PgCompiled:
    """A statement compiled for psycopg: named parameters, IN lists as arrays."""

    __slots__ = ("defaults", "documents", "expanding", "sql", "statement")

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

    def bind(self, params: Params | None) -> dict[str, Any]:
        values = {**self.defaults, **(params or {})}
        for name, value in values.items():
            if name in self.expanding:
                values[name] = list(value)
            elif name in self.documents and value is not None:
                values[name] = Jsonb(value)
        return values


class PsycopgDb:
    """``Db`` on a psycopg cursor, with statements compiled once.

    SQLAlchemy's execution layer cost about as much CPU per statement as psycopg
    itself; the statements are still SQLAlchemy's, compiled for PostgreSQL.
    """

    dialect_name = "postgresql"
    _cache: dict[int, _PgCompiled] = {}

    def __init__(self, cursor: psycopg.Cursor[Any], dialect: Dialect) -> None:
        self.cursor = cursor
        self.dialect = dialect

    def _compiled(self, statement: Executable) -> _PgCompiled:
        found = self._cache.get(id(statement))
        if found is None or found.statement is not statement:
            found = _PgCompiled(statement, self.dialect)
            if len(self._cache) < 1024:
                self._cache[id(statement)] = found
        return found

    def rows(self, statement: Executable, params: Params | None = None) -> list[tuple[Any, ...]]:
        compiled = self._compiled(statement)
        return self.cursor.execute(compiled.sql, compiled.bind(params)).fetchall()

    def first(self, statement: Executable, params: Params | None = None) -> tuple[Any, ...] | None:
        compiled = self._compiled(statement)
        return self.cursor.execute(compiled.sql, compiled.bind(params)).fetchone()

    def run(self, statement: Executable, params: Params | Sequence[Params] | None = None) -> int:
        compiled = self._compiled(statement)
        if isinstance(params, Sequence):
            if not params:
                return 0
            self.cursor.executemany(compiled.sql, [compiled.bind(p) for p in params])
        else:
            self.cursor.execute(compiled.sql, compiled.bind(params))
        return self.cursor.rowcount


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Db]:
    """Open a transaction on a connection of ``engine``'s pool; yield its ``Db``.

    For code outside the server (tests, tools); the server keeps one connection per
    worker instead (``store.connections``), and follows the same rules.
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


@contextmanager
def sqlite_transaction(conn: sqlite3.Connection, dialect: Dialect, write: bool) -> Iterator[Db]:
    """Run a transaction on ``conn``; a write takes the database's write lock at BEGIN.

    ``BEGIN IMMEDIATE``: a second writer waits there (busy timeout) instead of
    failing half-way through its work (see ``db/engine.py``).
    """
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield SqliteDb(conn, dialect)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def parse_document(value: Any) -> dict[str, Any]:
    """A JSON column's value: text on SQLite, already parsed on PostgreSQL."""
    if isinstance(value, str | bytes):
        parsed: dict[str, Any] = orjson.loads(value)
        return parsed
    return dict(value)


def parse_timestamp(value: Any) -> datetime:
    """A timestamp column's value as an aware UTC datetime (SQLite keeps naive text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
