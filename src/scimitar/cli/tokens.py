"""``scimitar token``: SCIM API keys (the bearer tokens clients send)."""

from __future__ import annotations

import click

from scimitar.cli.options import database_option, open_database
from scimitar.server.tenants import (
    PERMISSIONS,
    AdminError,
    check_permissions,
    create_key,
    format_permissions,
    list_keys,
    revoke_key,
    split_key,
)


def _permissions(ctx: click.Context, param: click.Parameter, value: str) -> frozenset[str]:
    chosen = frozenset(p.strip() for p in value.split(",") if p.strip())
    try:
        check_permissions(chosen)
    except AdminError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc
    return chosen


@click.group()
def token() -> None:
    """Manage SCIM API keys; only a hash of each key is stored."""


@token.command("create")
@click.option("--tenant", "tenant_name", required=True, metavar="NAME", help="The key's tenant.")
@click.option(
    "--permissions",
    default=format_permissions(PERMISSIONS),
    show_default=True,
    callback=_permissions,
    metavar="LIST",
    help="Comma-separated permissions of the key's account; give fewer to model one "
    "that lacks some (its requests then answer 403).",
)
@database_option
def create(tenant_name: str, permissions: frozenset[str], database_url: str) -> None:
    """Create an API key and print it, alone, on standard output.

    The key is shown this once: only its hash is stored.
    """
    engine = open_database(database_url)
    try:
        issued = create_key(engine, tenant_name, permissions)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(issued.secret)
    # Standard error, so that `KEY=$(scimitar token create ...)` captures the key alone.
    click.echo(
        f"API key {issued.key_id} for tenant {tenant_name!r} "
        f"(permissions: {format_permissions(permissions) or 'none'}); "
        "store it now, it cannot be shown again",
        err=True,
    )


@token.command("list")
@database_option
def list_command(database_url: str) -> None:
    """List API keys, one a line: id, tenant, permissions, created, status."""
    engine = open_database(database_url)
    for key in list_keys(engine):
        status = f"revoked {key.revoked.isoformat()}" if key.revoked else "active"
        fields = (
            key.key_id,
            key.tenant_name,
            format_permissions(key.permissions) or "-",
            key.created.isoformat(),
            status,
        )
        # Tab-separated: tenant names may hold spaces, and `cut -f1` still gives the ids.
        click.echo("\t".join(fields))


@token.command("revoke")
@click.argument("key_id")
@database_option
def revoke(key_id: str, database_url: str) -> None:
    """Revoke the API key KEY_ID (or the whole key); it stops working at once."""
    engine = open_database(database_url)
    try:
        revoke_key(engine, key_id)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from exc
    parts = split_key(key_id)
    click.echo(f"revoked API key {parts[0] if parts else key_id}")
