"""``scimitar app``: apps from the gallery, their assignments, mappings, scope and status."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import click

from scimitar.cli.app_mappings import (
    describe_filters,
    edit_settings,
    errors,
    mapping,
    scoping_filter,
)
from scimitar.cli.options import database_option, open_database
from scimitar.provisioning import apps as registry
from scimitar.provisioning.app_settings import ACTIONS, Action, AppSettings
from scimitar.provisioning.apps import App, AppError
from scimitar.provisioning.connection import test_connection_sync
from scimitar.provisioning.gallery import GALLERY
from scimitar.provisioning.mappings import OBJECT_TYPES, ObjectType

DATA_CENTERS = sorted({dc for entry in GALLERY.values() for dc in entry.data_centers})


@click.group()
def app() -> None:
    """Manage apps: the SCIM applications the directory is provisioned into."""


@app.command("add")
@click.argument("name")
@click.option("--gallery", type=click.Choice(sorted(GALLERY)), required=True, help="Preset.")
@click.option("--tenant-url", metavar="URL", help="The app's SCIM base URL.")
@click.option(
    "--data-center",
    type=click.Choice(DATA_CENTERS),
    help="Clarizen One's data center, instead of --tenant-url.",
)
@click.option(
    "--secret-token",
    prompt=True,
    hide_input=True,
    metavar="TOKEN",
    help="The app's API key (prompted for when left out, so it stays out of shell history).",
)
@click.option("--notification-email", metavar="ADDR", help="Who is told of failures.")
@database_option
def add(
    name: str,
    gallery: str,
    tenant_url: str | None,
    data_center: str | None,
    secret_token: str,
    notification_email: str | None,
    database_url: str,
) -> None:
    """Add the app NAME from the gallery, with its default mappings, provisioning off."""
    engine = open_database(database_url)
    with errors():
        added = registry.add_app(
            engine,
            name,
            gallery,
            tenant_url=tenant_url,
            data_center=data_center,
            secret_token=secret_token,
            notification_email=notification_email,
        )
    click.echo(
        f"added app {added.name!r} ({added.gallery_app.display_name}, {added.tenant_url}); "
        f"provisioning is off: check it with `scimitar app test-connection {added.name!r}`, "
        f"then `scimitar app start {added.name!r}`"
    )


@app.command("list")
@database_option
def list_command(database_url: str) -> None:
    """List apps, one a line: name, gallery, status, tenant URL (tab-separated)."""
    engine = open_database(database_url)
    with errors():
        for item in registry.list_apps(engine):
            state = registry.provisioning_status(engine, item)
            status = "quarantined" if state.quarantined else item.status
            click.echo("\t".join((item.name, item.gallery, status, item.tenant_url)))


def _describe_settings(settings: AppSettings) -> list[str]:
    scope = "assigned users and groups only" if settings.scope == "assigned" else "all"
    threshold = settings.deletion_threshold
    return [
        f"scope: {scope}",
        f"cycle interval: {settings.interval_minutes} minutes",
        "nested groups: " + ("flattened" if settings.flatten_nested_groups else "direct members"),
        f"accidental-deletion threshold: {threshold if threshold is not None else 'off'}",
        "out-of-scope users: "
        + ("left alone" if settings.skip_out_of_scope_deletions else "disabled"),
        "allowed actions: "
        + "; ".join(
            f"{kind} {', '.join(settings.allowed_actions[kind]) or 'none'}" for kind in OBJECT_TYPES
        ),
        "group provisioning: " + ("on" if settings.object_types["group"] else "off"),
    ]


app.add_command(mapping)
app.add_command(scoping_filter)


@app.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead.")
@database_option
def show(name: str, as_json: bool, database_url: str) -> None:
    """Show an app's configuration and sync state (never its secret token)."""
    engine = open_database(database_url)
    with errors():
        shown = registry.get_app(engine, name)
        state = registry.provisioning_status(engine, shown)
    if as_json:
        document = {
            "name": shown.name,
            "gallery": shown.gallery,
            "tenantUrl": shown.tenant_url,
            "status": shown.status,
            "notificationEmail": shown.notification_email,
            "roles": registry.app_roles(shown),
            "configVersion": shown.config_version,
            "settings": shown.settings.to_json(),
            "state": {
                "watermark": state.watermark,
                "syncedConfigVersion": state.synced_config_version,
                "quarantinedUntil": state.quarantine_until and state.quarantine_until.isoformat(),
                "quarantineReason": state.quarantine_reason,
                "stagedDeletions": state.staged_deletions,
                "escrows": state.escrows,
            },
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    email = shown.notification_email or "none"
    if shown.notification_email:
        email += " (failures e-mailed)" if shown.notifies else " (e-mails off)"
    initial = state.synced_config_version != shown.config_version
    lines = [
        f"app: {shown.name}",
        f"gallery: {shown.gallery_app.display_name} ({shown.gallery})",
        f"tenant URL: {shown.tenant_url}",
        "secret token: stored encrypted, never shown",
        f"provisioning: {shown.status}",
        f"notification e-mail: {email}",
        *_describe_settings(shown.settings),
        f"roles: {', '.join(registry.app_roles(shown))}",
        f"next cycle: {'initial' if initial else 'incremental'}",
    ]
    if state.quarantined and state.quarantine_until:
        lines.append(
            f"quarantined until {state.quarantine_until.isoformat()}: {state.quarantine_reason}"
        )
    if state.staged_deletions:
        lines.append(
            f"{state.staged_deletions} deletion(s) held by the threshold: "
            f"`scimitar app allow-deletes {shown.name!r}` releases them"
        )
    if state.escrows:
        lines.append(f"{state.escrows} object(s) to retry")
    for kind in OBJECT_TYPES:
        mappings = shown.settings.mappings[kind]
        lines.append(f"{kind} mappings ({len(mappings)}):")
        lines += [f"  {mapping}" for mapping in mappings]
        lines += describe_filters(shown.settings, kind)
    click.echo("\n".join(lines))


def _principal_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--group", metavar="NAME", help="A group, by displayName or id.")(
        command
    )
    return click.option("--user", metavar="UPN", help="A user, by userPrincipalName.")(command)


