"""Provision one object: match, create, update, disable or delete it, and log it.

Each function does one object's whole story and records its outcome in the
cycle context; errors from the target become failure log entries and escrows,
except an authentication failure, which stops the cycle (the app is quarantined).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scimitar.provisioning.engine.context import CycleContext, Stopwatch
from scimitar.provisioning.engine.state import Link
from scimitar.provisioning.engine.transform import (
    build_resource,
    changed_properties,
    extract_flat,
    match_filter,
    patch_operations,
)
from scimitar.provisioning.logs import (
    LogEntry,
    ModifiedProperty,
    ProvisionedIdentity,
    ProvisioningStep,
)
from scimitar.provisioning.mappings import ObjectType
from scimitar.provisioning.scim_client import NotFoundError, Resource, TargetError
from scimitar.scim.schema import ResourceType

ENDPOINT: dict[str, Resource] = {"user": "Users", "group": "Groups"}
IDENTITY = {"user": "User", "group": "Group"}


@dataclass
class Job:
    """One object's work in this cycle, and the steps its log entry will show."""

    object_type: ObjectType
    source_id: str
    display: str | None
    source_details: dict[str, Any] = field(default_factory=dict)
    steps: list[ProvisioningStep] = field(default_factory=list)
    clock: Stopwatch = field(default_factory=Stopwatch)

    @property
    def key(self) -> tuple[str, str]:
        return (self.object_type, self.source_id)

    def step(
        self, name: str, status: str, description: str, details: dict[str, Any] | None = None
    ) -> None:
        self.steps.append(ProvisioningStep(name, status, description, details or {}))


def log(
    ctx: CycleContext,
    job: Job,
    action: str,
    status: str,
    *,
    target_id: str | None = None,
    modified: Sequence[tuple[str, Any, Any]] = (),
    error_code: str | None = None,
    reason: str | None = None,
) -> LogEntry:
    kind = IDENTITY[job.object_type]
    return LogEntry(
        cycle_id=ctx.cycle_id,
        job_id=ctx.job_id,
        object_type=job.object_type,
        action=action,
        status=status,
        source_identity=ProvisionedIdentity(
            job.source_id, job.display or "", kind, job.source_details
        ),
        target_identity=ProvisionedIdentity(target_id, job.display or "", kind)
        if target_id
        else None,
        error_code=error_code,
        reason=reason,
        provisioning_steps=list(job.steps),
        modified_properties=[ModifiedProperty.of(name, old, new) for name, old, new in modified],
        duration_in_milliseconds=job.clock.ms(),
        activity_date_time=ctx.now,
    )


def report(
    ctx: CycleContext,
    job: Job,
    action: str,
    status: str,
    *,
    counted: str,
    progress: bool = True,
    **details: Any,
) -> None:
    """Log one outcome of ``job`` and count it (``details`` go to its log entry)."""
    ctx.record(
        key=job.key,
        entry=log(ctx, job, action, status, **details),
        counted=counted,
        progress=progress,
    )


def fail(
    ctx: CycleContext, job: Job, action: str, error: TargetError, target_id: str | None = None
) -> None:
    """Record a failed target call: a failure entry, and an escrow to retry next cycle."""
    if error.stops_cycle:  # bad token or certificate: every other request would fail too
        raise error
    job.step(
        "export",
        "failure",
        f"{action} failed: {error.detail}",
        {"status": error.status, "errorCode": error.error_code},
    )
    ctx.failed(job.object_type, job.source_id, error.error_code)
    report(
        ctx,
        job,
        action,
        "failure",
        target_id=target_id,
        error_code=error.error_code,
        reason=error.detail,
        counted="failure",
    )


