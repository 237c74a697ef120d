"""``scimitar logs``: an app's provisioning logs, as a table, JSON (Graph's shape) or CSV."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

from scimitar.cli.options import database_errors, database_option, open_database
from scimitar.provisioning.apps import UnknownApp, get_app
from scimitar.provisioning.logs import (
    ACTIONS,
    STATUSES,
    format_csv,
    format_json,
    format_table,
    parse_timestamp,
    query_logs,
)

_DURATION = re.compile(r"(?:\d+[smhdw])+")
_DURATION_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_FORMATTERS = {"table": format_table, "json": format_json, "csv": format_csv}


def parse_since(text: str, now: datetime) -> datetime:
    """Parse ``--since`` into a UTC moment.

    Accepts a duration back from ``now`` (``30m``, ``1h``, ``7d``, ``1h30m``), a date
    (``2026-11-28``: midnight UTC) or an ISO 8601 date and time.
    """
    value = text.strip().lower()
    if _DURATION.fullmatch(value):
        span = timedelta()
        for amount, unit in _DURATION_PART.findall(value):
            span += timedelta(**{_UNITS[unit]: int(amount)})
        return now - span
    try:
        return parse_timestamp(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30m, 1h, 7d) nor a date (2026-11-28) "
            "or date and time (2026-11-28T09:30:00Z)"
        ) from None


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_since(value, datetime.now(UTC))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


@click.command("logs")
@click.argument("name")
@click.option(
    "--status", type=click.Choice(sorted(STATUSES)), help="Only entries with this status."
)
@click.option(
    "--action",
    type=click.Choice(sorted(ACTIONS), case_sensitive=False),
    help="Only entries of this action.",
)
@click.option(
    "--since",
    metavar="DATE|DURATION",
    callback=_since,
    help="Only entries from then on: a duration back from now (30m, 1h, 7d) or a date "
    "(2026-11-28, UTC) or ISO 8601 date and time.",
)
@click.option(
    "--user",
    metavar="UPN",
    help="Only entries for this user or group: UPN, display name, object id or target id.",
)
@click.option("--cycle", "cycle_id", metavar="ID", help="Only entries of this cycle.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(_FORMATTERS)),
    default="table",
    show_default=True,
    help="json is Graph's provisioningObjectSummary; csv has nested fields as JSON.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only the latest N entries (still printed oldest first).",
)
@database_option
def logs(
    name: str,
    status: str | None,
    action: str | None,
    since: datetime | None,
    user: str | None,
    cycle_id: str | None,
    output_format: str,
    limit: int | None,
    database_url: str,
) -> None:
    """Show the provisioning logs of the app NAME, oldest first.

    One entry per object and action in each cycle, with Microsoft Graph's field
    names; entries are kept 30 days.
    """
    engine = open_database(database_url)
    with database_errors(database_url):
        try:
            app = get_app(engine, name)
        except UnknownApp as exc:
            raise click.ClickException(str(exc)) from exc
        entries = query_logs(
            engine,
            app.id,
            status=status,
            action=action,
            since=since,
            user=user,
            cycle_id=cycle_id,
            limit=limit,
        )
    if not entries and output_format == "table":
        # Standard error: standard output stays empty for scripts reading the table.
        click.echo(f"no provisioning log entries for app {name!r} match", err=True)
        return
    text = _FORMATTERS[output_format](entries)
    click.echo(text, nl=not text.endswith("\n"))
