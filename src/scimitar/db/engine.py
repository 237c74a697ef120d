"""Create SQLAlchemy engines for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///scimitar.db"


def database_url(explicit: str | None = None) -> str:
    """Return the URL to use: the explicit one, ``$SCIMITAR_DATABASE_URL``, else SQLite."""
    return explicit or os.environ.get("SCIMITAR_DATABASE_URL") or DEFAULT_DATABASE_URL


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` to the psycopg 3 driver, which is the one we ship."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings scimitar relies on.

    SQLite: WAL so readers never wait for the writer, foreign keys on (off by
    default in SQLite), a busy timeout so concurrent workers queue instead of
    failing, and transactions begun by us (``BEGIN IMMEDIATE`` for writes, see
    ``begin_write``) instead of by the pysqlite driver, whose implicit BEGIN would
    let two writers deadlock on the lock upgrade.
    """
    url = normalise_url(database_url(url))
    # orjson is several times faster than json for the documents every request stores.
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if make_url(url).get_backend_name() != "sqlite":
        # No pre-ping: it is one more round trip on every checkout. Connections are
        # recycled hourly instead, and a request that meets a dropped one fails once
        # with a 500 while the pool replaces it.
        kwargs.setdefault("pool_recycle", 3600)
        kwargs.setdefault("pool_size", 10)
        return create_engine(url, **kwargs)

    # SQLite runs one writer at a time; a few connections serve concurrent readers
    # and no overflow means no connection is opened and closed per request.
    kwargs.setdefault("pool_size", 4)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("connect_args", {})
    kwargs["connect_args"].setdefault("check_same_thread", False)
    kwargs["connect_args"].setdefault("timeout", 30)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.info.pop("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """Open a transaction that will write: ``BEGIN IMMEDIATE`` on SQLite.

    Taking SQLite's write lock up front makes a second writer wait (busy timeout)
    at BEGIN, instead of failing with SQLITE_BUSY half-way through its work.
    """
    with engine.connect() as conn:
        if is_sqlite(engine):
            conn.info["sqlite_begin"] = "IMMEDIATE"
        with conn.begin():
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """Open a transaction for reads that must agree with each other (one snapshot)."""
    with engine.connect() as conn, conn.begin():
        yield conn
