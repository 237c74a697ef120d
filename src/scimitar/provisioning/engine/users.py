"""The users phase: decide each candidate user's fate, then carry it out concurrently.

Deciding first lets the accidental-deletion guard see every disable and delete of
the cycle before any is sent; carrying out runs through the client's bounded
concurrency, so a 10,000-user cycle keeps several requests in flight.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from scimitar.directory.model import DirectoryUser
from scimitar.provisioning.engine import objects
from scimitar.provisioning.engine.context import CycleContext
from scimitar.provisioning.engine.mapper import CompiledMapping, context, map_object
from scimitar.provisioning.engine.objects import Job
from scimitar.provisioning.engine.scope import Decision, decide_user
from scimitar.provisioning.engine.state import Link
from scimitar.provisioning.engine.transform import MANAGER, patch_operations
from scimitar.provisioning.scim_client import NotFoundError, TargetError
from scimitar.provisioning.scoping import ScopingFilter
from scimitar.scim.resources import USER

Work = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class UserPlan:
    """The users phase's decisions: work to run, and deletions the guard may hold."""

    upserts: list[Work]
    # Users who manage other candidates go first, top of the hierarchy first (one
    # list per level), so reports can name their manager in the request that creates
    # them rather than in a PATCH after it.
    managers_first: list[list[Work]]
    removals: list[tuple[Job, Link, str, str]]  # (job, link, "disable"|"delete", reason)
    skips: list[Work]
    managers: dict[str, str | None]  # in-scope user -> its manager's source id


def _job(user: DirectoryUser | None, source_id: str, link: Link | None) -> Job:
    if user is None:
        display = (link.written.get("userName") if link else None) or source_id
        return Job("user", source_id, str(display))
    return Job(
        "user", source_id, user.user_principal_name, {"userPrincipalName": user.user_principal_name}
    )


def plan_users(
    ctx: CycleContext,
    users: dict[str, DirectoryUser],
    candidates: set[str],
    compiled: Sequence[CompiledMapping],
    matching: list[str],
    filters: Sequence[ScopingFilter],
) -> UserPlan:
    scope_all = ctx.settings.scope == "all"
    may_delete = "delete" in ctx.settings.allowed_actions.get("user", ())
    maps_manager = any(m.target == MANAGER for m in compiled)
    plan = UserPlan([], [], [], [], {})
    manager_ids = {users[c].manager_id for c in candidates if c in users} if maps_manager else set()
    for source_id in sorted(candidates):
        user = users.get(source_id)
        link = ctx.user_links.get(source_id)
        job = _job(user, source_id, link)
        if user is None:
            if link is not None:
                job.step("import", "success", "the user no longer exists in the directory")
                if may_delete:
                    plan.removals.append(
                        (job, link, "delete", "the user was deleted from the directory")
                    )
                    continue
            ctx.settled("user", source_id)  # nothing owed: an escrowed retry ends here
            continue
        job.step("import", "success", f"read {user.user_principal_name} from the directory")
        decision = decide_user(user, ctx.entitlements, scope_all=scope_all, filters=filters)
        if decision.in_scope:
            job.step(
                "scoping",
                "success",
                "in scope"
                + (f" with role(s) {', '.join(decision.roles)}" if decision.roles else ""),
            )
            if maps_manager:
                plan.managers[source_id] = user.manager_id
            work = _upsert(ctx, job, user, link, decision, compiled, matching)
            if source_id in manager_ids:
                level = _level(users, manager_ids, source_id)
                while len(plan.managers_first) <= level:
                    plan.managers_first.append([])
                plan.managers_first[level].append(work)
            else:
                plan.upserts.append(work)
        elif link is not None and link.state == "active":
            if ctx.settings.skip_out_of_scope_deletions or not may_delete:
                why = (
                    "skip out-of-scope deletions is on"
                    if may_delete
                    else "the app does not allow delete for users"
                )
                plan.skips.append(_skip(ctx, job, f"{decision.reason}; left as is: {why}"))
            else:
                job.step("scoping", "success", f"out of scope: {decision.reason}")
                plan.removals.append((job, link, "disable", decision.reason))
        elif link is None and decision.notable:
            plan.skips.append(_skip(ctx, job, decision.reason, decision.error_code))
        else:
            ctx.settled("user", source_id)  # nothing owed: an escrowed retry ends here
    return plan


def _level(users: dict[str, DirectoryUser], manager_ids: set[str | None], source_id: str) -> int:
    """Count the managers above ``source_id`` that this cycle also handles (cycles end it)."""
    seen = {source_id}
    level = 0
    above = users[source_id].manager_id
    while above in manager_ids and above in users and above not in seen:
        seen.add(above)
        level += 1
        above = users[above].manager_id
    return level


