"""One provisioning cycle: users first, then groups, then references and memberships.

An *initial* cycle looks at every object; an *incremental* one reads only what the
directory changed since the watermark, plus escrowed retries. Changing an app's
mappings or scoping makes its next cycle initial again (``config_version``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from scimitar.db.engine import read_transaction, write_transaction
from scimitar.directory import store as directory
from scimitar.directory.model import DirectoryGroup, DirectoryUser
from scimitar.directory.tables import directory_users
from scimitar.provisioning.apps import App, get_app, secret_token
from scimitar.provisioning.engine import objects, state
from scimitar.provisioning.engine.context import COUNTED, CycleContext, Progress
from scimitar.provisioning.engine.groups import plan_groups
from scimitar.provisioning.engine.mapper import compile_mappings, matching_targets
from scimitar.provisioning.engine.objects import Job
from scimitar.provisioning.engine.scope import Entitlements
from scimitar.provisioning.engine.state import Link, utcnow
from scimitar.provisioning.engine.transform import MANAGER
from scimitar.provisioning.engine.users import Work, plan_users, resolve_managers, run_all
from scimitar.provisioning.logs import LogEntry, purge_old_logs
from scimitar.provisioning.mappings import ObjectType
from scimitar.provisioning.notify import SmtpSettings, send_failure_email, send_quarantine_email
from scimitar.provisioning.scim_client import ScimClient, TargetError
from scimitar.provisioning.tables import provisioning_cycles

log = logging.getLogger("scimitar.provisioning")


@dataclass
class Summary:
    """What ``scimitar sync --json`` prints, plus what the CLI needs for its exit code."""

    cycle_id: str
    type: str
    dry_run: bool
    counts: dict[str, int]
    requests: int
    duration_seconds: float
    quarantined: bool = False
    quarantine_reason: str | None = None
    failures: list[LogEntry] = field(default_factory=list)
    planned: list[LogEntry] = field(default_factory=list)
    # Requests sent, by HTTP method: a dry run shows only GETs here.
    requests_by_method: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "cycleId": self.cycle_id,
            "type": self.type,
            "dryRun": self.dry_run,
            "counts": {name: self.counts.get(name, 0) for name in COUNTED},
            "requests": self.requests,
            "durationSeconds": round(self.duration_seconds, 3),
        }

    @property
    def exit_code(self) -> int:
        if self.quarantined:
            return 3
        return 1 if self.counts.get("failure", 0) else 0


class Quarantined(Exception):
    """The app is in quarantine; ``scimitar app restart`` clears it."""


@dataclass
class Candidates:
    users: dict[str, DirectoryUser]
    user_ids: set[str]
    groups: dict[str, DirectoryGroup]
    group_ids: set[str]
    # Each group's desired members (user source ids), for the groups that matter.
    members: dict[str, set[str]]
    high_water: int
    # Provision on demand: the user and its memberships, never a group's deletion.
    on_demand: bool = False


def run_cycle(
    engine: Engine,
    database_url: str,
    app_name: str,
    *,
    dry_run: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    only_user: str | None = None,
) -> Summary:
    """Run one cycle of ``app_name`` now (blocking) and return its summary.

    ``only_user`` (a UPN) is Entra's "Provision on demand": that user alone, and
    its memberships, now; the watermark and the cycle schedule stay as they are.
    """
    app = get_app(engine, app_name)
    token = secret_token(engine, app)
    owner = state.acquire_lease(engine, app.id)
    try:
        return asyncio.run(_run(engine, app, token, dry_run, on_progress, only_user))
    finally:
        state.release_lease(engine, app.id, owner)


async def _run(
    engine: Engine,
    app: App,
    token: str,
    dry_run: bool,
    on_progress: Callable[[Progress], None] | None,
    only_user: str | None = None,
) -> Summary:
    started = time.perf_counter()
    with write_transaction(engine) as conn:
        app_state = state.load_state(conn, app.id)
    now = utcnow()
    if app_state.quarantine_until is not None and app_state.quarantine_until > now:
        raise Quarantined(
            f"{app.name} is in quarantine until {app_state.quarantine_until:%Y-%m-%d %H:%M} UTC: "
            f"{app_state.quarantine_reason}; fix the cause, then run `scimitar app restart "
            f"{app.name}`"
        )
    initial = app_state.synced_config_version != app.config_version
    settings = app.settings
    async with ScimClient(app.tenant_url, token) as client:
        with read_transaction(engine) as conn:
            entitlements = Entitlements(conn, app.id, flatten=settings.flatten_nested_groups)
            ctx = CycleContext(
                engine=engine,
                app=app,
                settings=settings,
                client=client,
                cycle_type="initial" if initial else "incremental",
                dry_run=dry_run,
                now=now,
                entitlements=entitlements,
                user_links=state.load_links(conn, app.id, "user"),
                group_links=state.load_links(conn, app.id, "group"),
                on_progress=on_progress,
                keep_entries=only_user is not None,
            )
            if only_user is not None:
                found = _one_user(conn, ctx, only_user)
            else:
                found = _candidates(conn, ctx, app_state, initial)
            ctx.written_members = state.load_memberships(conn, app.id, found.group_ids)
            # On demand is about one user: held-back deletions wait for a real cycle.
            staged = state.load_staged(conn, app.id) if only_user is None else []
        quarantine_reason = None
        try:
            await _phases(ctx, found, staged, app_state.deletes_released and only_user is None)
        except TargetError as error:
            if not error.stops_cycle:
                raise
            quarantine_reason = f"the target cannot be used: {error.detail}"
        ctx.flush()
    summary = Summary(
        ctx.cycle_id,
        ctx.cycle_type,
        dry_run,
        dict(ctx.counts),
        client.requests_sent,
        time.perf_counter() - started,
        failures=ctx.failures,
        planned=ctx.planned,
        requests_by_method=dict(client.requests_by_method),
    )
    if quarantine_reason is None and _all_failed(ctx):
        quarantine_reason = (
            f"every one of {ctx.counts['failure']} operations failed; "
            f"first: {ctx.failures[0].reason}"
        )
    if only_user is not None and not dry_run:
        _finish_on_demand(engine, ctx, app_state, quarantine_reason)
    elif not dry_run:
        _finish(engine, ctx, app_state, found.high_water, staged, quarantine_reason, summary)
    summary.quarantined = quarantine_reason is not None
    summary.quarantine_reason = quarantine_reason
    if not dry_run and app.notifies:
        _notify(app, summary)
    return summary


def _notify(app: App, summary: Summary) -> None:
    """E-mail the app's notification address when the cycle failed somewhere.

    Seed, step 5: "Send an email notification when a failure occurs". Mail
    trouble is logged by ``notify`` and never fails the cycle.
    """
    assert app.notification_email is not None
    try:
        smtp = SmtpSettings.from_env()
    except ValueError as error:
        log.warning("failure e-mail for %s not sent: %s", app.name, error)
        return
    if summary.quarantined and summary.quarantine_reason:
        send_quarantine_email(smtp, app.notification_email, app.name, summary.quarantine_reason)
    elif summary.failures:
        send_failure_email(
            smtp, app.notification_email, app.name, summary.to_json(), summary.failures
        )


def _all_failed(ctx: CycleContext) -> bool:
    done = sum(ctx.counts.get(k, 0) for k in ("create", "update", "disable", "delete"))
    return ctx.counts.get("failure", 0) >= 10 and done == 0


def _candidates(
    conn: Connection, ctx: CycleContext, app_state: state.AppState, initial: bool
) -> Candidates:
    """Load the objects this cycle must look at, and the groups' desired members."""
    high_water = directory.current_seq(conn)
    escrows = state.load_escrows(conn, ctx.app.id)
    if initial:
        users = {u.object_id: u for u in directory.iter_users(conn, include_deleted=True)}
        groups = {g.object_id: g for g in directory.iter_groups(conn)}
        user_ids = set(users) | set(ctx.user_links)
        group_ids = set(groups) | set(ctx.group_links)
    else:
        changes = directory.changes_since(conn, app_state.watermark, ctx.app.id)
        user_ids = set(changes.user_ids) | escrows.get("user", set())
        group_ids = set(changes.group_ids) | escrows.get("group", set())
        for principal_type, principal_id in changes.assignment_principals:
            if principal_type == "user":
                user_ids.add(principal_id)
            else:
                group_ids.add(principal_id)
                user_ids |= _group_users(conn, principal_id, ctx.settings.flatten_nested_groups)
        for tombstone in changes.tombstones:
            (user_ids if tombstone.object_type == "user" else group_ids).add(tombstone.object_id)
        # A user who joined or left a group changes that group's membership.
        for containing in directory.groups_containing(conn, list(user_ids)).values():
            group_ids.update(containing)
        # A user the target does not hold yet may be created now: its reports, linked
        # in earlier cycles, can name it as their manager only from this cycle on.
        if any(m.target == MANAGER for m in ctx.settings.mappings.get("user", ())):
            user_ids |= _reports(conn, [u for u in user_ids if u not in ctx.user_links])
        users = directory.users_by_ids(conn, list(user_ids))
        groups = directory.groups_by_ids(conn, list(group_ids))
    members = {
        group_id: _group_users(conn, group_id, ctx.settings.flatten_nested_groups)
        for group_id in groups
    }
    return Candidates(users, user_ids, groups, group_ids, members, high_water)


