"""``scimitar serve``: the SCIM target, health, metrics and the provisioning scheduler."""

from __future__ import annotations

import click

from scimitar.cli.options import database_errors, database_option
from scimitar.settings import Settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes; one per CPU core suits a busy server.",
)
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log one line per request (costs throughput).",
)
@database_option
def serve(host: str, port: int, workers: int, access_log: bool, database_url: str) -> None:
    """Serve the SCIM target at /scim/v2, with /healthz and /metrics, and run provisioning.

    Apps that are on run their cycles on their interval (40 minutes by default);
    SCIMITAR_SCHEDULER=off turns that off. Brings the database schema up to date
    first. Stops gracefully on SIGTERM or Ctrl-C.
    """
    # Imported here: the web server stack is only needed by this command.
    from scimitar.server.serve import serve as run_server

    settings = Settings.from_env(database_url)
    with database_errors(database_url):
        run_server(settings, host, port, workers, access_log=access_log)
