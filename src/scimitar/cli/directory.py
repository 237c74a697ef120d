"""``scimitar directory``: the source directory (what stands in for the Entra tenant)."""

from __future__ import annotations

from pathlib import Path

import click

from scimitar.cli.options import database_option, open_database
from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory import store
from scimitar.directory.importer import import_file
from scimitar.directory.model import DirectoryError


@click.group()
def directory() -> None:
    """Manage the source directory: users, groups and memberships."""


@directory.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option(
    "--replace",
    is_flag=True,
    help="The file is the whole directory: soft-delete users and remove groups it lacks.",
)
@database_option
def import_command(file: Path, replace: bool, database_url: str) -> None:
    """Upsert users, groups and memberships from a JSON or CSV FILE.

    JSON: {"users": [...], "groups": [...]}, a group's "members" being users'
    userPrincipalNames or {"group": "displayName"}. CSV: users, the header naming
    Entra attributes (userPrincipalName, displayName, accountEnabled, ...). A bad
    file is rejected whole, each problem named by line and field.
    """
    engine = open_database(database_url)
    try:
        report = import_file(engine, file, replace=replace)
    except DirectoryError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)


@directory.command("delete")
@click.option("--user", "upn", required=True, metavar="UPN", help="The user's userPrincipalName.")
@click.option(
    "--hard", is_flag=True, help="Delete for good now instead of a restorable soft delete."
)
@database_option
def delete_command(upn: str, hard: bool, database_url: str) -> None:
    """Delete a user: soft (restorable for 30 days, then purged) unless --hard."""
    engine = open_database(database_url)
    try:
        with write_transaction(engine) as conn:
            delete = store.hard_delete_user if hard else store.soft_delete_user
            user = delete(conn, upn)
    except DirectoryError as exc:
        raise click.ClickException(str(exc)) from exc
    if hard:
        click.echo(f"deleted {user.user_principal_name} for good")
    else:
        click.echo(
            f"soft-deleted {user.user_principal_name}; `scimitar directory restore --user "
            f"{user.user_principal_name}` brings it back within {store.RETENTION_DAYS} days"
        )


@directory.command("restore")
@click.option("--user", "upn", required=True, metavar="UPN", help="The user's userPrincipalName.")
@database_option
def restore_command(upn: str, database_url: str) -> None:
    """Restore a soft-deleted user, with its memberships and assignments."""
    engine = open_database(database_url)
    try:
        with write_transaction(engine) as conn:
            user = store.restore_user(conn, upn)
    except DirectoryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {user.user_principal_name}")


@directory.command("purge")
@click.option(
    "--retention-days",
    type=click.IntRange(min=0),
    default=store.RETENTION_DAYS,
    show_default=True,
    help="Purge users soft-deleted longer ago than this.",
)
@database_option
def purge_command(retention_days: int, database_url: str) -> None:
    """Hard-delete users whose soft delete is older than the retention period."""
    engine = open_database(database_url)
    with write_transaction(engine) as conn:
        count = store.purge_deleted(conn, store.utcnow(), retention_days)
    click.echo(f"purged {count} deleted object{'' if count == 1 else 's'}")


@directory.command("list")
@click.option("--deleted", is_flag=True, help="List soft-deleted users instead.")
@click.option("--groups", is_flag=True, help="List groups (with their direct member counts).")
@database_option
def list_command(deleted: bool, groups: bool, database_url: str) -> None:
    """List users (userPrincipalName, objectId, enabled) or groups."""
    engine = open_database(database_url)
    with read_transaction(engine) as conn:
        if groups:
            found = store.iter_groups(conn, include_deleted=False)
            counts = store.members_of(conn, [group.object_id for group in found])
            rows = [
                (group.display_name, group.object_id, f"{len(counts[group.object_id])} members")
                for group in sorted(found, key=lambda group: group.display_name.casefold())
            ]
        else:
            users = [user for user in store.iter_users(conn) if user.soft_deleted == deleted]
            rows = [
                (
                    user.user_principal_name,
                    user.object_id,
                    _deleted_on(user) if deleted else _enabled(user),
                )
                for user in sorted(users, key=lambda user: user.user_principal_name.casefold())
            ]
    width = max((len(row[0]) for row in rows), default=0)
    for name, object_id, detail in rows:
        click.echo(f"{name:<{width}}  {object_id:<36}  {detail}")


def _enabled(user: store.DirectoryUser) -> str:
    return "enabled" if user.account_enabled else "disabled"


def _deleted_on(user: store.DirectoryUser) -> str:
    assert user.deleted_at is not None
    return f"deleted {user.deleted_at:%Y-%m-%d %H:%M} UTC"
