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
from scimitar.provisioning.scim_client import NotFoundError, TargetError
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
) -> tuple[list[Work], list[tuple[Job, Link, str, str]], set[str]]:
    """Return (upserts, removals, in-scope group ids)."""
    scope_all = ctx.settings.scope == "all"
    may_delete = "delete" in ctx.settings.allowed_actions.get("group", ())
    upserts: list[Work] = []
    removals: list[tuple[Job, Link, str, str]] = []
    in_scope: set[str] = set()
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
            in_scope.add(source_id)
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
    return upserts, removals, in_scope


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
        if current is None:
            linked = sorted(m for m in members if m in ctx.user_links)
            extra = {"members": [{"value": ctx.user_links[m].target_id} for m in linked]}
            created = await objects.create(ctx, job, GROUP, flat, extra)
            if created is not None and linked:
                ctx.memberships(group.object_id, linked, [])
        else:
            await objects.update(ctx, job, GROUP, current, flat)

    return work


async def sync_memberships(
    ctx: CycleContext,
    group_ids: set[str],
    desired_members: dict[str, set[str]],
    groups: dict[str, DirectoryGroup],
) -> None:
    """Add and remove members so each group matches the directory (linked users only)."""
    for group_id in sorted(group_ids):
        link = ctx.group_links.get(group_id)
        if link is None:
            continue
        written = ctx.written_members.get(group_id, set())
        desired = {m for m in desired_members.get(group_id, set()) if m in ctx.user_links}
        # Members the engine wrote but no longer links were deleted with their user.
        written_live = {m for m in written if m in ctx.user_links}
        added = sorted(desired - written_live)
        removed = sorted(written_live - desired)
        stale = sorted(written - written_live)
        if stale and not ctx.dry_run:
            ctx.memberships(group_id, [], stale)
        if added or removed:
            await _patch_members(
                ctx, _job(groups.get(group_id), group_id, link), link, added, removed
            )


async def _patch_members(
    ctx: CycleContext, job: Job, link: Link, added: list[str], removed: list[str]
) -> None:
    modified = [("members", f"-{len(removed)}", f"+{len(added)}")]
    if "update" not in ctx.settings.allowed_actions.get("group", ()):
        ctx.record(
            key=job.key,
            entry=objects.log(
                ctx,
                job,
                "update",
                "skipped",
                target_id=link.target_id,
                reason="the app does not allow update for groups",
            ),
            counted="skipped",
            progress=False,
        )
        return
    if ctx.dry_run:
        ctx.record(
            key=job.key,
            entry=objects.log(
                ctx,
                job,
                "update",
                "success",
                target_id=link.target_id,
                modified=modified,
                reason=f"dry run: {len(added)} member(s) would be added and {len(removed)} removed",
            ),
            counted=_recount(ctx, job),
            progress=False,
        )
        return
    batches: list[tuple[list[dict[str, Any]], list[str], list[str]]] = []
    for begin in range(0, len(added), MEMBER_BATCH):
        chunk = added[begin : begin + MEMBER_BATCH]
        values = [{"value": ctx.user_links[m].target_id} for m in chunk]
        batches.append(([{"op": "add", "path": "members", "value": values}], chunk, []))
    for begin in range(0, len(removed), MEMBER_BATCH):
        chunk = removed[begin : begin + MEMBER_BATCH]
        operations = [
            {
                "op": "remove",
                "path": f"members[value eq {render_value(ctx.user_links[m].target_id)}]",
            }
            for m in chunk
        ]
        batches.append((operations, [], chunk))
    done_added: list[str] = []
    done_removed: list[str] = []
    try:
        # One PATCH per batch, recorded as it lands: progress survives a failure half-way.
        for operations, batch_added, batch_removed in batches:
            await ctx.client.patch("Groups", link.target_id, operations)
            done_added += batch_added
            done_removed += batch_removed
    except NotFoundError:
        ctx.unlinked("group", link.source_id)
        return
    except TargetError as error:
        ctx.memberships(link.source_id, done_added, done_removed)
        objects.fail(ctx, job, "update", error, link.target_id)
        return
    ctx.memberships(link.source_id, done_added, done_removed)
    job.step("export", "success", f"added {len(added)} and removed {len(removed)} member(s)")
    ctx.settled("group", link.source_id)
    ctx.record(
        key=job.key,
        entry=objects.log(
            ctx, job, "update", "success", target_id=link.target_id, modified=modified
        ),
        counted=_recount(ctx, job),
        progress=False,
    )


def _recount(ctx: CycleContext, job: Job) -> str:
    # A group created this cycle and then given members is still one creation.
    return "create" if ctx.outcomes.get(job.key) == "create" else "update"
