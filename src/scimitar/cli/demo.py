"""``scimitar demo``: the main job, end to end, on the embedded default (SQLite)."""

from __future__ import annotations

import sys
import time

import click

from scimitar.cli.options import database_option, open_database
from scimitar.cli.sync import ProgressBar, print_summary


@click.command()
@click.option("--once", is_flag=True, help="Exit after the first cycle instead of serving.")
@click.option("--port", default=8000, show_default=True, help="Port for the SCIM target.")
@database_option
def demo(once: bool, port: int, database_url: str) -> None:
    """Provision a sample organisation into a local SCIM target, then keep serving it.

    Builds 1,000 users and 50 groups with app-role assignments (a few out of scope),
    serves a SCIM tenant with the Clarizen One role policy, adds the Clarizen One
    gallery app pointing at it, and runs the initial provisioning cycle.
    """
    from scimitar.demo import APP, free_port, prepare, serving
    from scimitar.provisioning.engine.cycle import run_cycle

    engine = open_database(database_url)
    chosen = free_port(port)
    if chosen != port:
        click.echo(f"port {port} is taken; serving on {chosen} instead", err=True)
    with serving(database_url, chosen) as base_url:
        key, _app = prepare(engine, base_url)
        click.echo(
            f"SCIM target: {base_url}/scim/v2 (tenant 'demo', role policy clarizen-one)", err=True
        )
        bar = ProgressBar()
        summary = run_cycle(engine, database_url, APP, on_progress=bar)
        bar.finish()
        print_summary(summary)
        if once:
            sys.exit(summary.exit_code)
        click.echo(
            "\nThe target keeps serving until Ctrl-C. Try:\n"
            f'  curl -s -H "Authorization: Bearer {key}" '
            f"'{base_url}/scim/v2/Users?count=3'\n"
            f'  curl -s -H "Authorization: Bearer {key}" '
            f"'{base_url}/scim/v2/Groups?excludedAttributes=members'\n"
            f"  scimitar logs '{APP}' --status skipped --database-url {database_url}"
        )
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