async def match(
    ctx: CycleContext,
    job: Job,
    resource_type: ResourceType,
    flat: dict[str, Any],
    matching: list[str],
) -> tuple[Link | None, bool]:
    """Look the object up in the target by its matching attributes, in precedence order.

    Returns (link, ok): ok is False when matching failed (duplicates or an error),
    which has then been recorded.
    """
    endpoint = ENDPOINT[job.object_type]
    for target in matching:
        value = flat.get(target)
        if value is None:
            continue
        query = match_filter(target, value)
        try:
            found = await ctx.client.find(endpoint, query)
        except TargetError as error:
            fail(ctx, job, "create", error)
            return None, False
        if len(found) > 1:
            job.step("matching", "failure", f"{len(found)} target objects match {query}")
            ctx.failed(job.object_type, job.source_id, "DuplicateTargetEntries")
            report(
                ctx,
                job,
                "other",
                "failure",
                error_code="DuplicateTargetEntries",
                reason=f"more than one object in the target matches {query}; "
                "remove the duplicates or choose a matching attribute that is unique",
                counted="failure",
            )
            return None, False
        if found:
            target_id = str(found[0]["id"])
            holder = ctx.owner(job.object_type, target_id)
            if holder is not None and holder != job.source_id:
                # Another source object owns it: one being deleted (a user re-created
                # with the same userName), or renamed away from this value. Linking it
                # twice would let that one's removal delete this one's target object.
                _duplicate_source(ctx, job, query, target_id, holder)
                return None, False
            job.step("matching", "success", f"matched target object {target_id} by {query}")
            written = extract_flat(resource_type, found[0], list(flat))
            return Link(
                job.object_type, job.source_id, target_id, "matched", "active", written
            ), True
        job.step("matching", "success", f"no target object matches {query}")
    return None, True


def _duplicate_source(ctx: CycleContext, job: Job, query: str, target_id: str, holder: str) -> None:
    job.step("matching", "failure", f"target object {target_id} matches {query}")
    ctx.failed(job.object_type, job.source_id, "DuplicateSourceEntries")
    report(
        ctx,
        job,
        "other",
        "failure",
        error_code="DuplicateSourceEntries",
        reason=f"the target object {target_id} that matches {query} is linked to another "
        f"directory object ({holder}); retried next cycle, once that object's change "
        "(a deletion or a rename) has reached the target",
        counted="failure",
    )


