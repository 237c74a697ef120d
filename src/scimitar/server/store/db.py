"""The store's view of a connection: run a statement, get plain rows back.

Statements are always built with SQLAlchemy Core, and compiled once per dialect;
they then run on the driver's own connection: sqlite3 here, psycopg in
``postgres.py``. An indexed SQLite lookup takes about 2 µs, and SQLAlchemy's
connection, transaction and result machinery around it took 40 µs more. Rows come
back as tuples; ``parse_*`` below turn SQLite's text values (JSON, timestamps) into
what psycopg returns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import psycopg
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
