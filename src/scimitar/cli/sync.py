"""``scimitar sync`` and ``scimitar provision``: run provisioning now."""

from __future__ import annotations

import json
import sys
import time

import click

from scimitar.cli.options import database_option, open_database
from scimitar.provisioning.engine.context import Progress
from scimitar.provisioning.engine.cycle import Quarantined, Summary, run_cycle
from scimitar.provisioning.engine.state import CycleBusy

BAR_WIDTH = 30


class ProgressBar:
    """One line on stderr, redrawn at most ten times a second: done / in scope, by action."""

    def __init__(self) -> None:
        self.last = 0.0
        self.enabled = sys.stderr.isatty()
        self.latest: Progress | None = None

    def __call__(self, progress: Progress, *, final: bool = False) -> None:
        self.latest = progress
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 0.1):
            return
        self.last = now
        total = max(progress.total, 1)
        filled = int(BAR_WIDTH * min(progress.done, total) / total)
        counts = "  ".join(f"{k} {v}" for k, v in progress.counts.items() if v)
        line = (
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] "
            f"{progress.done}/{progress.total}  {counts}"
        )
        click.echo(line.ljust(100), err=True, nl=final)

    def finish(self) -> None:
        if self.latest is not None:
            self(self.latest, final=True)


def print_summary(summary: Summary) -> None:
    counts = summary.to_json()["counts"]
    shown = ", ".join(f"{name} {count}" for name, count in counts.items())
    kind = "dry run of an " if summary.dry_run else ""
    click.echo(f"{kind}{summary.type} cycle {summary.cycle_id}: {shown}")
    click.echo(f"{summary.requests} request(s) to the target in {summary.duration_seconds:.2f} s")
    for entry in summary.failures[:10]:
        who = entry.source_identity.label()
        click.echo(f"  failed: {entry.object_type} {who}: {entry.error_code}: {entry.reason}")
    if len(summary.failures) > 10:
        click.echo(f"  … and {len(summary.failures) - 10} more; see `scimitar logs`")
    if summary.quarantined:
        click.echo(f"the app is now in quarantine: {summary.quarantine_reason}", err=True)


def print_plan(summary: Summary) -> None:
    for entry in summary.planned:
        who = entry.source_identity.label()
        changes = ", ".join(p.display_name for p in entry.modified_properties)
        detail = f" ({changes})" if changes and entry.action in ("create", "update") else ""
        reason = f": {entry.reason}" if entry.reason and entry.status != "success" else ""
        click.echo(
            f"{entry.action:12} {entry.status:8} {entry.object_type:5} {who}{detail}{reason}"
        )


@click.command()
@click.argument("name")
@click.option("--dry-run", is_flag=True, help="Print the plan; send nothing that writes.")
@click.option("--json", "as_json", is_flag=True, help="Print only the summary, as JSON.")
@database_option
def sync(name: str, dry_run: bool, as_json: bool, database_url: str) -> None:
    """Run one provisioning cycle of app NAME now, with a progress bar.

    Exit status: 0 when nothing failed, 1 when something failed, 3 when the app is
    in quarantine.
    """
    engine = open_database(database_url)
    bar = ProgressBar() if not as_json else None
    try:
        summary = run_cycle(engine, database_url, name, dry_run=dry_run, on_progress=bar)
    except Quarantined as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(3)
    except CycleBusy as error:
        raise click.ClickException(str(error)) from error
    if bar is not None:
        bar.finish()
    if as_json:
        click.echo(json.dumps(summary.to_json()))
    else:
        if dry_run:
            print_plan(summary)
        print_summary(summary)
    sys.exit(summary.exit_code)


@click.command()
@click.argument("name")
@click.option("--user", "upn", required=True, metavar="UPN", help="The user to provision.")
@database_option
def provision(name: str, upn: str, database_url: str) -> None:
    """Provision one user of app NAME now, printing each step (Entra's "Provision on demand").

    The steps are Entra's: import from the directory, scoping, matching in the
    target, the action, and its result; then the user's group memberships.
    """
    engine = open_database(database_url)
    try:
        summary = run_cycle(engine, database_url, name, only_user=upn)
    except Quarantined as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(3)
    except (CycleBusy, LookupError) as error:
        raise click.ClickException(str(error)) from error
    if not summary.planned:
        click.echo(f"{upn}: nothing to do (not in scope and never provisioned, or unchanged)")
    for entry in summary.planned:
        click.echo(
            f"{entry.object_type} {entry.source_identity.label()}: {entry.action} {entry.status}"
        )
        for number, step in enumerate(entry.provisioning_steps, 1):
            click.echo(
                f"  {number}. {step.provisioning_step_type}: {step.status} - {step.description}"
            )
        if entry.reason:
            click.echo(
                f"  result: {entry.error_code + ': ' if entry.error_code else ''}{entry.reason}"
            )
        for prop in entry.modified_properties:
            click.echo(f"  {prop.display_name}: {prop.old_value!r} -> {prop.new_value!r}")
    sys.exit(summary.exit_code)