def _reports(conn: Connection, manager_ids: list[str]) -> set[str]:
    """Return the users whose manager is one of ``manager_ids``."""
    if not manager_ids:
        return set()
    wanted = set(manager_ids)
    # manager_id has no index: one pass over the users who have a manager, not one per chunk.
    rows = conn.execute(
        select(directory_users.c.object_id, directory_users.c.manager_id).where(
            directory_users.c.manager_id.is_not(None)
        )
    )
    return {object_id for object_id, manager_id in rows if manager_id in wanted}


def _one_user(conn: Connection, ctx: CycleContext, upn: str) -> Candidates:
    """Candidates for on-demand provisioning: the user, and the groups it belongs to."""
    user = directory.find_user(conn, upn)
    if user is None:
        raise LookupError(f"no user {upn!r} in the directory")
    flatten = ctx.settings.flatten_nested_groups
    containing = directory.groups_containing(conn, [user.object_id]).get(user.object_id, [])
    group_ids = set(containing)
    if flatten:
        frontier = list(containing)
        while frontier:  # every group the user reaches through nesting, cycles included
            parents = directory.groups_containing(conn, frontier)
            frontier = [g for ids in parents.values() for g in ids if g not in group_ids]
            group_ids.update(frontier)
    groups = directory.groups_by_ids(conn, list(group_ids))
    written = state.load_memberships(conn, ctx.app.id, group_ids)
    # Only this user's membership changes: the others' wait for the next cycle.
    members = {g: written.get(g, set()) | {user.object_id} for g in group_ids}
    return Candidates(
        {user.object_id: user},
        {user.object_id},
        groups,
        set(groups),
        members,
        directory.current_seq(conn),
        on_demand=True,
    )