def _manager_reference(
    ctx: CycleContext, user: DirectoryUser, link: Link | None, flat: dict[str, Any]
) -> None:
    """Point ``manager`` at the manager's target id when it is known now.

    Otherwise the value last written stays as it is, and ``resolve_managers``
    settles it after every user of the cycle has been linked.
    """
    if MANAGER not in flat:
        return
    manager = ctx.user_links.get(user.manager_id) if user.manager_id else None
    if manager is not None:
        flat[MANAGER] = manager.target_id
    elif user.manager_id is None:
        flat[MANAGER] = None
    elif link is not None and MANAGER in link.written:
        flat[MANAGER] = link.written[MANAGER]
    else:
        del flat[MANAGER]


def _skip(ctx: CycleContext, job: Job, reason: str, error_code: str | None = None) -> Work:
    async def work() -> None:
        objects.skipped(ctx, job, reason, error_code)

    return work


def _upsert(
    ctx: CycleContext,
    job: Job,
    user: DirectoryUser,
    link: Link | None,
    decision: Decision,
    compiled: Sequence[CompiledMapping],
    matching: list[str],
) -> Work:
    async def work() -> None:
        evaluation = context(
            user.attributes, decision.roles, soft_deleted=False, now=ctx.now, random=ctx.random
        )
        current = link
        try:
            flat = map_object(USER, compiled, evaluation, creating=current is None)
        except ValueError as error:  # an expression failed on this user's values
            job.step("processing", "failure", str(error))
            ctx.failed("user", user.object_id, "ExpressionFailure")
            objects.report(
                ctx,
                job,
                "other",
                "failure",
                error_code="ExpressionFailure",
                reason=str(error),
                counted="failure",
            )
            return
        _manager_reference(ctx, user, current, flat)
        if current is None:
            current, ok = await objects.match(ctx, job, USER, flat, matching)
            if not ok:
                return
            if current is not None:
                ctx.linked(current)
        if current is None:
            await objects.create(ctx, job, USER, flat)
        else:
            await objects.update(
                ctx, job, USER, current, flat, reactivate=current.state == "disabled"
            )

    return work


async def run_all(works: Sequence[Work]) -> None:
    """Run object work concurrently; the client's semaphore bounds requests in flight.

    The first error that escapes an object (one that stops the cycle, or a bug)
    cancels the rest and is raised as itself, not wrapped in an ExceptionGroup.
    """
    try:
        async with asyncio.TaskGroup() as group:
            for work in works:
                group.create_task(work())
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None


async def resolve_managers(ctx: CycleContext, managers: dict[str, str | None]) -> None:
    """Point each user's ``manager`` at its manager's target id, once both exist."""
    works: list[Work] = []
    for source_id, manager_id in sorted(managers.items()):
        link = ctx.user_links.get(source_id)
        if link is None:
            continue
        manager_link = ctx.user_links.get(manager_id) if manager_id else None
        desired = manager_link.target_id if manager_link else None
        if link.written.get(MANAGER) == desired:
            continue
        job = Job("user", source_id, str(link.written.get("userName") or source_id))
        job.step(
            "referenceResolution",
            "success",
            f"manager resolves to target object {desired}"
            if desired
            else "the manager is not provisioned: manager cleared",
        )
        works.append(functools.partial(_set_manager, ctx, job, link, desired))
    await run_all(works)


async def _set_manager(ctx: CycleContext, job: Job, link: Link, desired: str | None) -> None:
    old = link.written.get(MANAGER)
    modified = [("manager", old, desired)]
    if ctx.dry_run:
        objects.report(
            ctx,
            job,
            "update",
            "success",
            target_id=link.target_id,
            modified=modified,
            reason="dry run: nothing was sent",
            counted="update",
            progress=False,
        )
        return
    operations: list[dict[str, Any]] = patch_operations(
        {MANAGER: old} if old else {}, {MANAGER: desired}
    )
    try:
        await ctx.client.patch("Users", link.target_id, operations)
    except NotFoundError:
        ctx.unlinked("user", job.source_id)
        return
    except TargetError as error:
        objects.fail(ctx, job, "update", error, link.target_id)
        return
    written = {**link.written, MANAGER: desired}
    if desired is None:
        written.pop(MANAGER)
    ctx.linked(
        Link(link.object_type, link.source_id, link.target_id, link.origin, link.state, written)
    )
    counted = "create" if ctx.outcomes.get(job.key) == "create" else "update"
    objects.report(
        ctx,
        job,
        "update",
        "success",
        target_id=link.target_id,
        modified=modified,
        counted=counted,
        progress=False,
    )
