"""``scimitar db``: the database schema."""

from __future__ import annotations

import click

from scimitar.cli.options import connect, database_errors, database_option
from scimitar.db.migrate import current_revision, upgrade


@click.group()
def db() -> None:
    """Manage the database schema."""


@db.command("upgrade")
@database_option
def upgrade_command(database_url: str) -> None:
    """Bring the database schema up to date (other commands do this too)."""
    engine = connect(database_url)
    with database_errors(database_url):
        changed = upgrade(engine)
        revision = current_revision(engine)
    if changed:
        click.echo(f"database schema upgraded to revision {revision}")
    else:
        click.echo(f"database schema already up to date (revision {revision})")
