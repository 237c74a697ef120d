"""What every command shares: the ``--database-url`` option and opening that database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from scimitar.db.engine import DEFAULT_DATABASE_URL, make_engine
from scimitar.db.migrate import upgrade

F = TypeVar("F", bound=Callable[..., Any])


def database_option(command: F) -> F:
    """Add ``--database-url URL`` (default ``$SCIMITAR_DATABASE_URL``, then SQLite)."""
    return click.option(
        "--database-url",
        "database_url",
        metavar="URL",
        envvar="SCIMITAR_DATABASE_URL",
        show_envvar=True,
        default=DEFAULT_DATABASE_URL,
        show_default=True,
        help="sqlite:///FILE or postgresql://USER@HOST/DB.",
    )(command)


def safe_url(url: str) -> str:
    """Return ``url`` fit for a message: its password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable URL)"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def describe_error(exc: BaseException) -> str:
    """Return one line saying what went wrong, without SQL, parameters or traceback."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        # The driver's own message; SQLAlchemy's str() adds the statement and its parameters.
        return f"database error: {_first_line(str(exc.orig))}"
    if isinstance(exc, NoSuchModuleError):
        return "unsupported database URL: use sqlite:///FILE or postgresql://USER@HOST/DB"
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {_first_line(str(exc))}"
    if isinstance(exc, ImportError):
        return f"no driver for it ({exc}); scimitar supports sqlite:// and postgresql://"
    return _first_line(str(exc)) or type(exc).__name__


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn a database failure into a one-line ``ClickException`` naming the database."""
    try:
        yield
    except (SQLAlchemyError, OSError, ImportError) as exc:
        raise click.ClickException(
            f"cannot use the database {safe_url(url)}: {describe_error(exc)}"
        ) from exc


def connect(url: str) -> Engine:
    """Create an engine for ``url``, disposed of when the command ends."""
    with database_errors(url):
        engine = make_engine(url)
    click.get_current_context().call_on_close(engine.dispose)
    return engine


def open_database(url: str) -> Engine:
    """Connect, and bring an empty or older schema up to date first."""
    engine = connect(url)
    with database_errors(url):
        upgrade(engine)
    return engine
