"""``scimitar tenant``: SCIM target tenants."""

from __future__ import annotations

import click

from scimitar.cli.options import database_option, open_database
from scimitar.server.tenants import ROLE_POLICIES, AdminError, create_tenant


@click.group()
def tenant() -> None:
    """Manage SCIM target tenants (each API key belongs to one)."""


@tenant.command("create")
@click.argument("name")
@click.option(
    "--role-policy",
    type=click.Choice(sorted(ROLE_POLICIES)),
    default=None,
    help="Roles the tenant accepts; clarizen-one allows only the User role.",
)
@database_option
def create(name: str, role_policy: str | None, database_url: str) -> None:
    """Create a tenant called NAME."""
    engine = open_database(database_url)
    try:
        tenant_id = create_tenant(engine, name, role_policy)
    except AdminError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created tenant {name.strip()!r} (id {tenant_id})")