@app.command("assign")
@click.argument("name")
@_principal_options
@click.option("--role", required=True, help="One of the app's roles (see `app show`).")
@database_option
def assign(name: str, user: str | None, group: str | None, role: str, database_url: str) -> None:
    """Assign a user or a group to the app NAME with a role."""
    engine = open_database(database_url)
    with errors():
        result = registry.assign(engine, name, user=user, group=group, role=role)
    click.echo(f"assigned {result.principal} to {name.strip()!r} with the role {result.role}")
    if result.warning:
        click.echo(f"warning: {result.warning}", err=True)


@app.command("unassign")
@click.argument("name")
@_principal_options
@click.option("--role", help="Only this role (default: every role of the user or group).")
@database_option
def unassign(
    name: str, user: str | None, group: str | None, role: str | None, database_url: str
) -> None:
    """Remove a user's or a group's assignment to the app NAME."""
    engine = open_database(database_url)
    with errors():
        result = registry.unassign(engine, name, user=user, group=group, role=role)
    click.echo(f"unassigned {result.principal} from {name.strip()!r} ({result.count} role(s))")


# -- settings and status --------------------------------------------------------------


def _threshold(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    if value is None:
        return None
    if value.strip().lower() == "off":
        return "off"
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter("a whole number of 1 or more, or off", ctx, param) from None
    if number < 1:
        raise click.BadParameter("a whole number of 1 or more, or off", ctx, param)
    return number


def _allowed(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[ObjectType, tuple[Action, ...]]:
    allowed: dict[ObjectType, tuple[Action, ...]] = {}
    for value in values:
        kind, colon, listed = value.partition(":")
        actions = [a.strip() for a in listed.split(",") if a.strip() and a.strip() != "none"]
        if not colon or kind not in OBJECT_TYPES or any(a not in ACTIONS for a in actions):
            raise click.BadParameter(
                f"{value!r}: write user:create,update,delete or group:none", ctx, param
            )
        allowed[kind] = tuple(cast(Action, a) for a in actions)
    return allowed


@app.command("set")
@click.argument("name")
@click.option("--scope", type=click.Choice(["assigned", "all"]), help="Who is provisioned.")
@click.option("--interval", type=click.IntRange(min=1), metavar="MINUTES", help="Cycle interval.")
@click.option("--flatten-groups/--no-flatten-groups", default=None, help="Nested group members.")
@click.option("--deletion-threshold", callback=_threshold, metavar="N|off", help="Deletion guard.")
@click.option(
    "--skip-out-of-scope-deletions/--no-skip-out-of-scope-deletions",
    default=None,
    help="Leave users who fall out of scope active in the app.",
)
@click.option(
    "--allow",
    multiple=True,
    callback=_allowed,
    metavar="TYPE:ACTIONS",
    help="Target actions allowed, e.g. user:create,update or group:none (repeatable).",
)
@click.option("--provision-groups/--no-provision-groups", default=None, help="Group objects.")
@click.option("--notification-email", metavar="ADDR", help="'' clears it.")
@click.option("--notify-on-failure/--no-notify-on-failure", default=None, help="E-mail failures.")
@click.option("--add-role", "add_roles", multiple=True, metavar="ROLE", help="A new app role.")
@click.option("--remove-role", "remove_roles", multiple=True, metavar="ROLE", help="Drop a role.")
@click.option("--tenant-url", metavar="URL", help="A new tenant URL.")
@click.option("--data-center", type=click.Choice(DATA_CENTERS), help="A new data center.")
@click.option("--secret-token", metavar="TOKEN", help="A new secret token.")
@database_option
def set_command(name: str, database_url: str, **options: Any) -> None:
    """Change the app's settings; options left out keep their values."""
    engine = open_database(database_url)
    with errors():
        current = registry.get_app(engine, name)
        connection = {k: options[k] for k in ("tenant_url", "data_center", "secret_token")}
        if any(v is not None for v in connection.values()):
            registry.update_connection(engine, name, **connection)
            click.echo("saved the connection settings")
        if options["notification_email"] is not None:
            registry.set_notification_email(engine, name, options["notification_email"])
            click.echo("saved the notification e-mail")
        changes = _setting_changes(current, options)
        if changes:
            edit_settings(engine, name, lambda s: replace(s, **changes), "saved the settings")


def _setting_changes(current: App, options: dict[str, Any]) -> dict[str, Any]:
    settings = current.settings
    changes: dict[str, Any] = {}
    simple = {
        "scope": "scope",
        "interval": "interval_minutes",
        "flatten_groups": "flatten_nested_groups",
        "skip_out_of_scope_deletions": "skip_out_of_scope_deletions",
        "notify_on_failure": "notify_on_failure",
    }
    for option, attribute in simple.items():
        if options[option] is not None:
            changes[attribute] = options[option]
    if options["deletion_threshold"] is not None:
        threshold = options["deletion_threshold"]
        changes["deletion_threshold"] = None if threshold == "off" else threshold
    if options["allow"]:
        changes["allowed_actions"] = {**settings.allowed_actions, **options["allow"]}
    if options["provision_groups"] is not None:
        changes["object_types"] = {
            **settings.object_types,
            "group": options["provision_groups"],
        }
    if options["add_roles"] or options["remove_roles"]:
        removing = {role.strip().casefold() for role in options["remove_roles"]}
        missing = removing - {role.casefold() for role in settings.roles}
        if missing:
            raise AppError(
                f"{current.name!r} has no role {', '.join(sorted(missing))!r} to remove; "
                f"its roles are: {', '.join(settings.roles)}"
            )
        kept = tuple(role for role in settings.roles if role.casefold() not in removing)
        changes["roles"] = kept + tuple(options["add_roles"])
    return changes


@app.command("start")
@click.argument("name")
@database_option
def start(name: str, database_url: str) -> None:
    """Turn provisioning on: cycles run on the app's interval, the first one now."""
    engine = open_database(database_url)
    with errors():
        registry.set_status(engine, name, "on")
    click.echo(f"provisioning of {name.strip()!r} is on")


@app.command("stop")
@click.argument("name")
@database_option
def stop(name: str, database_url: str) -> None:
    """Turn provisioning off; the sync state is kept for when it is turned on again."""
    engine = open_database(database_url)
    with errors():
        registry.set_status(engine, name, "off")
    click.echo(f"provisioning of {name.strip()!r} is off")


@app.command("restart")
@click.argument("name")
@click.option("--full", is_flag=True, help="Also start over: the next cycle is an initial one.")
@database_option
def restart(name: str, full: bool, database_url: str) -> None:
    """Clear quarantine and retry failed objects now (with --full, re-read everything)."""
    engine = open_database(database_url)
    with errors():
        registry.restart(engine, name, full=full)
    what = "the next cycle is an initial one" if full else "failed objects are retried next cycle"
    click.echo(f"restarted provisioning of {name.strip()!r}: {what}")


@app.command("allow-deletes")
@click.argument("name")
@database_option
def allow_deletes(name: str, database_url: str) -> None:
    """Release the deletions held back by the accidental-deletion threshold."""
    engine = open_database(database_url)
    with errors():
        count = registry.allow_deletes(engine, name)
    if count:
        click.echo(f"released {count} held deletion(s): the next cycle carries them out")
    else:
        click.echo("no deletions were held; the next cycle over the threshold may proceed")


@app.command("test-connection")
@click.argument("name")
@database_option
def test_connection(name: str, database_url: str) -> None:
    """Probe the app as Entra's Test Connection does; exit 1 with the reason on failure."""
    engine = open_database(database_url)
    with errors():
        target = registry.get_app(engine, name)
        token = registry.secret_token(engine, target)
    result = test_connection_sync(target.tenant_url, token)
    if not result.ok:
        raise click.ClickException(result.message)
    click.echo(result.message)
