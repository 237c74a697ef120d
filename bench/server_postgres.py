"""The PostgreSQL side of the run: a database of its own, and fast, analyzed seeding."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """Create a database for this run, yield its URL, and drop it afterwards."""
    import psycopg

    name = f"scimitar_bench_{datetime.now():%Y%m%d%H%M%S}_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def relaxed_commits(admin_url: str, database: str) -> Iterator[None]:
    """Let new sessions of ``database`` commit without waiting for the WAL flush.

    Seeding only: Bulk commits each operation, so 100,000 users are 100,000
    flushes. The server is restarted afterwards, so the measured runs commit
    with the default (``synchronous_commit = on``).
    """
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    try:
        yield
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{database}" RESET synchronous_commit')


def analyze_database(admin_url: str, database: str) -> None:
    """Refresh the planner statistics of every table of ``database``."""
    import psycopg

    with psycopg.connect(_with_database(admin_url, database), autocommit=True) as conn:
        conn.execute("ANALYZE")