async def create(
    ctx: CycleContext,
    job: Job,
    resource_type: ResourceType,
    flat: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> Link | None:
    if not ctx.settings.allows(job.object_type, "create"):
        job.step("processing", "skipped", "creating objects of this type is not allowed")
        report(
            ctx,
            job,
            "create",
            "skipped",
            reason=f"the app does not allow create for {job.object_type}s",
            counted="skipped",
        )
        return None
    modified = changed_properties({}, flat)
    if ctx.dry_run:
        job.step("export", "skipped", "dry run: the object would be created")
        report(
            ctx,
            job,
            "create",
            "success",
            modified=modified,
            reason="dry run: nothing was sent",
            counted="create",
        )
        return None
    body = build_resource(resource_type, flat)
    if extra:
        body.update(extra)
    try:
        created = await ctx.client.create(ENDPOINT[job.object_type], body)
    except TargetError as error:
        fail(ctx, job, "create", error)
        return None
    link = Link(job.object_type, job.source_id, str(created["id"]), "created", "active", flat)
    ctx.linked(link)
    ctx.settled(job.object_type, job.source_id)
    job.step("export", "success", f"created target object {link.target_id}")
    report(
        ctx, job, "create", "success", target_id=link.target_id, modified=modified, counted="create"
    )
    return link


async def update(
    ctx: CycleContext,
    job: Job,
    resource_type: ResourceType,
    link: Link,
    flat: dict[str, Any],
    *,
    reactivate: bool = False,
    extra: Sequence[dict[str, Any]] = (),
    extra_modified: Sequence[tuple[str, Any, Any]] = (),
    recreate_with: dict[str, Any] | None = None,
) -> Link | None:
    """Send only what changed since the last write; an unchanged object costs nothing.

    ``extra`` operations (a group's member changes) ride in the same PATCH and
    the same log entry. A target object that has disappeared (404) is created
    again, with ``recreate_with`` in its body, as it was lost outside the engine's
    control.
    """
    old = link.written
    # A target this flow leaves out (IgnoreFlowIfNullOrEmpty fired, an on-create-only
    # mapping, a mapping since removed) keeps what was written: the engine stops
    # writing it, it does not clear it. Only a mapped null clears an attribute.
    desired = {**old, **flat}
    operations = patch_operations(old, desired)
    if reactivate and desired.get("active") is not True:
        operations.append({"op": "replace", "path": "active", "value": True})
        desired["active"] = True
    operations += extra
    if not operations:
        ctx.settled(job.object_type, job.source_id)
        ctx.record(key=job.key, entry=None, counted="unchanged")
        return link
    if not ctx.settings.allows(job.object_type, "update"):
        report(
            ctx,
            job,
            "update",
            "skipped",
            target_id=link.target_id,
            reason=f"the app does not allow update for {job.object_type}s",
            counted="skipped",
        )
        return link
    modified = [*changed_properties(old, desired), *extra_modified]
    if ctx.dry_run:
        job.step("export", "skipped", f"dry run: {len(operations)} operation(s) would be sent")
        report(
            ctx,
            job,
            "update",
            "success",
            target_id=link.target_id,
            modified=modified,
            reason="dry run: nothing was sent",
            counted="update",
        )
        return link
    try:
        await ctx.client.patch(ENDPOINT[job.object_type], link.target_id, operations)
    except NotFoundError:
        job.step(
            "export",
            "warning",
            f"target object {link.target_id} no longer exists; creating it again",
        )
        ctx.unlinked(job.object_type, job.source_id)
        return await create(ctx, job, resource_type, desired, recreate_with)
    except TargetError as error:
        fail(ctx, job, "update", error, link.target_id)
        return None
    new_link = Link(
        link.object_type, link.source_id, link.target_id, link.origin, "active", desired
    )
    ctx.linked(new_link)
    ctx.settled(job.object_type, job.source_id)
    job.step("export", "success", f"updated {len(operations)} attribute(s)")
    report(
        ctx, job, "update", "success", target_id=link.target_id, modified=modified, counted="update"
    )
    return new_link


async def disable(ctx: CycleContext, job: Job, link: Link, reason: str) -> None:
    """Set ``active`` false on an owned user that left the scope (Entra's soft delete)."""
    if ctx.dry_run:
        report(
            ctx,
            job,
            "disable",
            "success",
            target_id=link.target_id,
            reason=f"dry run: {reason}",
            counted="disable",
        )
        return
    try:
        await ctx.client.patch(
            ENDPOINT[job.object_type],
            link.target_id,
            [{"op": "replace", "path": "active", "value": False}],
        )
    except NotFoundError:
        ctx.unlinked(job.object_type, job.source_id)
        report(
            ctx,
            job,
            "disable",
            "warning",
            target_id=link.target_id,
            reason=f"{reason}; the target object was already gone",
            counted="delete",
        )
        return
    except TargetError as error:
        fail(ctx, job, "disable", error, link.target_id)
        return
    written = {**link.written, "active": False}
    ctx.linked(
        Link(link.object_type, link.source_id, link.target_id, link.origin, "disabled", written)
    )
    ctx.settled(job.object_type, job.source_id)
    job.step("export", "success", "set active to false")
    report(
        ctx,
        job,
        "disable",
        "success",
        target_id=link.target_id,
        reason=reason,
        modified=[("active", link.written.get("active", True), False)],
        counted="disable",
    )


async def delete(ctx: CycleContext, job: Job, link: Link, reason: str) -> None:
    """Delete an owned target object whose source is gone (or, for groups, out of scope)."""
    if ctx.dry_run:
        report(
            ctx,
            job,
            "delete",
            "success",
            target_id=link.target_id,
            reason=f"dry run: {reason}",
            counted="delete",
        )
        return
    try:
        await ctx.client.delete(ENDPOINT[job.object_type], link.target_id)
    except NotFoundError:
        pass  # already gone: the outcome wanted
    except TargetError as error:
        fail(ctx, job, "delete", error, link.target_id)
        return
    ctx.unlinked(job.object_type, job.source_id)
    ctx.settled(job.object_type, job.source_id)
    job.step("export", "success", f"deleted target object {link.target_id}")
    report(ctx, job, "delete", "success", target_id=link.target_id, reason=reason, counted="delete")


def skipped(ctx: CycleContext, job: Job, reason: str, error_code: str | None = None) -> None:
    job.step("scoping", "skipped", reason)
    ctx.settled(job.object_type, job.source_id)
    report(ctx, job, "other", "skipped", error_code=error_code, reason=reason, counted="skipped")


def staged(ctx: CycleContext, job: Job, link: Link, action: str, reason: str) -> None:
    job.step("processing", "skipped", f"held back: {reason}")
    report(
        ctx,
        job,
        "stagedDelete",
        "skipped",
        target_id=link.target_id,
        reason=f"{action} held back by the accidental-deletion threshold ({reason}); "
        f"run `scimitar app allow-deletes {ctx.app.name}` to let it happen",
        counted="stagedDelete",
    )