def _group_users(conn: Connection, group_id: str, flatten: bool) -> set[str]:
    if flatten:
        return set(directory.flatten_members(conn, group_id))
    return {m for t, m in directory.members_of(conn, [group_id]).get(group_id, []) if t == "user"}


async def _phases(
    ctx: CycleContext, found: Candidates, staged: list[tuple[str, str, str]], released: bool
) -> None:
    settings = ctx.settings
    user_mappings = settings.mappings.get("user", ())
    group_mappings = settings.mappings.get("group", ())
    user_compiled = compile_mappings(user_mappings)
    group_compiled = compile_mappings(group_mappings)
    users_on = settings.object_types.get("user", True)
    groups_on = settings.object_types.get("group", True)
    user_plan = plan_users(
        ctx,
        found.users,
        found.user_ids if users_on else set(),
        user_compiled,
        matching_targets(user_mappings),
        settings.scoping_filters.get("user", []),
    )
    group_upserts, group_removals = plan_groups(
        ctx,
        found.groups,
        found.group_ids if groups_on else set(),
        group_compiled,
        matching_targets(group_mappings),
        settings.scoping_filters.get("group", []),
        found.members,
    )
    removals = user_plan.removals + ([] if found.on_demand else group_removals)
    # What the threshold held back last time is still owed: an incremental cycle would
    # not see it again. It goes with this cycle's removals (`app allow-deletes` lets
    # them all through), or is held back again with them.
    removals += _staged_removals(ctx, staged, removals, found, released)
    held = _over_threshold(ctx, removals, released)
    ctx.total = (
        sum(map(len, user_plan.managers_first))
        + len(user_plan.upserts)
        + len(user_plan.skips)
        + len(group_upserts)
        + len(removals)
    )
    await run_all(user_plan.skips)
    for level in user_plan.managers_first:
        await run_all(level)
    await run_all(user_plan.upserts)
    await resolve_managers(ctx, user_plan.managers)
    await run_all(group_upserts)
    if held:
        for job, link, action, reason in removals:
            objects.staged(ctx, job, link, action, reason)
    else:
        await run_all([_removal(ctx, *removal) for removal in removals])
    ctx.held_back = (
        [(job.object_type, job.source_id, action) for job, _l, action, _r in removals]
        if held
        else []
    )


