"""The groups phase: groups themselves, then their memberships, in batches.

A new group is created with its members in the POST body (one request instead
of one per member); after that, memberships are reconciled against what the
engine last wrote, so a change of one member sends one small PATCH.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scimitar.directory.model import DirectoryGroup
from scimitar.provisioning.engine import objects
from scimitar.provisioning.engine.context import CycleContext
from scimitar.provisioning.engine.mapper import CompiledMapping, context, map_object
from scimitar.provisioning.engine.objects import Job
from scimitar.provisioning.engine.scope import decide_group
from scimitar.provisioning.engine.state import Link
from scimitar.provisioning.engine.users import Work
from scimitar.provisioning.scim_client import TargetError
from scimitar.provisioning.scoping import ScopingFilter
from scimitar.scim.filter import render_value
from scimitar.scim.resources import GROUP

# Members per PATCH request: large enough that a 10,000-member change is 20
# requests, small enough to stay far below any server's body limit.
MEMBER_BATCH = 500


def _job(group: DirectoryGroup | None, source_id: str, link: Link | None) -> Job:
    if group is None:
        display = (link.written.get("displayName") if link else None) or source_id
        return Job("group", source_id, str(display))
    return Job("group", source_id, group.display_name)


def plan_groups(
    ctx: CycleContext,
    groups: dict[str, DirectoryGroup],
    candidates: set[str],
    compiled: Sequence[CompiledMapping],
    matching: list[str],
    filters: Sequence[ScopingFilter],
    desired_members: dict[str, set[str]],
) -> tuple[list[Work], list[tuple[Job, Link, str, str]]]:
    """Return (upserts, removals)."""
    scope_all = ctx.settings.scope == "all"
    may_delete = "delete" in ctx.settings.allowed_actions.get("group", ())
    upserts: list[Work] = []
    removals: list[tuple[Job, Link, str, str]] = []
    for source_id in sorted(candidates):
        group = groups.get(source_id)
        link = ctx.group_links.get(source_id)
        job = _job(group, source_id, link)
        if group is None:
            if link is not None and may_delete:
                removals.append((job, link, "delete", "the group was deleted from the directory"))
            else:
                ctx.settled("group", source_id)  # nothing owed: an escrowed retry ends here
            continue
        decision = decide_group(group, ctx.entitlements, scope_all=scope_all, filters=filters)
        if decision.in_scope:
            job.step("scoping", "success", "in scope")
            upserts.append(
                _upsert(
                    ctx, job, group, link, compiled, matching, desired_members.get(source_id, set())
                )
            )
        elif link is not None and may_delete and not ctx.settings.skip_out_of_scope_deletions:
            job.step("scoping", "success", f"out of scope: {decision.reason}")
            removals.append((job, link, "delete", decision.reason))
        else:
            ctx.settled("group", source_id)  # nothing owed: an escrowed retry ends here
    return upserts, removals


def _upsert(
    ctx: CycleContext,
    job: Job,
    group: DirectoryGroup,
    link: Link | None,
    compiled: Sequence[CompiledMapping],
    matching: list[str],
    members: set[str],
) -> Work:
    async def work() -> None:
        evaluation = context(
            group.attributes, (), soft_deleted=False, now=ctx.now, random=ctx.random
        )
        current = link
        flat = map_object(GROUP, compiled, evaluation, creating=current is None)
        if current is None:
            current, ok = await objects.match(ctx, job, GROUP, flat, matching)
            if not ok:
                return
            if current is not None:
                ctx.linked(current)
        # Users are all linked by now (they go first), so members are known.
        desired = sorted(m for m in members if m in ctx.user_links)
        body_members = {"members": [{"value": ctx.user_links[m].target_id} for m in desired]}
        if current is None:
            created = await objects.create(ctx, job, GROUP, flat, body_members)
            if created is not None and desired:
                ctx.memberships(group.object_id, desired, [])
            return
        await _update(ctx, job, group.object_id, current, flat, desired, body_members)

    return work


async def _update(
    ctx: CycleContext,
    job: Job,
    group_id: str,
    link: Link,
    flat: dict[str, Any],
    desired: list[str],
    body_members: dict[str, Any],
) -> None:
    """Update a group's attributes and members in one PATCH (more only for big changes).

    One request and one log entry per group and cycle, as Entra logs it; member
    changes beyond ``MEMBER_BATCH`` follow in further PATCHes of that size.
    """
    written = ctx.written_members.get(group_id, set())
    # Members the engine wrote but no longer links were deleted with their user.
    written_live = {m for m in written if m in ctx.user_links}
    stale = sorted(written - written_live)
    if stale and not ctx.dry_run:
        ctx.memberships(group_id, [], stale)
    added = sorted(set(desired) - written_live)
    removed = sorted(written_live - set(desired))
    batches = _member_batches(ctx, added, removed)
    first_operations, first_added, first_removed = batches[0] if batches else ([], [], [])
    changed = [("members", f"-{len(removed)}", f"+{len(added)}")] if batches else []
    updated = await objects.update(
        ctx,
        job,
        GROUP,
        link,
        flat,
        extra=first_operations,
        extra_modified=changed,
        recreate_with=body_members,
    )
    if updated is None or updated is link:  # failed, unchanged, skipped or a dry run
        return
    if updated.target_id != link.target_id:  # re-created, with every member in its body
        ctx.memberships(group_id, desired, sorted(written_live - set(desired)))
        return
    ctx.memberships(group_id, first_added, first_removed)
    for operations, batch_added, batch_removed in batches[1:]:
        try:
            await ctx.client.patch("Groups", link.target_id, operations)
        except TargetError as error:
            objects.fail(ctx, job, "update", error, link.target_id)
            return
        # Recorded as each batch lands: progress survives a failure half-way.
        ctx.memberships(group_id, batch_added, batch_removed)


def _member_batches(
    ctx: CycleContext, added: list[str], removed: list[str]
) -> list[tuple[list[dict[str, Any]], list[str], list[str]]]:
    """PATCH operations for member changes, at most ``MEMBER_BATCH`` members per request."""
    changes = [("add", m) for m in added] + [("remove", m) for m in removed]
    batches: list[tuple[list[dict[str, Any]], list[str], list[str]]] = []
    for begin in range(0, len(changes), MEMBER_BATCH):
        chunk = changes[begin : begin + MEMBER_BATCH]
        adds = [m for kind, m in chunk if kind == "add"]
        removes = [m for kind, m in chunk if kind == "remove"]
        operations: list[dict[str, Any]] = []
        if adds:
            values = [{"value": ctx.user_links[m].target_id} for m in adds]
            operations.append({"op": "add", "path": "members", "value": values})
        operations += [
            {
                "op": "remove",
                "path": f"members[value eq {render_value(ctx.user_links[m].target_id)}]",
            }
            for m in removes
        ]
        batches.append((operations, adds, removes))
    return batches