def _removal(ctx: CycleContext, job: Job, link: Link, action: str, reason: str) -> Work:
    async def work() -> None:
        if action == "disable":
            await objects.disable(ctx, job, link, reason)
        else:
            await objects.delete(ctx, job, link, reason)

    return work


def _staged_removals(
    ctx: CycleContext,
    staged: list[tuple[str, str, str]],
    planned: list[tuple[Job, Link, str, str]],
    found: Candidates,
    released: bool,
) -> list[tuple[Job, Link, str, str]]:
    """The held-back removals still owed: not for objects this cycle has decided afresh."""
    seen = {(job.object_type, job.source_id) for job, *_rest in planned}
    decided = {("user", s) for s in found.user_ids} | {("group", s) for s in found.group_ids}
    why = "released by `app allow-deletes`" if released else "held back by an earlier cycle"
    extra = []
    for object_type, source_id, action in staged:
        kind: ObjectType = "group" if object_type == "group" else "user"
        link = ctx.links(kind).get(source_id)
        # An object back in scope since (a candidate now) is not removed after all.
        if link is None or (kind, source_id) in seen or (kind, source_id) in decided:
            continue
        display = link.written.get("userName") or link.written.get("displayName") or source_id
        extra.append((Job(kind, source_id, str(display)), link, action, why))
    return extra


def _over_threshold(ctx: CycleContext, removals: list[Any], released: bool) -> bool:
    threshold = ctx.settings.deletion_threshold
    return bool(threshold is not None and not released and len(removals) > threshold)


def _finish_on_demand(
    engine: Engine, ctx: CycleContext, app_state: state.AppState, quarantine_reason: str | None
) -> None:
    if quarantine_reason is not None:
        with write_transaction(engine) as conn:
            state.quarantine(conn, ctx.app.id, app_state, quarantine_reason)


def _finish(
    engine: Engine,
    ctx: CycleContext,
    app_state: state.AppState,
    high_water: int,
    staged: list[tuple[str, str, str]],
    quarantine_reason: str | None,
    summary: Summary,
) -> None:
    with write_transaction(engine) as conn:
        if quarantine_reason is not None:
            state.quarantine(conn, ctx.app.id, app_state, quarantine_reason)
        else:
            state.save_state(
                conn,
                ctx.app.id,
                watermark=high_water,
                synced_config_version=ctx.app.config_version,
                next_run=ctx.now + timedelta(minutes=ctx.settings.interval_minutes),
                quarantine_until=None,
                quarantine_reason=None,
                failed_cycles=0,
                deletes_released=False,
            )
            state.clear_staged(conn, ctx.app.id)
            state.stage(conn, ctx.app.id, ctx.held_back)
        conn.execute(
            provisioning_cycles.insert().values(
                id=ctx.cycle_id,
                app_id=ctx.app.id,
                type=ctx.cycle_type,
                dry_run=False,
                started=ctx.now,
                finished=utcnow(),
                summary=summary.to_json(),
            )
        )
        purge_old_logs(conn, utcnow())
